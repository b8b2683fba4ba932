package migrations

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

func openStore(t *testing.T) *storage.Store {
	t.Helper()
	opts := storage.DefaultOptions(t.TempDir())
	opts.SyncWrites = false
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRunRecordsVersion(t *testing.T) {
	s := openStore(t)
	if v, _ := Version(s); v != 0 {
		t.Fatalf("new store has version %d", v)
	}
	if err := Run(context.Background(), s, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if v, _ := Version(s); v != Current {
		t.Fatalf("after Run version = %d, want %d", v, Current)
	}
	todo, _, err := Plan(s)
	if err != nil || len(todo) != 0 {
		t.Fatalf("second plan = %v, %v; want nothing to do", todo, err)
	}
}

func TestRefusesNewer(t *testing.T) {
	s := openStore(t)
	if err := s.SetMeta(versionKey, binary.BigEndian.AppendUint32(nil, uint32(Current+1))); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), s, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("want an error for a newer data directory")
	}
	for _, want := range []string{"version " + strconv.Itoa(Current+1), "version " + strconv.Itoa(Current)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// writeV1 writes a data directory as version 1 of logengine left it:
// entries with level, source and tag indexes but no field indexes and no
// record of indexed fields, schema version 1.
func writeV1(t *testing.T, dir string) []storage.Entry {
	t.Helper()
	opts := storage.DefaultOptions(dir)
	opts.SyncWrites = false
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var entries []storage.Entry
	for i := 0; i < 300; i++ {
		entries = append(entries, storage.Entry{
			Time: base.Add(time.Duration(i) * 7 * time.Minute), Level: storage.LevelInfo, Source: "api",
			Message: fmt.Sprintf("request %d", i),
			Fields:  []storage.Field{{Name: "host", Value: storage.String(fmt.Sprintf("web-%d", i%3))}},
		})
	}
	if _, err := s.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(versionKey, binary.BigEndian.AppendUint32(nil, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestV1ToV2BackfillsIndexedFields(t *testing.T) {
	dir := t.TempDir()
	entries := writeV1(t, dir)
	opts := storage.DefaultOptions(dir)
	opts.SyncWrites = false
	opts.IndexedFields = []string{"host"}
	s, err := storage.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	todo, from, err := Plan(s)
	if err != nil || from != 1 || len(todo) != Current-1 {
		t.Fatalf("Plan = %d steps from %d, %v", len(todo), from, err)
	}
	if err := Run(context.Background(), s, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ids, err := s.Postings(context.Background(), storage.IndexValue{Kind: storage.IndexField, Name: "host", Value: "web-1"}, storage.MinID, storage.MaxID)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range entries {
		if v, _ := e.Field("host"); v.Str == "web-1" {
			want++
		}
	}
	if len(ids) != want {
		t.Fatalf("host:web-1 after migration: %d ids, want %d", len(ids), want)
	}
	// A second sync (the next start) changes nothing and duplicates nothing.
	if err := s.SyncIndexedFields(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	ids, _ = s.Postings(context.Background(), storage.IndexValue{Kind: storage.IndexField, Name: "host", Value: "web-1"}, storage.MinID, storage.MaxID)
	if len(ids) != want {
		t.Fatalf("after a second sync: %d ids, want %d", len(ids), want)
	}
}
