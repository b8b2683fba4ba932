package search

import (
	"slices"
	"testing"

	"github.com/logengine/logengine/storage"
)

func TestRecentHandoff(t *testing.T) {
	entry := func(seq uint64) storage.Entry {
		return storage.Entry{ID: storage.ID{Nanos: int64(seq) * 1000, Seq: seq}, Message: "m"}
	}
	id := func(seq uint64) storage.ID { return entry(seq).ID }
	tests := []struct {
		name      string
		put       []uint64
		clear     bool
		take      []uint64
		wantTaken []uint64
	}{
		{"nothing handed over", nil, false, []uint64{1, 2}, nil},
		{"all handed over", []uint64{1, 2, 3}, false, []uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{"some handed over", []uint64{2}, false, []uint64{1, 2, 3}, []uint64{2}},
		// Seq 1+recentSlots overwrote seq 1's slot: 1 is read back.
		{"slot reused", []uint64{1, 1 + recentSlots}, false, []uint64{1, 1 + recentSlots}, []uint64{1 + recentSlots}},
		{"cleared", []uint64{1, 2}, true, []uint64{1, 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r recent
			var entries []storage.Entry
			for _, s := range tt.put {
				entries = append(entries, entry(s))
			}
			r.put(entries)
			if tt.clear {
				r.clear()
			}
			var ids, wantMissing []storage.ID
			for _, s := range tt.take {
				ids = append(ids, id(s))
				if !slices.Contains(tt.wantTaken, s) {
					wantMissing = append(wantMissing, id(s))
				}
			}
			var taken []uint64
			missing := r.take(ids, func(d recentDoc) { taken = append(taken, d.id.Seq) }, nil)
			if !slices.Equal(taken, tt.wantTaken) || !slices.Equal(missing, wantMissing) {
				t.Fatalf("took %v, missing %v; want %v, %v", taken, missing, tt.wantTaken, wantMissing)
			}
			// What was taken is forgotten.
			again := r.take(ids, func(d recentDoc) { t.Errorf("seq %d taken twice", d.id.Seq) }, nil)
			if len(again) != len(ids) {
				t.Fatalf("second take: %d missing, want %d", len(again), len(ids))
			}
		})
	}
}
