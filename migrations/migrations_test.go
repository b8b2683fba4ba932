package migrations

import (
	"context"
	"encoding/binary"
	"log/slog"
	"strconv"
	"strings"
	"testing"

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
