package search

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// groupsEnv is a store with the entries of the typed-key cases, whose
// field "indexed_id" is indexed and "id_num" indexed with numbers only.
func groupsEnv(t testing.TB, entries []storage.Entry) (*storage.Store, *Index, *Indexer) {
	t.Helper()
	dir := t.TempDir()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	opts.SyncWrites = false
	opts.IndexedFields = []string{"indexed_id", "id_num"}
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := OpenIndex(filepath.Join(dir, "index"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := idx.Close(); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := s.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	return s, idx, NewIndexer(s, idx, IndexerOptions{})
}

var groupsBase = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func typedEntry(i int, fields ...storage.Field) storage.Entry {
	return storage.Entry{Time: groupsBase.Add(time.Duration(i) * time.Second), Level: storage.LevelInfo, Source: "api", Message: "m", Fields: fields}
}

// TestGroupKeysKeepTheirType checks that a group key is the value as it was
// sent: a string that looks like a number or a bool stays a string, a
// number stays a number, and entries without the field are the nil group,
// whether the groups come from entries or from a secondary index.
func TestGroupKeysKeepTheirType(t *testing.T) {
	str, num := storage.String, storage.Int
	var entries []storage.Entry
	add := func(n int, name string, v storage.Value) {
		for range n {
			entries = append(entries, typedEntry(len(entries), storage.Field{Name: name, Value: v}))
		}
	}
	for _, name := range []string{"trace_id", "indexed_id"} {
		add(5, name, str("9007199254740993"))
		add(4, name, str("true"))
		add(3, name, str("200"))
		add(2, name, num(200))
		add(1, name, storage.Bool(true))
	}
	add(3, "id_num", num(9007199254740993))
	add(2, "id_num", storage.Float(200)) // the float 200.0 and the integer 200 are one number
	add(1, "id_num", num(200))
	add(1, "id_num", storage.Float(0.5))
	s, idx, ix := groupsEnv(t, entries)
	eng := NewEngine(s, idx, ix, EngineOptions{})
	ctx := context.Background()
	from, to := groupsBase, groupsBase.Add(time.Hour)

	mixed := []Group{
		{Key: []any{nil}, Count: int64(len(entries) - 15)},
		{Key: []any{"9007199254740993"}, Count: 5},
		{Key: []any{"true"}, Count: 4},
		{Key: []any{"200"}, Count: 3},
		{Key: []any{int64(200)}, Count: 2},
		{Key: []any{true}, Count: 1},
	}
	cases := []struct {
		name    string
		groupBy []string
		query   string
		want    []Group
	}{
		{"from entries", []string{"trace_id"}, "", mixed},
		{"indexed, mixed kinds", []string{"indexed_id"}, "", mixed},
		{"indexed, numbers only", []string{"id_num"}, "id_num:*", []Group{
			{Key: []any{int64(200)}, Count: 3},
			{Key: []any{int64(9007199254740993)}, Count: 3},
			{Key: []any{0.5}, Count: 1},
		}},
		{"composite", []string{"source", "trace_id"}, "trace_id:*", []Group{
			{Key: []any{"api", "9007199254740993"}, Count: 5},
			{Key: []any{"api", "true"}, Count: 4},
			{Key: []any{"api", "200"}, Count: 3},
			{Key: []any{"api", int64(200)}, Count: 2},
			{Key: []any{"api", true}, Count: 1},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := eng.Aggregate(ctx, AggRequest{Query: tc.query, From: from, To: to, GroupBy: tc.groupBy, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Groups, tc.want) {
				t.Errorf("groups %s\nwant   %s", describeGroups(res.Groups), describeGroups(tc.want))
			}
		})
	}

	t.Run("histogram", func(t *testing.T) {
		res, err := eng.Histogram(ctx, HistRequest{From: from, To: to, Interval: time.Hour, GroupBy: "indexed_id"})
		if err != nil {
			t.Fatal(err)
		}
		b := res.Buckets[0]
		want := []KeyCount{{"9007199254740993", 5}, {"true", 4}, {"200", 3}, {int64(200), 2}, {true, 1}}
		if !reflect.DeepEqual(b.ByKey, want) {
			t.Errorf("typed groups %s, want %s", describeKeyCounts(b.ByKey), describeKeyCounts(want))
		}
		// By text, "200" and 200 (and "true" and true) add up.
		wantText := map[string]int64{"9007199254740993": 5, "true": 5, "200": 5}
		if !reflect.DeepEqual(b.Groups, wantText) {
			t.Errorf("groups by text %v, want %v", b.Groups, wantText)
		}
	})

	t.Run("facets", func(t *testing.T) {
		res, err := eng.Facets(ctx, FacetRequest{From: from, To: to, Fields: []string{"trace_id"}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Facets) != 1 || !reflect.DeepEqual(res.Facets[0].Values, mixed[1:]) {
			t.Errorf("facets %+v, want values %s", res.Facets, describeGroups(mixed[1:]))
		}
	})
}

// TestGroupLimit checks that a group-by with more distinct keys than
// MaxGroupBytes allows fails with a LimitError naming the option, whichever
// way its groups are counted, and that one within the limit is answered.
func TestGroupLimit(t *testing.T) {
	var entries []storage.Entry
	for i := range 2000 {
		id := fmt.Sprintf("%032x", i)
		entries = append(entries, typedEntry(i,
			storage.Field{Name: "trace_id", Value: storage.String(id)},
			storage.Field{Name: "indexed_id", Value: storage.String(id)}))
	}
	s, idx, ix := groupsEnv(t, entries)
	ctx := context.Background()
	from, to := groupsBase, groupsBase.Add(time.Hour)
	// Room for some 100 groups of a 34-byte key.
	small := NewEngine(s, idx, ix, EngineOptions{MaxGroupBytes: 100 * (34 + groupOverhead)})
	cases := []struct {
		name string
		run  func(e *Engine) error
	}{
		{"aggregate from entries", func(e *Engine) error {
			_, err := e.Aggregate(ctx, AggRequest{From: from, To: to, GroupBy: []string{"trace_id"}})
			return err
		}},
		{"aggregate from the index", func(e *Engine) error {
			_, err := e.Aggregate(ctx, AggRequest{From: from, To: to, GroupBy: []string{"indexed_id"}})
			return err
		}},
		{"composite from the index", func(e *Engine) error {
			_, err := e.Aggregate(ctx, AggRequest{Query: "level:info", From: from, To: to, GroupBy: []string{"level", "indexed_id"}})
			return err
		}},
		{"histogram from entries", func(e *Engine) error {
			_, err := e.Histogram(ctx, HistRequest{From: from, To: to, GroupBy: "trace_id"})
			return err
		}},
		{"histogram from the index", func(e *Engine) error {
			_, err := e.Histogram(ctx, HistRequest{From: from, To: to, GroupBy: "indexed_id"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(small)
			var le *LimitError
			if !errors.As(err, &le) || !le.TooLarge() {
				t.Fatalf("err = %v, want a LimitError", err)
			}
			for _, want := range []string{"limits.max_group_bytes", "shorter from..to", "filter"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if err := tc.run(NewEngine(s, idx, ix, EngineOptions{})); err != nil {
				t.Errorf("with the default limit: %v", err)
			}
		})
	}
	t.Run("few groups fit", func(t *testing.T) {
		res, err := small.Aggregate(ctx, AggRequest{From: from, To: to, GroupBy: []string{"source"}})
		if err != nil || res.Total != 2000 {
			t.Fatalf("= %+v, %v", res, err)
		}
	})
}

// TestKeyOrderIsTextOrder: groups of equal counts are listed by key, and a
// string key sorts as its text, zero bytes and prefixes included.
func TestKeyOrderIsTextOrder(t *testing.T) {
	texts := []string{"", "\x00", "\x00\x00", "\x00a", "a", "a\x00", "a\x00b", "ab", "auth", "b", "web", "web\xff", "\xff"}
	for i, a := range texts {
		ka := string(appendStringKey(nil, a))
		got, err := decodeKey(ka)
		if err != nil || len(got) != 1 || got[0] != a {
			t.Fatalf("decodeKey(key(%q)) = %v, %v", a, got, err)
		}
		for _, b := range texts[i+1:] {
			if kb := string(appendStringKey(nil, b)); ka >= kb {
				t.Fatalf("key(%q) does not sort before key(%q)", a, b)
			}
			// Composite keys sort by their first component first.
			ca := string(appendStringKey(appendStringKey(nil, a), "zzz"))
			cb := string(appendStringKey(appendStringKey(nil, b), ""))
			if ca >= cb {
				t.Fatalf("key(%q, zzz) does not sort before key(%q, \"\")", a, b)
			}
		}
	}
}
