package search

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// matchEntries are three entries that the queries of TestMatch tell apart.
var matchEntries = []struct {
	name  string
	entry storage.Entry
}{
	{"err", storage.Entry{
		ID:      storage.ID{Nanos: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).UnixNano(), Seq: 7},
		Time:    time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		Level:   storage.LevelError,
		Source:  "api",
		Message: "Upstream timeout after 30s: connection reset by peer 10.0.0.1",
		Tags:    []string{"prod", "eu"},
		Fields: []storage.Field{
			{Name: "host", Value: storage.String("web-1")},
			{Name: "status", Value: storage.Int(504)},
			{Name: "latency", Value: storage.Float(0.5)},
			{Name: "path", Value: storage.String("/api/users")},
			{Name: "ok", Value: storage.Bool(true)},
			{Name: "big", Value: storage.Int(9007199254740993)}, // 2^53+1: not a float64
		},
	}},
	{"info", storage.Entry{
		ID:      storage.ID{Nanos: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC).UnixNano(), Seq: 3},
		Time:    time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC),
		Level:   storage.LevelInfo,
		Source:  "auth",
		Message: "User Alice logged in from web-70",
		Fields: []storage.Field{
			{Name: "host", Value: storage.String("web-70")},
			{Name: "status", Value: storage.String("404")},
			{Name: "latency_ms", Value: storage.Int(12)},
			{Name: "path", Value: storage.String("/login")},
			{Name: "id", Value: storage.String("req-42")}, // a client's field named like the entry id
		},
	}},
	{"warn", storage.Entry{
		ID:      storage.ID{Nanos: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC).UnixNano(), Seq: 9},
		Time:    time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Level:   storage.LevelWarn,
		Source:  "api",
		Message: "slow query took 1.5s timeouts=3 été",
		Tags:    []string{"test"},
		Fields: []storage.Field{
			{Name: "status", Value: storage.Int(200)},
			{Name: "latency_ms", Value: storage.Float(25.5)},
			{Name: "ratio", Value: storage.Float(math.NaN())},
		},
	}},
}

func TestMatch(t *testing.T) {
	errID := matchEntries[0].entry.ID.String()
	tests := []struct {
		q    string
		want string // names of the matching entries, space-separated
	}{
		// fields.NAME: the client's field, also one named like the entry's own.
		{"fields.id:req-42", "info"},
		{"fields.id:*", "info"},
		{"fields.id:req*", "info"},
		{"fields.host:web-1", "err"},
		{"fields.status>=400", "err"},
		{"fields.level:*", ""},
		// Words, phrases and prefixes on message tokens.
		{"", "err info warn"},
		{"*", "err info warn"},
		{"-*", ""},
		{"timeout", "err"}, // not "timeouts"
		{"TIMEOUT", "err"},
		{"alice", "info"},
		{"time*", "err warn"},
		{"TIME*", "err warn"},
		{"timeouts*", "warn"},
		{"ÉTÉ", "warn"},
		{`"connection reset"`, "err"},
		{`"reset connection"`, ""},
		{`"connection peer"`, ""},
		{"10.0.0.1", "err"},
		{"10.0.0", "err"},
		{"0.0.10", ""},
		{"web-70", "info"},
		{"web-7", ""},
		{"message:timeout", "err"},
		{`message:"logged in"`, "info"},
		{"message:log*", "info"},
		{"message:*", "err info warn"},
		{"and", ""},

		// field:value is exact; numbers compare as numbers.
		{"host:web-70", "info"},
		{"host:web-7", ""},
		{"host:WEB-70", ""},
		{`host:"web-70"`, "info"},
		{"host:web*", "err info"},
		{`host:"web-7"*`, "info"},
		{"host:*", "err info"},
		{"-host:*", "warn"},
		{"status:404", "info"},
		{"status:504", "err"},
		{"status:504.0", "err"},
		{"status:5*", "err"},
		{"latency:0.5", "err"},
		{"latency:0.50", "err"},
		{"latency:.5", "err"},
		{"big:9007199254740993", "err"},
		{"big:9007199254740992", ""},
		{"big>9007199254740992", "err"},
		{"ok:true", "err"},
		{"ok:True", ""},
		{"ok:1", ""},
		{"nosuch:x", ""},
		{"-nosuch:x", "err info warn"},
		{"nosuch:*", ""},

		// Comparisons.
		{"status>=500", "err"}, // info's status is the string "404"
		{"status:>=500", "err"},
		{"status<300", "warn"},
		{"status>200", "err"},
		{"status>=200", "err warn"},
		{"status<=200", "warn"},
		{"status>199.5", "err warn"},
		{"latency_ms<20", "info"},
		{"latency_ms>12", "warn"},
		{"latency_ms>0", "info warn"},
		{"ratio>0", ""}, // NaN
		{"ratio<0", ""},
		{"ratio:*", "warn"},
		{"path>=/api", "err info"},
		{"path</b", "err"},
		{"path>=5", ""},    // a string field against a number
		{"status>abc", ""}, // a number field against a string
		{"ok>false", ""},
		{"nosuch>1", ""},

		// Level and severity.
		{"level:error", "err"},
		{"level:ERR", "err"},
		{"level:warning", "warn"},
		{"level>=warn", "err warn"},
		{"level>warn", "err"},
		{"level<info", ""},
		{"level<=info", "info"},
		{"level:e*", "err"},
		{"level:*", "err info warn"},
		{"severity>=13", "err warn"},
		{"severity:17", "err"},
		{"severity:14", ""},
		{"severity>14", "err"},
		{"severity<9.5", "info"},

		// Source, tags, time, id.
		{"source:api", "err warn"},
		{"source:API", ""},
		{"source:a*", "err info warn"},
		{"source>api", "info"},
		{"source>1", ""},
		{"tag:prod", "err"},
		{"tags:eu", "err"},
		{"tag:*", "err warn"},
		{"-tag:*", "info"},
		{"tag:te*", "warn"},
		{"tag>p", "err warn"},
		{"timestamp>=2026-11-26T10:00:00Z", "err warn"},
		{"time<2026-11-26T10:00:00Z", "info"},
		{"timestamp:2026-11-26T10:00:00Z", "err"},
		{"timestamp:2026-11-26T11:00:00+01:00", "err"},
		{"timestamp:2026-11-26*", "err info"},
		{"timestamp>=2026-11-27", "warn"},
		{"id:" + errID, "err"},
		{"id:" + strings.ToLower(errID), "err"},
		{"id>" + errID, "warn"},
		{"id<=" + errID, "err info"},
		{"id:" + errID[:10] + "*", "err"},

		// AND, OR, NOT and their precedence.
		{"source:api tag:test", "warn"},
		{"source:api AND tag:test", "warn"},
		{"source:auth OR tag:test", "info warn"},
		{"source:auth level:error OR level:warn", "warn"},
		{"source:auth (level:error OR level:warn)", ""},
		{"level:error OR level:info source:auth", "err info"},
		{"(level:error OR level:info) source:api", "err"},
		{"source:api level:info OR level:warn", "warn"},
		{"level:info OR level:warn AND source:api", "info warn"},
		{"NOT source:api level:info", "info"},
		{"NOT (source:api level:warn)", "err info"},
		{"-source:api OR level:warn", "info warn"},
		{"NOT source:api OR level:warn", "info warn"},
		{"NOT NOT source:auth", "info"},
		{"--source:auth", "info"},
		{"-(timeout OR alice)", "warn"},
		{"timeout OR alice", "err info"},
		{"timeout alice", ""},
		{`level>=warn (source:api OR source:auth) "connection reset" -tag:test`, "err"},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			n, err := Parse(tt.q)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.q, err)
			}
			var got []string
			for _, me := range matchEntries {
				if Match(n, &me.entry) {
					got = append(got, me.name)
				}
			}
			want := strings.Fields(tt.want)
			if !slices.Equal(got, want) {
				t.Errorf("%q (%s) matches %v, want %v", tt.q, tree(n), got, want)
			}
		})
	}
}

// TestMatchManualNodes covers nodes the parser does not build but a planner
// might: empty And and Or, and message fields in field nodes.
func TestMatchManualNodes(t *testing.T) {
	e := &matchEntries[0].entry
	tests := []struct {
		name string
		n    Node
		want bool
	}{
		{"empty and", &And{}, true},
		{"empty or", &Or{}, false},
		{"nested and", &And{Nodes: []Node{&And{Nodes: []Node{&Word{Token: "timeout"}}}}}, true},
		{"message equal", &Equal{Field: FieldMessage, Value: Literal{Text: e.Message}}, false},
		{"message compare", &Compare{Field: FieldMessage, Op: OpGreater, Value: Literal{Text: ""}}, false},
		{"message value prefix", &ValuePrefix{Field: FieldMessage, Prefix: "Up"}, false},
		{"empty phrase", &Phrase{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.n, e); got != tt.want {
				t.Errorf("Match(%s) = %v, want %v", tree(tt.n), got, tt.want)
			}
		})
	}
}
