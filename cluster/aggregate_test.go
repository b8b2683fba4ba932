package cluster

import (
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/logengine/logengine/search"
	"github.com/logengine/logengine/storage"
)

// TestMergeGroups counts random keys on several nodes, each listing only
// its largest groups at random, against the counts of one node holding
// everything: an answer not marked inexact lists exactly the reference's
// top groups and counts; when every node lists all its groups the answer
// is exact; total and other always add up.
func TestMergeGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	keys := []any{nil, false, true, int64(404), int64(7), 1.5, "api", "web", "404", "auth"}
	for round := range 2000 {
		nodes := 1 + r.IntN(4)
		ref := map[string]int64{}
		refKey := map[string][]any{}
		parts := make([]aggPart, nodes)
		allListed := true
		for i := range parts {
			counts := map[string]int64{}
			nkeys := r.IntN(len(keys))
			for range nkeys {
				k := []any{keys[r.IntN(len(keys))]}
				enc := search.EncodeGroupKey(k)
				n := int64(1 + r.IntN(5))
				counts[enc] += n
				ref[enc] += n
				refKey[enc] = k
			}
			var groups []search.Group
			for enc, n := range counts {
				groups = append(groups, search.Group{Key: refKey[enc], Count: n})
				parts[i].total += n
			}
			sortGroups(groups)
			listed := len(groups)
			if len(groups) > 0 && r.IntN(2) == 0 {
				listed = r.IntN(len(groups)) + 1
			}
			allListed = allListed && listed == len(groups)
			for _, g := range groups[listed:] {
				parts[i].other += g.Count
			}
			parts[i].groups = groups[:listed]
		}
		var want []search.Group
		var total int64
		for enc, n := range ref {
			want = append(want, search.Group{Key: refKey[enc], Count: n})
			total += n
		}
		sortGroups(want)
		limit := 1 + r.IntN(4)
		want = want[:min(limit, len(want))]
		got := mergeGroups(parts, limit)
		if got.Total != total {
			t.Fatalf("round %d: total %d, want %d", round, got.Total, total)
		}
		var listed int64
		for _, g := range got.Groups {
			listed += g.Count
		}
		if got.Other != total-listed {
			t.Fatalf("round %d: other %d, want total %d - listed %d", round, got.Other, total, listed)
		}
		if allListed && got.Inexact {
			t.Fatalf("round %d: every node listed all its groups, yet the answer is marked inexact", round)
		}
		if got.Inexact {
			continue
		}
		if err := sameGroups(got.Groups, want); err != nil {
			t.Fatalf("round %d (limit %d, parts %+v): %v", round, limit, parts, err)
		}
	}
}

func sortGroups(gs []search.Group) {
	slices.SortFunc(gs, func(a, b search.Group) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(search.EncodeGroupKey(a.Key), search.EncodeGroupKey(b.Key))
	})
}

func sameGroups(got, want []search.Group) error {
	if len(got) != len(want) {
		return errors.New("a different number of groups")
	}
	for i := range got {
		if search.EncodeGroupKey(got[i].Key) != search.EncodeGroupKey(want[i].Key) || got[i].Count != want[i].Count {
			return errors.New("group " + string(rune('0'+i)) + " differs")
		}
	}
	return nil
}

// FuzzDecodePosition checks the cluster cursor from both ends: any string
// decodes or is refused with an InputError; what decodes encodes to a
// string that decodes to it again; every position a page ends with
// round-trips.
func FuzzDecodePosition(f *testing.F) {
	f.Add("", byte(0), byte(9), int64(1), uint64(1), "n")
	f.Add(position{sort: search.SortTimeAsc, level: storage.LevelError, id: storage.ID{Nanos: 5, Seq: 2}, node: "host:8080"}.encode(), byte(1), byte(17), int64(5), uint64(2), "a")
	f.Add("AgA", byte(3), byte(0), int64(-1), uint64(0), "")
	f.Fuzz(func(t *testing.T, s string, sortIdx, level byte, nanos int64, seq uint64, node string) {
		sorts := []search.Sort{search.SortTimeDesc, search.SortTimeAsc, search.SortSeverityDesc, search.SortSeverityAsc}
		want := position{sort: sorts[int(sortIdx)%len(sorts)], level: storage.Level(level), id: storage.ID{Nanos: nanos, Seq: seq}, node: node}
		got, err := decodePosition(want.encode(), want.sort)
		valid := node != "" && len(node) <= maxNodeName && strings.ToValidUTF8(node, "") == node
		if valid && (err != nil || got != want) {
			t.Fatalf("position %+v decodes to %+v, %v", want, got, err)
		}
		for _, so := range sorts {
			p, err := decodePosition(s, so)
			if err != nil {
				var ie *search.InputError
				if !errors.As(err, &ie) {
					t.Fatalf("decodePosition(%q): %T %v, want an InputError", s, err, err)
				}
				continue
			}
			again, err := decodePosition(p.encode(), so)
			if err != nil || again != p {
				t.Fatalf("decodePosition(%q) = %+v, which encodes to one decoding to %+v, %v", s, p, again, err)
			}
		}
	})
}
