package ingest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/logengine/logengine/storage"
)

func entry(msg string, fields ...storage.Field) storage.Entry {
	return storage.Entry{Time: testNow, Level: storage.LevelInfo, Source: "api", Message: msg, Fields: fields}
}

func str(name, v string) storage.Field { return storage.Field{Name: name, Value: storage.String(v)} }
func num(name string, v int64) storage.Field {
	return storage.Field{Name: name, Value: storage.Int(v)}
}

func TestPipelineSteps(t *testing.T) {
	tests := []struct {
		name  string
		step  Step
		in    storage.Entry
		keep  bool
		check func(tb testing.TB, e storage.Entry)
	}{
		{"add fields and tags", Step{Type: "add", Fields: map[string]any{"env": "prod", "replicas": 3, "ratio": 0.5, "canary": false}, Tags: []string{"eu", "prod"}},
			storage.Entry{Message: "m", Tags: []string{"prod"}, Fields: []storage.Field{str("env", "dev")}}, true,
			func(tb testing.TB, e storage.Entry) {
				want := map[string]any{"env": "dev", "replicas": int64(3), "ratio": 0.5, "canary": false}
				if got := fieldMap(e); !reflect.DeepEqual(got, want) {
					tb.Errorf("fields %v, want %v", got, want)
				}
				if !reflect.DeepEqual(e.Tags, []string{"prod", "eu"}) {
					tb.Errorf("tags %v", e.Tags)
				}
			}},
		{"drop below keeps the level", Step{Type: "drop_below", Level: "warn"}, storage.Entry{Message: "m", Level: storage.LevelWarn}, true, nil},
		{"drop below drops lower", Step{Type: "drop_below", Level: "WARNING"}, storage.Entry{Message: "m", Level: storage.LevelInfo}, false, nil},
		{"drop below by number", Step{Type: "drop_below", Level: "3"}, storage.Entry{Message: "m", Level: storage.LevelWarn}, false, nil},
		{"drop matching message", Step{Type: "drop", Regex: `GET /healthz`}, entry("GET /healthz 200"), false, nil},
		{"drop keeps others", Step{Type: "drop", Regex: `GET /healthz`}, entry("GET /api 200"), true, nil},
		{"drop by field", Step{Type: "drop", Field: "status", Regex: `^2\d\d$`}, entry("m", num("status", 204)), false, nil},
		{"drop by missing field keeps", Step{Type: "drop", Field: "status", Regex: `.`}, entry("m"), true, nil},
		{"drop by source", Step{Type: "drop", Field: "source", Regex: `^api$`}, entry("m"), false, nil},
		{"keep matching", Step{Type: "keep", Regex: `(?i)payment`}, entry("Payment failed"), true, nil},
		{"keep drops others", Step{Type: "keep", Regex: `payment`}, entry("login"), false, nil},
		{"keep drops missing field", Step{Type: "keep", Field: "user", Regex: `.`}, entry("m"), false, nil},
		{"extract named groups", Step{Type: "extract", Regex: `user=(?P<user>\w+) took (?P<took_ms>\d+)ms(?: (?P<absent>x))?`},
			entry("user=bob took 42ms", str("user", "old")), true,
			func(tb testing.TB, e storage.Entry) {
				want := map[string]any{"user": "bob", "took_ms": int64(42)}
				if got := fieldMap(e); !reflect.DeepEqual(got, want) {
					tb.Errorf("fields %v, want %v", got, want)
				}
			}},
		{"extract from a field", Step{Type: "extract", Field: "path", Regex: `^/api/(?P<version>v\d+)/`},
			entry("m", str("path", "/api/v2/logs")), true,
			func(tb testing.TB, e storage.Entry) {
				if v, _ := e.Field("version"); v.Text() != "v2" {
					tb.Errorf("version %v", v)
				}
			}},
		{"extract without a match", Step{Type: "extract", Regex: `(?P<n>\d+)`}, entry("none"), true,
			func(tb testing.TB, e storage.Entry) {
				if len(e.Fields) != 0 {
					tb.Errorf("fields %v", e.Fields)
				}
			}},
		{"rename", Step{Type: "rename", From: "hostname", To: "host"}, entry("m", str("a", "1"), str("hostname", "web-1")), true,
			func(tb testing.TB, e storage.Entry) {
				if want := []storage.Field{str("a", "1"), str("host", "web-1")}; !reflect.DeepEqual(e.Fields, want) {
					tb.Errorf("fields %v", e.Fields)
				}
			}},
		{"rename replaces the target", Step{Type: "rename", From: "hostname", To: "host"}, entry("m", str("host", "old"), str("hostname", "new"), str("z", "1")), true,
			func(tb testing.TB, e storage.Entry) {
				if want := []storage.Field{str("host", "new"), str("z", "1")}; !reflect.DeepEqual(e.Fields, want) {
					tb.Errorf("fields %v", e.Fields)
				}
			}},
		{"rename replaces a later target", Step{Type: "rename", From: "hostname", To: "host"}, entry("m", str("hostname", "new"), str("host", "old")), true,
			func(tb testing.TB, e storage.Entry) {
				if want := []storage.Field{str("host", "new")}; !reflect.DeepEqual(e.Fields, want) {
					tb.Errorf("fields %v", e.Fields)
				}
			}},
		{"rename of a missing field", Step{Type: "rename", From: "x", To: "y"}, entry("m", str("a", "1")), true,
			func(tb testing.TB, e storage.Entry) {
				if want := []storage.Field{str("a", "1")}; !reflect.DeepEqual(e.Fields, want) {
					tb.Errorf("fields %v", e.Fields)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPipeline(PipelineConfig{tt.step})
			if err != nil {
				t.Fatal(err)
			}
			e := tt.in
			if keep := p.Apply(&e); keep != tt.keep {
				t.Errorf("keep = %v, want %v", keep, tt.keep)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		step Step
		in   string
		want string
	}{
		{"email", Step{Type: "redact"}, "mail bob.smith+x@mail.example.co.uk now", "mail [REDACTED] now"},
		{"card", Step{Type: "redact"}, "card 4111 1111 1111 1111 ok", "card [REDACTED] ok"},
		{"card dashes", Step{Type: "redact"}, "card 5500-0000-0000-0004.", "card [REDACTED]."},
		{"card plain", Step{Type: "redact"}, "pan=378282246310005", "pan=[REDACTED]"},
		{"card with trailing group", Step{Type: "redact"}, "4111 1111 1111 1111 2", "[REDACTED] 2"},
		{"not Luhn", Step{Type: "redact"}, "order 4111111111111112", "order 4111111111111112"},
		{"epoch ms spared", Step{Type: "redact"}, "at 1764151200120", "at 1764151200120"},
		{"digits in a word spared", Step{Type: "redact"}, "id a4111111111111111", "id a4111111111111111"},
		{"short number", Step{Type: "redact"}, "n 411111111111", "n 411111111111"},
		{"bearer", Step{Type: "redact"}, "Authorization: Bearer eyJhbGciOi.J9-_x/y+z== next", "Authorization: Bearer [REDACTED] next"},
		{"bearer lower case", Step{Type: "redact"}, "bearer abc123", "bearer [REDACTED]"},
		{"only email", Step{Type: "redact", Detect: []string{"email"}}, "a@b.io 4111111111111111", "[REDACTED] 4111111111111111"},
		{"custom pattern and replacement", Step{Type: "redact", Detect: []string{"none"}, Patterns: []string{`secret=\S+`}, Replacement: "***"},
			"secret=hunter2 a@b.io", "*** a@b.io"},
		{"replacement with dollar", Step{Type: "redact", Detect: []string{"bearer"}, Replacement: "$1"}, "Bearer tok", "Bearer $1"},
		{"clean text unchanged", Step{Type: "redact"}, "nothing to see", "nothing to see"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPipeline(PipelineConfig{tt.step})
			if err != nil {
				t.Fatal(err)
			}
			e := entry(tt.in, str("note", tt.in), num("n", 4111111111111111))
			p.Apply(&e)
			if e.Message != tt.want {
				t.Errorf("message %q, want %q", e.Message, tt.want)
			}
			if v, _ := e.Field("note"); v.Str != tt.want {
				t.Errorf("field %q, want %q", v.Str, tt.want)
			}
			if v, _ := e.Field("n"); v.Int != 4111111111111111 {
				t.Errorf("integer field changed: %v", v)
			}
		})
	}
	// A named field limits redaction to it.
	p, err := NewPipeline(PipelineConfig{{Type: "redact", Field: "email"}})
	if err != nil {
		t.Fatal(err)
	}
	e := entry("from a@b.io", str("email", "c@d.io"), str("other", "e@f.io"))
	p.Apply(&e)
	if e.Message != "from a@b.io" || e.Fields[0].Value.Str != "[REDACTED]" || e.Fields[1].Value.Str != "e@f.io" {
		t.Errorf("%+v", e)
	}
}

func TestPipelineOrderAndNil(t *testing.T) {
	var nilPipeline *Pipeline
	e := entry("m")
	if !nilPipeline.Apply(&e) {
		t.Error("nil pipeline dropped an entry")
	}
	p, err := NewPipeline(PipelineConfig{
		{Type: "extract", Regex: `status=(?P<status>\d+)`},
		{Type: "drop", Field: "status", Regex: `^200$`},
		{Type: "add", Tags: []string{"kept"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ok, dropped := entry("status=500"), entry("status=200")
	if !p.Apply(&ok) || p.Apply(&dropped) {
		t.Error("wrong entries kept")
	}
	if !reflect.DeepEqual(ok.Tags, []string{"kept"}) || dropped.Tags != nil {
		t.Errorf("steps after a drop ran: %v %v", ok.Tags, dropped.Tags)
	}
}

func TestPipelineConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  PipelineConfig
		want string
	}{
		{"unknown type", PipelineConfig{{Type: "explode"}}, `pipeline[0].type: "explode" is not one of add, drop, drop_below, extract, geoip, keep, redact, rename, useragent`},
		{"bad regex", PipelineConfig{{Type: "add", Tags: []string{"x"}}, {Type: "drop_below", Level: "info"}, {Type: "drop", Regex: "("}}, "pipeline[2].regex: error parsing regexp"},
		{"missing regex", PipelineConfig{{Type: "keep"}}, "pipeline[0].regex: is required"},
		{"no named group", PipelineConfig{{Type: "extract", Regex: `(\d+)`}}, "pipeline[0].regex: has no named group"},
		{"bad level", PipelineConfig{{Type: "drop_below", Level: "loud"}}, `pipeline[0].level: "loud" is not a level`},
		{"unused key", PipelineConfig{{Type: "add", Tags: []string{"x"}, Regex: "a"}}, "pipeline[0].regex: not used by type add (it takes fields, tags)"},
		{"empty add", PipelineConfig{{Type: "add"}}, "pipeline[0]: type add needs fields or tags"},
		{"bad field value", PipelineConfig{{Type: "add", Fields: map[string]any{"x": []any{1}}}}, "pipeline[0].fields.x: [1] is not a string, number or boolean"},
		{"rename without to", PipelineConfig{{Type: "rename", From: "a"}}, "pipeline[0].to: name the new field name"},
		{"rename to itself", PipelineConfig{{Type: "rename", From: "a", To: "a"}}, "pipeline[0].to: is the same as from"},
		{"bad detector", PipelineConfig{{Type: "redact", Detect: []string{"ssn"}}}, `pipeline[0].detect[0]: "ssn" is not one of email, card, bearer, none`},
		{"bad pattern", PipelineConfig{{Type: "redact", Patterns: []string{"ok", "["}}}, "pipeline[0].patterns[1]: error parsing regexp"},
		{"nothing to redact", PipelineConfig{{Type: "redact", Detect: []string{"none"}}}, "pipeline[0].detect: nothing to redact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPipeline(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
			if err2 := tt.cfg.Validate(); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Validate: %v", err2)
			}
		})
	}
	// Every mistake is reported, not just the first.
	_, err := NewPipeline(PipelineConfig{{Type: "drop"}, {Type: "keep", Regex: "("}})
	if err == nil || !strings.Contains(err.Error(), "pipeline[0].regex") || !strings.Contains(err.Error(), "pipeline[1].regex") {
		t.Errorf("error %v", err)
	}
}

func TestPipelineConfigYAML(t *testing.T) {
	const doc = `
pipeline:
  - type: add
    fields: {env: prod, replicas: 3, ratio: 0.5, canary: true}
    tags: [prod]
  - type: drop_below
    level: info
  - type: drop
    regex: 'GET /healthz'
  - type: extract
    regex: 'took (?P<took_ms>\d+)ms'
  - type: rename
    from: hostname
    to: host
  - type: redact
    detect: [email, card]
    patterns: ['secret=\S+']
`
	var cfg struct {
		Pipeline PipelineConfig `yaml:"pipeline"`
	}
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	p, err := NewPipeline(cfg.Pipeline)
	if err != nil {
		t.Fatal(err)
	}
	e := entry("took 12ms for a@b.io secret=x", str("hostname", "web-1"))
	if !p.Apply(&e) {
		t.Fatal("dropped")
	}
	want := map[string]any{"took_ms": int64(12), "host": "web-1", "env": "prod", "replicas": int64(3), "ratio": 0.5, "canary": true}
	if got := fieldMap(e); !reflect.DeepEqual(got, want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	if e.Message != "took 12ms for [REDACTED] [REDACTED]" {
		t.Errorf("message %q", e.Message)
	}
}

func TestEnrichCacheBounded(t *testing.T) {
	for _, size := range []int{1, 2, 15, 16, 17, 100} {
		c := newEnrichCache(size)
		for i := range 10 * size {
			c.add(fmt.Sprint(i), []storage.Field{num("i", int64(i))})
		}
		held := 0
		for i := range c.shards {
			held += len(c.shards[i].slots)
			if len(c.shards[i].index) != len(c.shards[i].slots) {
				t.Errorf("size %d shard %d: index of %d for %d slots", size, i, len(c.shards[i].index), len(c.shards[i].slots))
			}
		}
		if held != size {
			t.Errorf("size %d: holds %d keys", size, held)
		}
		// What is held is what was added under that key.
		for i := range 10 * size {
			if fields, ok := c.get(fmt.Sprint(i)); ok && fields[0].Value.Int != int64(i) {
				t.Errorf("size %d: key %d holds %v", size, i, fields)
			}
		}
	}
}

func TestEnrichCacheSecondChance(t *testing.T) {
	// 3 slots a shard; the keys are chosen to fall in the first shard so
	// that the order of eviction is known.
	c := newEnrichCache(3 * enrichCacheShards)
	var keys []string
	for i := 0; len(keys) < 5; i++ {
		if k := fmt.Sprint(i); c.shard(k) == &c.shards[0] {
			keys = append(keys, k)
		}
	}
	a, b, d, e, f := keys[0], keys[1], keys[2], keys[3], keys[4]
	for _, k := range []string{a, b, d} {
		c.add(k, nil)
	}
	c.get(a) // a was used since it was added: b goes first
	c.add(e, nil)
	for k, want := range map[string]bool{a: true, b: false, d: true, e: true} {
		if _, ok := c.get(k); ok != want {
			t.Errorf("after adding e: %s cached %v, want %v", k, ok, want)
		}
	}
	// Every key was just used; the sweep clears them all and takes the
	// slot after the last one taken (d's), as CLOCK does.
	c.add(f, nil)
	for k, want := range map[string]bool{a: true, d: false, e: true, f: true} {
		if _, ok := c.get(k); ok != want {
			t.Errorf("after adding f: %s cached %v, want %v", k, ok, want)
		}
	}
}

func TestEnrichCacheConcurrent(t *testing.T) {
	// Readers and writers of one cache at once, more keys than it holds;
	// run with -race.
	c := newEnrichCache(64)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := (i*7 + g*13) % 200
				if fields, ok := c.get(fmt.Sprint(k)); ok {
					if fields[0].Value.Int != int64(k) {
						t.Errorf("key %d holds %v", k, fields)
						return
					}
					continue
				}
				c.add(fmt.Sprint(k), []storage.Field{num("k", int64(k))})
			}
		})
	}
	wg.Wait()
}

// TestAddFields checks that adding prepared fields in one pass means what
// setting them one after another meant.
func TestAddFields(t *testing.T) {
	names := map[string]string{"country": "geo.country", "city": "geo.city", "iso": "geo.country", "asn": "geo.asn"}
	filter := newNameFilter(names)
	added := []storage.Field{str("geo.country", "DE"), str("geo.city", "Berlin"), str("geo.country", "Germany"), num("geo.asn", 3320)}
	prepared := dedupFields(slices.Clone(added))
	if len(prepared) != 3 || prepared[0].Value.Str != "Germany" {
		t.Fatalf("prepared %v", prepared)
	}
	for _, fields := range [][]storage.Field{
		nil,
		{str("remote_addr", "1.2.3.4"), num("status", 200)},
		{str("geo.city", "old"), str("remote_addr", "1.2.3.4")},         // replaced in its place
		{str("remote_addr", "1.2.3.4"), str("geo.asn", "AS1")},          // of another type
		{str("geo.cityx", "same length as no name"), str("geo.as", "")}, // near misses
	} {
		want := entry("m", slices.Clone(fields)...)
		for _, f := range added {
			setField(&want, f.Name, f.Value)
		}
		got := entry("m", slices.Clone(fields)...)
		addFields(&got, prepared, &filter)
		if !reflect.DeepEqual(got.Fields, want.Fields) {
			t.Errorf("%v:\n got  %v\n want %v", fields, got.Fields, want.Fields)
		}
	}
}
