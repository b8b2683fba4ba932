package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestViewPanicBecomesError: a panic inside a read (Badger trusts its
// files) fails the read with an error naming the file and the way out.
func TestViewPanicBecomesError(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	err := s.view(func(*badger.Txn) error { panic("table 000007.sst: bad block") })
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "000007.sst") {
		t.Fatalf("view of a panicking read: %v", err)
	}
}
