package ingest

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/logengine/logengine/patterns"
)

// fakePatterns gives ids by message from a table and records the Syncs
// and what the store held at each one.
type fakePatterns struct {
	mu      sync.Mutex
	ids     map[string]uint64
	syncs   []uint64
	st      *memStore
	stored  []int // entries the store held at each Sync
	syncErr error
}

func (f *fakePatterns) Add(_, message string) (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[message], false
}

func (f *fakePatterns) Sync(_ context.Context, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs = append(f.syncs, id)
	f.st.mu.Lock()
	f.stored = append(f.stored, len(f.st.entries))
	f.st.mu.Unlock()
	return f.syncErr
}

func TestServicePatterns(t *testing.T) {
	st := &memStore{}
	fp := &fakePatterns{st: st, ids: map[string]uint64{"a": 3, "b": 7, "huge": math.MaxUint32 + 1}}
	svc := NewService(st, ServiceOptions{Now: func() time.Time { return testNow }, Patterns: fp})
	body := "{\"message\":\"a\"}\n{\"message\":\"b\"}\n{\"message\":\"huge\"}\n{\"message\":\"none\"}\n"
	res, err := svc.Ingest(context.Background(), Request{Body: []byte(body), Format: FormatNDJSON})
	if err != nil || res.Accepted != 4 {
		t.Fatalf("Ingest: %+v %v", res, err)
	}
	want := []uint32{3, 7, 0, 0} // beyond 32 bits and unknown: none
	for i, e := range st.entries {
		if e.Pattern != want[i] {
			t.Errorf("entry %d (%q): pattern %d, want %d", i, e.Message, e.Pattern, want[i])
		}
	}
	// One Sync, of the highest id, before anything was stored.
	if len(fp.syncs) != 1 || fp.syncs[0] != 7 || fp.stored[0] != 0 {
		t.Errorf("syncs %v with %v entries stored, want [7] before any", fp.syncs, fp.stored)
	}

	// A failed save stores nothing: the ids might not survive a crash.
	fp.syncErr = errors.New("no space")
	if _, err := svc.Ingest(context.Background(), Request{Body: []byte(body), Format: FormatNDJSON}); !errors.Is(err, fp.syncErr) {
		t.Fatalf("Ingest with a failing save: %v, want %v", err, fp.syncErr)
	}
	if len(st.entries) != 4 {
		t.Errorf("entries stored despite a failed save: %d", len(st.entries)-4)
	}
}

// TestServicePatternsSurviveReload mines through the real miner and
// saver: after a reload of the saved state the same kinds of messages get
// the same ids.
func TestServicePatternsSurviveReload(t *testing.T) {
	body := []byte("{\"message\":\"session 17 opened for alice\",\"source\":\"auth\"}\n" +
		"{\"message\":\"disk /dev/sda1 is 91% full\",\"source\":\"node\"}\n" +
		"{\"message\":\"GET /api/v1/users 200 12ms\",\"source\":\"web\"}\n")
	again := []byte("{\"message\":\"session 4242 opened for alice\",\"source\":\"auth\"}\n" +
		"{\"message\":\"disk /dev/sdb2 is 97% full\",\"source\":\"node\"}\n" +
		"{\"message\":\"GET /api/v1/orders 200 3ms\",\"source\":\"web\"}\n")
	state := &bytesState{}

	ingestWith := func(t *testing.T, state *bytesState, body []byte) []uint32 {
		t.Helper()
		m, err := patterns.New(patterns.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if state.data != nil {
			if err := m.UnmarshalBinary(state.data); err != nil {
				t.Fatal(err)
			}
		}
		saver := patterns.NewSaver(m, state, patterns.SaverOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = saver.Run(ctx) }()
		defer func() { cancel(); <-done }()

		st := &memStore{}
		svc := NewService(st, ServiceOptions{Now: func() time.Time { return testNow },
			Patterns: struct {
				*patterns.Miner
				*patterns.Saver
			}{m, saver}})
		if _, err := svc.Ingest(context.Background(), Request{Body: body, Format: FormatNDJSON}); err != nil {
			t.Fatal(err)
		}
		var ids []uint32
		for _, e := range st.entries {
			if e.Pattern == 0 {
				t.Fatalf("entry %q has no pattern", e.Message)
			}
			ids = append(ids, e.Pattern)
		}
		return ids
	}
	first := ingestWith(t, state, body)
	if first[0] == first[1] || first[1] == first[2] {
		t.Fatalf("different templates share an id: %v", first)
	}
	// No shutdown save: what Sync saved before the append is enough.
	second := ingestWith(t, state, again)
	for i := range first {
		if first[i] != second[i] {
			t.Errorf("line %d: id %d after reload, want %d", i+1, second[i], first[i])
		}
	}
}

// bytesState is a patterns.StateStore in memory.
type bytesState struct {
	mu   sync.Mutex
	data []byte
}

func (b *bytesState) Put(key string, value []byte) error {
	if key != patterns.StateKey {
		return errors.New("unexpected key " + key)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data = append([]byte(nil), value...)
	return nil
}

func TestDecodePatternKey(t *testing.T) {
	tests := []struct {
		name, line string
		field      string // the client field "pattern", empty: none
	}{
		{"export form", `{"id":"0190a1b2c3d4e5f6-0000000000000001","message":"m","pattern":"p3f9","fields":{}}`, ""},
		{"client field", `{"message":"m","pattern":"p3f9"}`, "p3f9"},
		{"not an id in the export form", `{"message":"m","pattern":"retry","fields":{}}`, "retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := DecodeNDJSON([]byte(tt.line), Defaults{Now: func() time.Time { return testNow }}, Limits{})
			if len(rs) != 1 || rs[0].Err != nil {
				t.Fatalf("decode: %+v", rs)
			}
			v, ok := rs[0].Entry.Field("pattern")
			switch {
			case tt.field == "" && ok:
				t.Errorf("field pattern = %q, want none", v.Text())
			case tt.field != "" && (!ok || v.Text() != tt.field):
				t.Errorf("field pattern = %q (%v), want %q", v.Text(), ok, tt.field)
			}
		})
	}
}

var _ Appender = (*memStore)(nil)
