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
		size      int
		put       []uint64
		forget    func(r *Ring[uint64])
		take      []uint64
		wantTaken []uint64
	}{
		{"nothing handed over", 0, nil, nil, []uint64{1, 2}, nil},
		{"all handed over", 0, []uint64{1, 2, 3}, nil, []uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{"some handed over", 0, []uint64{2}, nil, []uint64{1, 2, 3}, []uint64{2}},
		// Seq 1+Slots overwrote seq 1's slot: 1 is read back.
		{"slot reused", 0, []uint64{1, 1 + Slots}, nil, []uint64{1, 1 + Slots}, []uint64{1 + Slots}},
		// A sized ring holds more than Slots, and wraps at its own size.
		{"sized ring holds more", 2 * Slots, []uint64{1, 1 + Slots}, nil, []uint64{1, 1 + Slots}, []uint64{1, 1 + Slots}},
		{"sized ring wraps", 4, []uint64{1, 2, 5}, nil, []uint64{1, 2, 5}, []uint64{2, 5}},
		{"cleared", 0, []uint64{1, 2}, func(r *Ring[uint64]) { r.Clear() }, []uint64{1, 2}, nil},
		{"dropped", 0, []uint64{1, 2}, func(r *Ring[uint64]) { r.Drop([]storage.ID{id(1)}) }, []uint64{1, 2}, []uint64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Ring[uint64]{Size: tt.size}
			var entries []storage.Entry
			for _, s := range tt.put {
				entries = append(entries, entry(s))
			}
			r.Put(entries, func(e *storage.Entry) (uint64, int) { return e.ID.Seq, 1 })
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

func TestRingMaxBytes(t *testing.T) {
	r := Ring[string]{MaxBytes: 10}
	batch := func(seqs ...uint64) []storage.Entry {
		var es []storage.Entry
		for _, s := range seqs {
			es = append(es, storage.Entry{ID: storage.ID{Nanos: int64(s), Seq: s}, Message: "four"})
		}
		return es
	}
	cost := func(e *storage.Entry) (string, int) { return e.Message, len(e.Message) }
	ids := func(seqs ...uint64) []storage.ID {
		var out []storage.ID
		for _, e := range batch(seqs...) {
			out = append(out, e.ID)
		}
		return out
	}

	// 4+4 fit in 10 bytes, the third does not and is left to be read back.
	r.Put(batch(1, 2, 3), cost)
	if got := r.Held(); got != 2 {
		t.Fatalf("Held() = %d after putting 12 bytes into 10, want 2", got)
	}
	missing := r.Take(ids(1), func(string) {}, nil)
	if len(missing) != 0 {
		t.Fatalf("seq 1 missing: %v", missing)
	}
	// Taking 1 freed its bytes: 4 fits again.
	r.Put(batch(4), cost)
	missing = r.Take(ids(2, 3, 4), func(string) {}, nil)
	if want := ids(3); !slices.Equal(missing, want) {
		t.Fatalf("missing %v, want %v", missing, want)
	}
	// Clear resets the account.
	r.Put(batch(5, 6), cost)
	r.Clear()
	r.Put(batch(7, 8), cost)
	if got := r.Held(); got != 2 {
		t.Fatalf("Held() = %d after Clear and two puts, want 2", got)
	}
}
