package patterns

import "testing"

func TestIDText(t *testing.T) {
	for _, id := range []uint64{1, 35, 36, 4321, 1<<32 - 1, 1<<64 - 1} {
		got, err := ParseID(FormatID(id))
		if err != nil || got != id {
			t.Fatalf("ParseID(FormatID(%d)) = %d, %v", id, got, err)
		}
	}
	for _, bad := range []string{"", "p", "3f9", "P3f9", "p3F9", "p-1", "p0", "pzzzzzzzzzzzzzzzzzzzz", "p3f9 "} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}
