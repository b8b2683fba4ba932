package search

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
	"github.com/logengine/logengine/storage/block"
)

// TestIntRange checks that the integer range a term is compiled into
// accepts exactly the integers the row matcher's check accepts, at the
// ends of int64 too.
func TestIntRange(t *testing.T) {
	ints := []int64{math.MinInt64, math.MinInt64 + 1, -405, -1, 0, 1, 403, 404, 405, math.MaxInt64 - 1, math.MaxInt64}
	for _, q := range []string{
		"n:404", "n:-1", "n:*", "n<404", "n<=404", "n>404", "n>=404",
		"n<-9223372036854775808", "n<=-9223372036854775808", "n>9223372036854775807", "n>=9223372036854775807",
		"n>-9223372036854775808", "n<9223372036854775807",
		"n:404.0", "n>403.5", "n:abc", "n<abc",
	} {
		t.Run(q, func(t *testing.T) {
			node, err := Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := compileColumns(node, func(Node) bool { return false })
			if !ok || c.op != colOnField {
				t.Fatalf("%q does not compile to a field check", q)
			}
			if !c.ints {
				return // checked value by value, as rows are
			}
			for _, x := range ints {
				if got, want := c.lo <= x && x <= c.hi, c.value(storage.Int(x)); got != want {
					t.Errorf("%q on %d: range [%d, %d] says %v, the value check %v", q, x, c.lo, c.hi, got, want)
				}
			}
		})
	}
}

// TestEvalOneKindInts checks the integer range check of a column against
// the values row by row, for a column every row has once (Dense, read
// without offsets) and one some rows lack, with and without a mask of the
// rows to check (the rows an AND's earlier terms left).
func TestEvalOneKindInts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		rows    int
		missing float64 // the share of rows without the field
		dense   bool
	}{
		{"every row, 1000 rows", 1000, 0, true},
		{"every row, 64 rows", 64, 0, true},
		{"every row, 65 rows", 65, 0, true},
		{"every row, 1 row", 1, 0, true},
		{"some rows lack it", 1000, 0.3, false},
	} {
		entries := make([]storage.Entry, tc.rows)
		values := make([]int64, tc.rows)
		has := make([]bool, tc.rows)
		for i := range entries {
			tm := t0.Add(time.Duration(i) * time.Millisecond)
			entries[i] = storage.Entry{ID: storage.ID{Nanos: tm.UnixNano(), Seq: uint64(i + 1)}, Time: tm, Level: storage.LevelInfo, Source: "s", Message: "m"}
			if i == 0 || rng.Float64() >= tc.missing {
				values[i], has[i] = int64(rng.IntN(600)), true
				entries[i].Fields = []storage.Field{{Name: "status", Value: storage.Int(values[i])}}
			}
		}
		h, body, err := block.Encode(entries, nil)
		if err != nil {
			t.Fatal(err)
		}
		var f colField
		if err := block.DecodeFieldColumn(&h, body, "status", &f.FieldColumn); err != nil {
			t.Fatal(err)
		}
		if f.Dense != tc.dense {
			t.Fatalf("%s: Dense %v", tc.name, f.Dense)
		}
		words := (tc.rows + 63) / 64
		for _, r := range [][2]int64{{500, math.MaxInt64}, {404, 404}, {math.MinInt64, 99}, {0, 599}, {1, 0}} {
			for _, withMask := range []bool{false, true} {
				var mask []uint64
				if withMask {
					mask = make([]uint64, words)
					for i := range mask {
						if rng.IntN(2) == 0 {
							mask[i] = rng.Uint64()
						}
					}
				}
				out := make([]uint64, words)
				f.evalOneKind(&colNode{ints: true, lo: r[0], hi: r[1]}, out, mask)
				for i := range tc.rows {
					if mask != nil && mask[i/64]&(1<<(i%64)) == 0 {
						continue // unspecified outside the mask
					}
					want := has[i] && r[0] <= values[i] && values[i] <= r[1]
					if got := out[i/64]&(1<<(i%64)) != 0; got != want {
						t.Fatalf("%s, range [%d, %d], mask %v: row %d (%d, present %v) gives %v", tc.name, r[0], r[1], withMask, i, values[i], has[i], got)
					}
				}
			}
		}
	}
}
