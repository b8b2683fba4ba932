package storage

import "slices"

// commitPostings gathers the posting lists of one commit: for each index
// value of each day the commit touches, the IDs of its entries that hold
// the value. It was a map keyed by (day, kind, name, value) with a list
// growing per key, which cost a hash of the whole key for every value of
// every entry and a reallocation each time a list doubled: a third of a
// microsecond per entry, as much as encoding its block. Here values are
// looked up per day and kind (a level is an array index, a source equal
// to the previous entry's needs no lookup), each entry's values are first
// noted as (list, entry) pairs, and the lists are then carved out of one
// array of the exact size.
type commitPostings struct {
	keys  []postingKey
	lists [][]ID // IDs of keys[i], in entry order
	refs  []postingRef
}

// postingRef notes that entry holds the value of list.
type postingRef struct{ list, entry int32 }

// collect gathers the lists of entries (their IDs set), day run by day run.
// indexed names the fields that have lists besides level, source and tags.
func (p *commitPostings) collect(entries []Entry, runs []dayRun, indexed map[string]bool) {
	p.keys, p.lists, p.refs = p.keys[:0], p.lists[:0], p.refs[:0]
	for _, r := range runs {
		p.collectRun(entries, r, indexed)
	}
	counts := make([]int32, len(p.keys))
	for _, ref := range p.refs {
		counts[ref.list]++
	}
	all := make([]ID, len(p.refs))
	at := 0
	for _, n := range counts {
		end := at + int(n)
		p.lists = append(p.lists, all[at:at:end])
		at = end
	}
	for _, ref := range p.refs {
		p.lists[ref.list] = append(p.lists[ref.list], entries[ref.entry].ID)
	}
}

// release drops what the lists hold of the commit's entries (their
// sources and tags), keeping the arrays for the next commit.
func (p *commitPostings) release() {
	clear(p.keys)
	clear(p.lists)
}

func (p *commitPostings) collectRun(entries []Entry, r dayRun, indexed map[string]bool) {
	var levels [256]int32 // list number + 1 of each level; 0: none yet
	sources := make(map[string]int32)
	var tags map[string]int32
	var fields map[[2]string]int32
	lastSource, lastList := "", int32(-1)
	newList := func(kind byte, name, value string) int32 {
		p.keys = append(p.keys, postingKey{r.day, kind, name, value})
		return int32(len(p.keys) - 1)
	}
	for _, i := range r.idx {
		e := &entries[i]
		entry := int32(i)
		l := levels[e.Level] - 1
		if l < 0 {
			l = newList(kindLevel, "", levelValue(e.Level))
			levels[e.Level] = l + 1
		}
		p.refs = append(p.refs, postingRef{l, entry})

		if lastList < 0 || e.Source != lastSource {
			s, ok := sources[e.Source]
			if !ok {
				s = newList(kindSource, "", e.Source)
				sources[e.Source] = s
			}
			lastSource, lastList = e.Source, s
		}
		p.refs = append(p.refs, postingRef{lastList, entry})

		for j, t := range e.Tags {
			if slices.Contains(e.Tags[:j], t) {
				continue
			}
			if tags == nil {
				tags = make(map[string]int32)
			}
			k, ok := tags[t]
			if !ok {
				k = newList(kindTag, "", t)
				tags[t] = k
			}
			p.refs = append(p.refs, postingRef{k, entry})
		}

		if len(indexed) == 0 {
			continue
		}
		for _, f := range e.Fields {
			if !indexed[f.Name] {
				continue
			}
			if fields == nil {
				fields = make(map[[2]string]int32)
			}
			v := f.Value.Text()
			k, ok := fields[[2]string{f.Name, v}]
			if !ok {
				k = newList(kindField, f.Name, v)
				fields[[2]string{f.Name, v}] = k
			}
			p.refs = append(p.refs, postingRef{k, entry})
		}
	}
}
