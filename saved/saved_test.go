package saved

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

func openStore(t testing.TB, dir string) *storage.Store {
	t.Helper()
	opts := storage.DefaultOptions(filepath.Join(dir, "db"))
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidate(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		s    Search
		says string // empty: valid
	}{
		{"relative", Search{Name: "errors", Query: "level:error", Range: "1h"}, ""},
		{"all", Search{Name: "all", Range: "all"}, ""},
		{"absolute", Search{Name: "incident", From: t0, To: t0.Add(time.Hour)}, ""},
		{"open end", Search{Name: "since", From: t0}, ""},
		{"no name", Search{Range: "1h"}, "needs a name"},
		{"long name", Search{Name: strings.Repeat("x", MaxName+1), Range: "1h"}, "more than"},
		{"control character", Search{Name: "a\nb", Range: "1h"}, "control character"},
		{"spaces around", Search{Name: " a", Range: "1h"}, "space"},
		{"no range", Search{Name: "a"}, "needs a range"},
		{"both ranges", Search{Name: "a", Range: "1h", From: t0}, "not both"},
		{"bad range", Search{Name: "a", Range: "yesterday"}, "duration"},
		{"negative range", Search{Name: "a", Range: "-1h"}, "duration"},
		{"reversed", Search{Name: "a", From: t0, To: t0}, "before"},
		{"empty column", Search{Name: "a", Range: "1h", Columns: []string{""}}, "column"},
		{"long query", Search{Name: "a", Range: "1h", Query: strings.Repeat("a", MaxQuery+1)}, "query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			switch {
			case tc.says == "" && err != nil:
				t.Fatalf("valid search refused: %v", err)
			case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
				t.Fatalf("error %v, want one saying %q", err, tc.says)
			}
			var ie *InputError
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("%v is not an input error", err)
			}
		})
	}
}

// TestStore puts, replaces, lists and deletes searches, and reads them
// back after the database is reopened.
func TestStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	st := New(s)
	now := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	st.now = func() time.Time { return now }
	ctx := context.Background()

	for _, in := range []Search{
		{Name: "slow", Query: "latency_ms>500", Range: "24h", Columns: []string{"latency_ms"}},
		{Name: "errors", Query: "level:error", Range: "1h"},
		{Name: "errors", Query: "level>=error", Range: "6h"}, // replaces
	} {
		if _, err := st.Put(in); err != nil {
			t.Fatalf("put %q: %v", in.Name, err)
		}
	}
	if _, err := st.Put(Search{Name: "bad"}); err == nil {
		t.Fatal("an invalid search was stored")
	}
	got, err := st.Get("errors")
	if err != nil || got.Query != "level>=error" || got.Range != "6h" || !got.Updated.Equal(now) || got.Columns == nil {
		t.Fatalf("get errors: %+v %v", got, err)
	}
	if _, err := st.Get("missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get missing: %v, want storage.ErrNotFound", err)
	}
	if err := st.Delete("missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("delete missing: %v, want storage.ErrNotFound", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	st = New(s)
	list, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "errors" || list[1].Name != "slow" || list[1].Columns[0] != "latency_ms" {
		t.Fatalf("list after reopening: %+v", list)
	}
	if err := st.Delete("slow"); err != nil {
		t.Fatal(err)
	}
	if list, err = st.List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("list after delete: %+v %v", list, err)
	}
}
