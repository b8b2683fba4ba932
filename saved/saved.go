// Package saved keeps named searches (a query, a time range and the columns
// shown) for the web UI, in the storage's database beside the alert rules,
// so that one backup holds them too.
package saved

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/logengine/logengine/internal/duration"
	"github.com/logengine/logengine/storage"
)

// Limits of a saved search.
const (
	MaxName    = 200
	MaxQuery   = 8 << 10
	MaxColumns = 50
)

// Search is one saved search. The range is either relative (Range: a
// duration such as "1h", or "all") or absolute (From and/or To).
type Search struct {
	Name    string    `json:"name"`
	Query   string    `json:"query"`
	Range   string    `json:"range,omitempty"`
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Columns []string  `json:"columns"`
	Updated time.Time `json:"updated"`
}

// InputError is a saved search that cannot be stored, saying what to fix.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// InvalidInput marks the error as the request's fault.
func (e *InputError) InvalidInput() bool { return true }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Validate checks a search before it is stored.
func (s *Search) Validate() error {
	switch {
	case s.Name == "":
		return inputErrorf("a saved search needs a name")
	case utf8.RuneCountInString(s.Name) > MaxName:
		return inputErrorf("the name has more than %d characters", MaxName)
	case !utf8.ValidString(s.Name) || strings.IndexFunc(s.Name, unicode.IsControl) >= 0:
		return inputErrorf("the name %q holds a control character or invalid UTF-8", s.Name)
	case strings.TrimSpace(s.Name) != s.Name:
		return inputErrorf("the name %q starts or ends with a space", s.Name)
	case len(s.Query) > MaxQuery:
		return inputErrorf("the query has more than %d bytes", MaxQuery)
	case len(s.Columns) > MaxColumns:
		return inputErrorf("%d columns: at most %d", len(s.Columns), MaxColumns)
	}
	for _, c := range s.Columns {
		if c == "" || len(c) > MaxName {
			return inputErrorf("column %q: a column is a field name of 1 to %d characters", c, MaxName)
		}
	}
	if s.Range != "" {
		if !s.From.IsZero() || !s.To.IsZero() {
			return inputErrorf("give either range (relative, such as 1h) or from and to (absolute), not both")
		}
		if s.Range != "all" {
			if d, err := duration.Parse(s.Range); err != nil || d <= 0 {
				return inputErrorf("range %q: write a duration such as 15m, 1h or 7d, or all", s.Range)
			}
		}
	} else if s.From.IsZero() && s.To.IsZero() {
		return inputErrorf("a saved search needs a range (such as 1h, or all) or from and to")
	}
	if !s.From.IsZero() && !s.To.IsZero() && !s.From.Before(s.To) {
		return inputErrorf("from (%s) must be before to (%s)", s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
	}
	return nil
}

// Store reads and writes saved searches.
type Store struct {
	bucket *storage.Bucket
	now    func() time.Time
}

// New returns the saved searches kept in store.
func New(store *storage.Store) *Store {
	return &Store{bucket: store.Bucket("saved.searches"), now: time.Now}
}

// Put stores s under its name, replacing a search of that name, and
// returns it as stored.
func (st *Store) Put(s Search) (Search, error) {
	if err := s.Validate(); err != nil {
		return Search{}, err
	}
	if s.Columns == nil {
		s.Columns = []string{}
	}
	s.Updated = st.now().UTC()
	b, err := json.Marshal(s)
	if err != nil {
		return Search{}, fmt.Errorf("encode saved search %q: %w", s.Name, err)
	}
	if err := st.bucket.Put(s.Name, b); err != nil {
		return Search{}, fmt.Errorf("store saved search %q: %w", s.Name, err)
	}
	return s, nil
}

// Get returns the search of that name, or an error matching
// storage.ErrNotFound.
func (st *Store) Get(name string) (Search, error) {
	b, err := st.bucket.Get(name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return Search{}, fmt.Errorf("no saved search is named %q: %w", name, storage.ErrNotFound)
		}
		return Search{}, fmt.Errorf("read saved search %q: %w", name, err)
	}
	var s Search
	if err := json.Unmarshal(b, &s); err != nil {
		return Search{}, fmt.Errorf("decode saved search %q: %w", name, err)
	}
	return s, nil
}

// List returns every saved search by name.
func (st *Store) List(ctx context.Context) ([]Search, error) {
	out := []Search{}
	err := st.bucket.Scan(ctx, "", func(key string, value []byte) error {
		var s Search
		if err := json.Unmarshal(value, &s); err != nil {
			return fmt.Errorf("decode saved search %q: %w", key, err)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list saved searches: %w", err)
	}
	slices.SortFunc(out, func(a, b Search) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete removes the search of that name; a missing one is an error
// matching storage.ErrNotFound.
func (st *Store) Delete(name string) error {
	if _, err := st.Get(name); err != nil {
		return err
	}
	if err := st.bucket.Delete(name); err != nil {
		return fmt.Errorf("delete saved search %q: %w", name, err)
	}
	return nil
}
