package search

import (
	"math"
	"testing"

	"github.com/logengine/logengine/storage"
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
