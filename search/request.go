package search

import (
	"fmt"
	"time"

	"github.com/logengine/logengine/storage"
)

// Sort is the order of search results. Ties on the sort key are broken by
// id in the same direction, so every answer orders them the same way.
type Sort int

// The sorts of search results (README.md, "Query language").
const (
	SortTimeDesc Sort = iota // -timestamp, the default
	SortTimeAsc
	SortSeverityDesc
	SortSeverityAsc
)

// ParseSort parses the sort parameter; empty is -timestamp.
func ParseSort(s string) (Sort, error) {
	switch s {
	case "", "-timestamp", "-time":
		return SortTimeDesc, nil
	case "timestamp", "+timestamp", "time":
		return SortTimeAsc, nil
	case "-severity", "-level":
		return SortSeverityDesc, nil
	case "severity", "+severity", "level":
		return SortSeverityAsc, nil
	}
	return 0, &InputError{Msg: fmt.Sprintf("sort %q is not one of -timestamp, timestamp, -severity, severity", s)}
}

func (s Sort) String() string {
	return [...]string{"-timestamp", "timestamp", "-severity", "severity"}[s]
}

// InputError blames the request: it answers 400 over HTTP.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// InvalidInput marks the error as the caller's to fix.
func (e *InputError) InvalidInput() bool { return true }

// Limits of one search.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Request is one search. Zero From/To leave the range open; From is
// inclusive, To exclusive.
type Request struct {
	Query    string
	From, To time.Time
	Sort     Sort
	Limit    int
	Cursor   string
	// WaitIndexed makes the search wait until the keyword index covers
	// everything acknowledged before it started.
	WaitIndexed bool
}

// Result is one page of a search.
type Result struct {
	Entries    []storage.Entry
	NextCursor string
	Took       time.Duration
	// Missing names the cluster peers whose part is missing from the
	// answer (down, or slower than the peer timeout); empty on one node.
	Missing []string
}

// AggRequest counts matching entries by one or more fields.
type AggRequest struct {
	Query    string
	From, To time.Time
	GroupBy  []string
	Limit    int // top N groups; zero means 10
}

// Group is one group of an aggregation: its key (one value per group-by
// field) and count. Keys are the level name, the source, each of an
// entry's tags, or a field's value keeping its type: a string stays a
// string however it looks ("404", "true", "9007199254740993"); a number is
// an int64 when its text is an integer, else a float64, so that the
// integer 404 and the float 404.0, which JSON writes alike, are one group
// 404, apart from the string "404"; a bool is a bool. A float that JSON
// cannot write (NaN, ±Inf) is the string of its text, as entries show it.
// nil stands for entries without the field (or without tags). Groups with
// equal counts are ordered by key: missing, false, true, numbers, strings,
// then by text.
type Group struct {
	Key   []any
	Count int64
}

// AggResult is the answer to an AggRequest: groups largest first.
type AggResult struct {
	Groups []Group
	Total  int64 // matching entries
	Other  int64 // sum of the counts of the groups not listed
	// Missing names the cluster peers whose part is missing (see Result).
	Missing []string
	// Inexact is set when a cluster answer cannot prove its top groups
	// and their counts exact (a peer had more groups than it sends); the
	// counts listed are then lower bounds. Always false on one node.
	Inexact bool
}

// HistRequest counts matching entries per time bucket.
type HistRequest struct {
	Query    string
	From, To time.Time
	Interval time.Duration // zero: chosen for about 60 buckets
	GroupBy  string        // optional split
}

// HistBucket is one bucket of a histogram. ByKey counts its entries by the
// group-by field's key (typed as in Group), largest first, ties in key
// order; Groups counts them by the key's text, where keys of different
// types with one text ("404" and 404) add up. Entries without the field
// are in Count but in no group.
type HistBucket struct {
	Start  time.Time
	Count  int64
	Groups map[string]int64
	ByKey  []KeyCount
}

// KeyCount is one group of a histogram bucket.
type KeyCount struct {
	Key   any
	Count int64
}

// HistResult is the answer to a HistRequest; empty buckets included.
type HistResult struct {
	Interval time.Duration
	Buckets  []HistBucket
	// Missing names the cluster peers whose part is missing (see Result).
	Missing []string
}
