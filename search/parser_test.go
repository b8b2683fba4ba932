package search

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logengine/logengine/storage"
)

// tree prints a node fully bracketed, with the types of literals, so that
// tests see the shape the canonical String leaves implicit.
func tree(n Node) string {
	lit := func(l Literal) string {
		s := fmt.Sprintf("%q", l.Text)
		switch {
		case l.IsInt:
			s += " int"
		case l.IsNumber:
			s += " num"
		}
		if !l.Time.IsZero() {
			s += " time"
		}
		return s
	}
	list := func(name string, nodes []Node) string {
		parts := make([]string, len(nodes))
		for i, c := range nodes {
			parts[i] = tree(c)
		}
		return name + "(" + strings.Join(parts, ", ") + ")"
	}
	switch n := n.(type) {
	case *MatchAll:
		return "all"
	case *Word:
		return "word(" + n.Token + ")"
	case *Phrase:
		return "phrase(" + strings.Join(n.Tokens, " ") + ")"
	case *Prefix:
		return "prefix(" + n.Prefix + ")"
	case *Exists:
		return "exists(" + n.Field + ")"
	case *Equal:
		return "eq(" + n.Field + " " + lit(n.Value) + ")"
	case *ValuePrefix:
		return fmt.Sprintf("vprefix(%s %q)", n.Field, n.Prefix)
	case *Compare:
		return "cmp(" + n.Field + " " + n.Op.String() + " " + lit(n.Value) + ")"
	case *And:
		return list("and", n.Nodes)
	case *Or:
		return list("or", n.Nodes)
	case *Not:
		return "not(" + tree(n.Node) + ")"
	}
	return fmt.Sprintf("?%T", n)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		q     string
		tree  string
		canon string // String() of the result; empty means q itself
	}{
		{"empty", "", "all", "*"},
		{"blank", " \t\n", "all", "*"},
		{"star", "*", "all", ""},
		{"word", "timeout", "word(timeout)", ""},
		{"word is lowered", "TimeOut", "word(timeout)", "timeout"},
		{"unicode word", "ÉTÉ", "word(été)", "été"},
		{"prefix", "time*", "prefix(time)", ""},
		{"prefix is lowered", "Time*", "prefix(time)", "time*"},
		{"phrase", `"connection reset"`, "phrase(connection reset)", ""},
		{"phrase is tokenized", `"Connection  RESET!"`, "phrase(connection reset)", `"connection reset"`},
		{"one-token phrase is a word", `"Timeout"`, "word(timeout)", "timeout"},
		{"ip is a phrase", "10.0.0.1", "phrase(10 0 0 1)", `"10 0 0 1"`},
		{"hyphenated word is a phrase", "web-1", "phrase(web 1)", `"web 1"`},
		{"time-like word is a phrase", "10:30", "phrase(10 30)", `"10 30"`},
		{"escaped quotes", `"say \"hi\" now"`, "phrase(say hi now)", `"say hi now"`},
		{"quoted keyword is a word", `"AND"`, "word(and)", "and"},
		{"lower-case and is a word", "a and b", "and(word(a), word(and), word(b))", ""},

		{"implicit and", "a b", "and(word(a), word(b))", ""},
		{"explicit and", "a AND b", "and(word(a), word(b))", "a b"},
		{"or", "a OR b", "or(word(a), word(b))", ""},
		{"and binds tighter than or", "a b OR c", "or(and(word(a), word(b)), word(c))", ""},
		{"and binds tighter than or, right", "a OR b c", "or(word(a), and(word(b), word(c)))", ""},
		{"written and binds tighter than or", "a OR b AND c", "or(word(a), and(word(b), word(c)))", "a OR b c"},
		{"not binds tighter than and", "NOT a b", "and(not(word(a)), word(b))", "-a b"},
		{"not binds tighter than or", "NOT a OR b", "or(not(word(a)), word(b))", "-a OR b"},
		{"minus", "-a b", "and(not(word(a)), word(b))", ""},
		{"all three", "a AND -b OR NOT c", "or(and(word(a), not(word(b))), not(word(c)))", "a -b OR -c"},
		{"parentheses", "(a OR b) c", "and(or(word(a), word(b)), word(c))", ""},
		{"negated group", "-(a OR b) c", "and(not(or(word(a), word(b))), word(c))", ""},
		{"NOT group", "NOT (a b)", "not(and(word(a), word(b)))", "-(a b)"},
		{"NOT directly before (", "NOT(a)", "not(word(a))", "-a"},
		{"and is flattened", "(a b) c", "and(word(a), word(b), word(c))", "a b c"},
		{"or is flattened", "a OR (b OR c)", "or(word(a), word(b), word(c))", "a OR b OR c"},
		{"redundant parentheses", "((a))", "word(a)", "a"},
		{"parentheses without spaces", "(a)OR(b)", "or(word(a), word(b))", "a OR b"},
		{"double negation", "NOT NOT a", "not(not(word(a)))", "--a"},
		{"negated phrase", `-"connection reset"`, "not(phrase(connection reset))", ""},
		{"negated all", "-*", "not(all)", ""},
		{"all and a word", "* a", "and(all, word(a))", ""},

		{"level", "level:error", `eq(level "error" int)`, ""},
		{"level any case", "level:ERROR", `eq(level "error" int)`, "level:error"},
		{"level alias warning", "level:warning", `eq(level "warn" int)`, "level:warn"},
		{"level alias err", "level:err", `eq(level "error" int)`, "level:error"},
		{"level alias critical", "level:critical", `eq(level "fatal" int)`, "level:fatal"},
		{"level alias notice", "level:notice", `eq(level "info" int)`, "level:info"},
		{"level comparison", "level>=warn", `cmp(level >= "warn" int)`, ""},
		{"level prefix", "level:E*", `vprefix(level "e")`, "level:e*"},
		{"severity", "severity>=13", `cmp(severity >= "13" int)`, ""},
		{"source", "source:api", `eq(source "api")`, ""},
		{"tag", "tag:prod", `eq(tag "prod")`, ""},
		{"tags alias", "tags:prod", `eq(tag "prod")`, "tag:prod"},
		{"tag exists", "tag:*", "exists(tag)", ""},
		{"message word", "message:timeout", "word(timeout)", "timeout"},
		{"message phrase", `message:"Connection reset"`, "phrase(connection reset)", `"connection reset"`},
		{"message prefix", "message:time*", "prefix(time)", "time*"},
		{"message exists", "message:*", "exists(message)", ""},

		{"int field", "status:404", `eq(status "404" int)`, ""},
		{"float field", "latency:0.5", `eq(latency "0.5" num)`, ""},
		{"negative int", "x:-5", `eq(x "-5" int)`, ""},
		{"exponent", "x:1e3", `eq(x "1e3" num)`, ""},
		{"hex stays text", "x:0x10", `eq(x "0x10")`, ""},
		{"inf stays text", "x:inf", `eq(x "inf")`, ""},
		{"huge stays text", "x:1e999", `eq(x "1e999")`, ""},
		{"quoting keeps the type", `status:"404"`, `eq(status "404" int)`, "status:404"},
		{"string field", "host:web-1", `eq(host "web-1")`, ""},
		{"bool field", "ok:true", `eq(ok "true")`, ""},
		{"quoted value", `host:"two words"`, `eq(host "two words")`, ""},
		{"escaped value", `host:"say \"hi\" \\o/"`, `eq(host "say \"hi\" \\o/")`, ""},
		{"backslash in a bare value", `path:C:\dir`, `eq(path "C:\\dir")`, `path:"C:\\dir"`},
		{"colon in a value", "url:http://x/y", `eq(url "http://x/y")`, ""},
		{"empty value", `host:""`, `eq(host "")`, ""},
		{"literal star", `host:"*"`, `eq(host "*")`, ""},
		{"exists", "host:*", "exists(host)", ""},
		{"quoted empty prefix is exists", `host:""*`, "exists(host)", "host:*"},
		{"value prefix", "host:web*", `vprefix(host "web")`, ""},
		{"quoted value prefix", `host:"a b"*`, `vprefix(host "a b")`, ""},
		{"dotted field", "http.status>=500", `cmp(http.status >= "500" int)`, ""},
		{"hyphenated field", "user-agent:curl", `eq(user-agent "curl")`, ""},
		{"unicode field", "café:ok", `eq(café "ok")`, ""},
		{"keyword as a field name", "AND:x", `eq(AND "x")`, ""},

		{"greater or equal", "status>=500", `cmp(status >= "500" int)`, ""},
		{"greater", "status>499", `cmp(status > "499" int)`, ""},
		{"less", "latency_ms<20", `cmp(latency_ms < "20" int)`, ""},
		{"less or equal", "latency<=0.25", `cmp(latency <= "0.25" num)`, ""},
		{"Elasticsearch form", "status:>=500", `cmp(status >= "500" int)`, "status>=500"},
		{"Elasticsearch form <", "status:<5", `cmp(status < "5" int)`, "status<5"},
		{"negative bound", "temp>-5", `cmp(temp > "-5" int)`, ""},
		{"lexical comparison", "path>=/api", `cmp(path >= "/api")`, ""},
		{"value starting with =", `x>"=a"`, `cmp(x > "=a")`, ""},
		{"value starting with > after :", `x:">a"`, `eq(x ">a")`, ""},
		{"time", "timestamp>=2026-11-26T10:00:00Z", `cmp(timestamp >= "2026-11-26T10:00:00Z" time)`, ""},
		{"time alias and zone", "time<2026-11-26T12:00:00.5+02:00", `cmp(timestamp < "2026-11-26T10:00:00.5Z" time)`, "timestamp<2026-11-26T10:00:00.5Z"},
		{"date", "timestamp:2026-11-26", `eq(timestamp "2026-11-26T00:00:00Z" time)`, "timestamp:2026-11-26T00:00:00Z"},
		{"time prefix", "timestamp:2026-11-26T10*", `vprefix(timestamp "2026-11-26T10")`, ""},
		{"id", "id:01jdx4k5r3zc8y6w0000000042", `eq(id "01JDX4K5R3ZC8Y6W0000000042")`, "id:01JDX4K5R3ZC8Y6W0000000042"},
		{"id prefix", "id:01jd*", `vprefix(id "01JD")`, "id:01JD*"},

		{
			"API example",
			`level>=warn (source:api OR source:auth) "connection reset" -tag:test`,
			`and(cmp(level >= "warn" int), or(eq(source "api"), eq(source "auth")), phrase(connection reset), not(eq(tag "test")))`,
			"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Parse(tt.q)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.q, err)
			}
			if got := tree(n); got != tt.tree {
				t.Errorf("Parse(%q) =\n  %s\nwant\n  %s", tt.q, got, tt.tree)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.q
			}
			if got := n.String(); got != canon {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.q, got, canon)
			}
			n2, err := Parse(n.String())
			if err != nil {
				t.Fatalf("canonical form %q does not parse: %v", n.String(), err)
			}
			if !reflect.DeepEqual(n, n2) {
				t.Errorf("canonical form %q parses to %s, want %s", n.String(), tree(n2), tree(n))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		q    string
		want string
	}{
		{"missing value", "status:", `expected a value after "status:" at position 8`},
		{"space after colon", "status: 500", `expected a value after "status:" at position 8`},
		{"missing comparison value", "a status>=", `expected a value after "status>=" at position 11`},
		{"unterminated quote", `a "connection reset`, `unterminated quote starting at position 3: end the value with '"' (write \" for a quote inside it)`},
		{"unterminated by escape", `"abc\"`, `unterminated quote starting at position 1: end the value with '"' (write \" for a quote inside it)`},
		{"unterminated value", `host:"abc`, `unterminated quote starting at position 6: end the value with '"' (write \" for a quote inside it)`},
		{"unknown level", "level:eror", `unknown level "eror" at position 7: use trace, debug, info, warn, error or fatal`},
		{"numeric level", "level>=13", `unknown level "13" at position 8: use trace, debug, info, warn, error or fatal`},
		{"stray )", "source:api error)", `unexpected ')' at position 17`},
		{"only )", ")", `unexpected ')' at position 1`},
		{"empty parentheses", "()", `unexpected ')' at position 2`},
		{"unclosed (", "(a b", `expected ')' at position 5: close the '(' at position 1`},
		{"unclosed nested (", "x (a (b) c", `expected ')' at position 11: close the '(' at position 3`},
		{"( at the end", "a (", `expected a term after '(' at position 4`},
		{"OR at the end", "a OR", `expected a term after OR at position 5`},
		{"AND at the end", "a AND ", `expected a term after AND at position 7`},
		{"NOT at the end", "NOT", `expected a term after NOT at position 4`},
		{"OR first", "OR a", `unexpected OR at position 1: OR joins two terms; to search for the word, quote it: "OR"`},
		{"AND AND", "a AND AND b", `unexpected AND at position 7: AND joins two terms; to search for the word, quote it: "AND"`},
		{"OR )", "(a OR)", `unexpected ')' at position 6`},
		{"lone minus", "-", `"-" has no letters or digits to search for at position 1`},
		{"minus before space", "a - b", `"-" has no letters or digits to search for at position 3`},
		{"punctuation", "!!", `"!!" has no letters or digits to search for at position 1`},
		{"empty phrase", `a ""`, `"" has no letters or digits to search for at position 3`},
		{"spaced comparison", "status >= 500", `">=" has no letters or digits to search for at position 8: write comparisons without spaces, like status>=500`},
		{"message punctuation", "message:--", `"--" has no letters or digits to search for at position 9`},
		{"star inside a word", "a*b", `'*' inside a word at position 2: use it at the end of a word for a prefix, like time*`},
		{"star inside a value", "host:a*b", `'*' inside a value at position 7: quote the value to match a '*' in it, like path:"/a*b"`},
		{"double star", "**", `'*' inside a word at position 1: use it at the end of a word for a prefix, like time*`},
		{"multi-token prefix", "web-*", `prefix "web-" is not a single word of letters, digits and '_' at position 1: for a prefix of a field value use field:value*`},
		{"phrase prefix", `"a b"*`, `prefix "a b" is not a single word of letters, digits and '_' at position 1: for a prefix of a field value use field:value*`},
		{"quote inside a word", `ab"cd"`, `unexpected '"' at position 3: put the whole word or value in quotes, like host:"a b"`},
		{"quote after a value", `host:a"b"`, `unexpected '"' at position 7: put the whole word or value in quotes, like host:"a b"`},
		{"text after a quote", `"a"b`, `unexpected 'b' after the closing quote at position 4: separate terms with a space`},
		{"star in a comparison", "status>=5*", `'*' in a comparison at position 10`},
		{"quoted star in a comparison", `path>"/a"*`, `'*' in a comparison at position 10`},
		{"comparison on the message", "message>=a", `message cannot be compared with ">=" at position 8: search words with message:word`},
		{"severity not a number", "severity>=high", `expected a number after "severity>=", got "high" at position 11: severity is a number from 1 (trace) to 24 (fatal), like severity>=13`},
		{"bad time", "timestamp>=yesterday", `invalid time "yesterday" at position 12: use RFC 3339, like 2026-11-26T10:00:00Z, or a date, like 2026-11-26`},
		{"bad id", "id:abc", `invalid id "abc" at position 4: an id has 26 characters of Crockford base32`},
		{"positions count characters", "été )", `unexpected ')' at position 5`},
		{"positions count characters in quotes", `é "x`, `unterminated quote starting at position 3: end the value with '"' (write \" for a quote inside it)`},
		{"too deep", strings.Repeat("(", 65) + "a" + strings.Repeat(")", 65), `query nests parentheses and NOTs deeper than 64 levels at position 65`},
		{"too many NOTs", strings.Repeat("-", 65) + "a", `query nests parentheses and NOTs deeper than 64 levels at position 65`},
		{"mixed nesting", strings.Repeat("NOT (", 33) + "a", `query nests parentheses and NOTs deeper than 64 levels at position 161`},
		{"too long", strings.Repeat("a ", 2049), `query is longer than 4096 bytes at position 4097`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Parse(tt.q)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tt.q, tree(n), tt.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", tt.q, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n  %s\nwant\n  %s", tt.q, err, tt.want)
			}
		})
	}
}

func TestParseLimitsAllowed(t *testing.T) {
	for _, q := range []string{
		strings.Repeat("(", MaxQueryDepth) + "a" + strings.Repeat(")", MaxQueryDepth),
		strings.Repeat("-", MaxQueryDepth) + "a",
		strings.Repeat("a ", MaxQueryLength/2),
	} {
		if _, err := Parse(q); err != nil {
			t.Errorf("Parse(%.20q...): %v", q, err)
		}
	}
}

// fuzzEntries are the entries on which the fuzz test checks that a query
// and its canonical form agree.
var fuzzEntries = []*storage.Entry{
	{
		ID: storage.ID{Nanos: 1, Seq: 2}, Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		Level: storage.LevelError, Source: "api", Message: "Upstream timeout: connection reset by 10.0.0.1",
		Tags:   []string{"prod"},
		Fields: []storage.Field{{Name: "host", Value: storage.String("web-1")}, {Name: "status", Value: storage.Int(504)}},
	},
	{
		Time: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), Level: storage.LevelInfo, Source: "a",
		Message: "a b c été 0 1", Fields: []storage.Field{{Name: "a", Value: storage.Float(0.5)}, {Name: "b", Value: storage.Bool(true)}},
	},
}

func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{
		"", "timeout", `"connection reset"`, "time*", "a b OR c", "NOT a OR -(b c)", "level>=warn",
		`host:"two words"*`, "status:>=500", "timestamp:2026-11-26", `a "b\"c" \`, "(a)OR(b)", "é )",
		`level>=warn (source:api OR source:auth) "connection reset" -tag:test`, "x:1e5 y<=-0.5 z>\"=\"",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T, want *SyntaxError", q, err)
			}
			if se.Pos < 1 || se.Pos > utf8.RuneCountInString(q)+1 {
				t.Fatalf("Parse(%q): position %d outside 1..%d: %v", q, se.Pos, utf8.RuneCountInString(q)+1, err)
			}
			return
		}
		s := n.String()
		if len(s) > MaxQueryLength {
			// The canonical form can be longer than the query (quotes,
			// full timestamps); past the limit it is refused, rightly.
			return
		}
		n2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", q, s, err)
		}
		if s2 := n2.String(); s2 != s {
			t.Fatalf("Parse(%q).String() = %q, which prints as %q", q, s, s2)
		}
		if !reflect.DeepEqual(n, n2) {
			t.Fatalf("Parse(%q) = %s, but its canonical form %q parses to %s", q, tree(n), s, tree(n2))
		}
		for _, e := range fuzzEntries {
			if Match(n, e) != Match(n2, e) {
				t.Fatalf("Parse(%q) and its canonical form %q disagree on %+v", q, s, e)
			}
		}
	})
}
