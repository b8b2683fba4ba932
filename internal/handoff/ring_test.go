package handoff

import (
	"slices"
	"testing"

	"github.com/logengine/logengine/storage"
)

func TestRing(t *testing.T) {
	entry := func(seq uint64) storage.Entry {
		return storage.Entry{ID: storage.ID{Nanos: int64(seq) * 1000, Seq: seq}, Message: "m"}
	}
	id := func(seq uint64) storage.ID { return entry(seq).ID }
	tests := []struct {
		name      string
		put       []uint64
		forget    func(r *Ring[uint64])
		take      []uint64
		wantTaken []uint64
	}{
		{"nothing handed over", nil, nil, []uint64{1, 2}, nil},
		{"all handed over", []uint64{1, 2, 3}, nil, []uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{"some handed over", []uint64{2}, nil, []uint64{1, 2, 3}, []uint64{2}},
		// Seq 1+Slots overwrote seq 1's slot: 1 is read back.
		{"slot reused", []uint64{1, 1 + Slots}, nil, []uint64{1, 1 + Slots}, []uint64{1 + Slots}},
		{"cleared", []uint64{1, 2}, func(r *Ring[uint64]) { r.Clear() }, []uint64{1, 2}, nil},
		{"dropped", []uint64{1, 2}, func(r *Ring[uint64]) { r.Drop([]storage.ID{id(1)}) }, []uint64{1, 2}, []uint64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Ring[uint64]
			var entries []storage.Entry
			for _, s := range tt.put {
				entries = append(entries, entry(s))
			}
			r.Put(entries, func(e *storage.Entry) uint64 { return e.ID.Seq })
			if tt.forget != nil {
				tt.forget(&r)
			}
			if got := r.Held(); got != len(tt.wantTaken) {
				t.Fatalf("Held() = %d, want %d", got, len(tt.wantTaken))
			}
			var ids, wantMissing []storage.ID
			for _, s := range tt.take {
				ids = append(ids, id(s))
				if !slices.Contains(tt.wantTaken, s) {
					wantMissing = append(wantMissing, id(s))
				}
			}
			var taken []uint64
			missing := r.Take(ids, func(seq uint64) { taken = append(taken, seq) }, nil)
			if !slices.Equal(taken, tt.wantTaken) || !slices.Equal(missing, wantMissing) {
				t.Fatalf("took %v, missing %v; want %v, %v", taken, missing, tt.wantTaken, wantMissing)
			}
			if r.Held() != 0 {
				t.Fatalf("%d values still held after Take", r.Held())
			}
		})
	}
}
