package storage

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
)

// TestPostingsOffsetFormGolden: a posting list written by the build
// before the delta-sequence form (testdata/postings, its commit's first
// sequence 1000) reads the IDs it was written with.
func TestPostingsOffsetFormGolden(t *testing.T) {
	v, err := os.ReadFile("testdata/postings/offset-form.bin")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("testdata/postings/offset-form-ids.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []ID
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	if v[0] == postingsDeltaSeq {
		t.Fatal("the golden list is in the delta-sequence form")
	}
	got, err := decodePostings(nil, v, 1000, ID{}, ID{Nanos: math.MaxInt64, Seq: math.MaxUint64})
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("decodePostings: %d IDs, %v; want %d", len(got), err, len(want))
	}
}
