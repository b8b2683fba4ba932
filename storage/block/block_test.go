package block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logengine/logengine/storage/logs"
)

// The property: random blocks encode, and decode back to exactly their
// entries (as storage returns them); the header agrees with statistics
// computed by brute force; every column decoded alone agrees with the full
// decode; the header survives Marshal and Unmarshal.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 400
	if testing.Short() {
		iterations = 50
	}
	for it := range iterations {
		entries, templates := randomBlock(rng)
		if templates != nil && it%2 == 0 {
			// The entries' own pattern ids, as storage passes them.
			for i := range entries {
				entries[i].Pattern = templates[i]
			}
			templates = nil
		}
		t.Run(fmt.Sprint(it), func(t *testing.T) {
			checkRoundTrip(t, entries, templates)
		})
		if t.Failed() {
			return
		}
	}
}

func checkRoundTrip(t testing.TB, entries []logs.Entry, templates []uint32) (Header, []byte) {
	t.Helper()
	h, body, err := Encode(entries, templates)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var h2 Header
	if err := h2.Unmarshal(h.Marshal()); err != nil {
		t.Fatalf("unmarshal header: %v", err)
	}
	if !reflect.DeepEqual(comparableHeader(h), comparableHeader(h2)) {
		t.Fatalf("header changed through Marshal:\n got %+v\nwant %+v", h2, h)
	}
	want := expectedEntries(entries)
	if templates != nil {
		for i := range want {
			want[i].Pattern = templates[i]
		}
	}
	got, err := Decode(&h2, body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(comparableEntries(got), comparableEntries(want)) {
		for i := range want {
			if !reflect.DeepEqual(comparableEntries(got[i:i+1]), comparableEntries(want[i:i+1])) {
				t.Fatalf("entry %d of %d:\n got %#v\nwant %#v", i, len(want), got[i], want[i])
			}
		}
		t.Fatalf("entries differ")
	}
	checkHeader(t, h, entries)
	checkTemplateLevels(t, &h2, got)
	checkColumns(t, &h2, body, got, templates)
	checkColumnAccessors(t, &h2, body, got, &FieldColumn{}, &StringColumn{})
	checkDecodeColumns(t, &h2, body, want)
	return h, body
}

// checkDecodeColumns checks DecodeColumns with every other field name of
// the block (and one it lacks): the entries without message, with exactly
// those fields' values in their order.
func checkDecodeColumns(t testing.TB, h *Header, body []byte, want []logs.Entry) {
	t.Helper()
	var names []string
	seen := map[string]bool{}
	for _, e := range want {
		for _, f := range e.Fields {
			if !seen[f.Name] {
				seen[f.Name] = true
				if len(seen)%2 == 1 {
					names = append(names, f.Name)
				}
			}
		}
	}
	names = append(names, "\x00not a field")
	got, err := DecodeColumns(h, body, names)
	if err != nil {
		t.Fatalf("DecodeColumns: %v", err)
	}
	exp := make([]logs.Entry, len(want))
	for i, e := range want {
		e.Message = ""
		var fs []logs.Field
		for _, f := range e.Fields {
			if slices.Contains(names, f.Name) {
				fs = append(fs, f)
			}
		}
		e.Fields = fs
		exp[i] = e
	}
	if !reflect.DeepEqual(comparableEntries(got), comparableEntries(exp)) {
		for i := range exp {
			if !reflect.DeepEqual(comparableEntries(got[i:i+1]), comparableEntries(exp[i:i+1])) {
				t.Fatalf("DecodeColumns(%q): entry %d of %d:\n got %#v\nwant %#v", names, i, len(exp), got[i], exp[i])
			}
		}
		t.Fatalf("DecodeColumns: entries differ")
	}
}

// expectedEntries returns entries as storage returns them: times in UTC
// from the ID, no empty slices.
func expectedEntries(entries []logs.Entry) []logs.Entry {
	out := make([]logs.Entry, len(entries))
	for i, e := range entries {
		e.Time = time.Unix(0, e.ID.Nanos).UTC()
		if len(e.Tags) == 0 {
			e.Tags = nil
		}
		if len(e.Fields) == 0 {
			e.Fields = nil
		}
		out[i] = e
	}
	return out
}

// comparableEntries makes floats comparable by their bits, so that NaNs
// (and their payloads) and -0 compare exactly under reflect.DeepEqual.
func comparableEntries(entries []logs.Entry) []logs.Entry {
	out := slices.Clone(entries)
	for i := range out {
		if out[i].Fields == nil {
			continue
		}
		out[i].Fields = slices.Clone(out[i].Fields)
		for j := range out[i].Fields {
			out[i].Fields[j].Value = comparableValue(out[i].Fields[j].Value)
		}
	}
	return out
}

func comparableValue(v logs.Value) logs.Value {
	if v.Kind == logs.KindFloat {
		v.Int, v.Float = int64(math.Float64bits(v.Float)), 0
	}
	return v
}

func comparableHeader(h Header) Header {
	h.Columns = slices.Clone(h.Columns)
	for i := range h.Columns {
		c := &h.Columns[i]
		c.Set = slices.Clone(c.Set)
		for j := range c.Set {
			c.Set[j] = comparableValue(c.Set[j])
		}
		c.MinFloat = math.Float64frombits(math.Float64bits(c.MinFloat)) // NaN never stored
	}
	return h
}

// checkHeader recomputes the header's statistics by brute force.
func checkHeader(t testing.TB, h Header, entries []logs.Entry) {
	t.Helper()
	if h.Count != len(entries) || h.MinID != entries[0].ID || h.MaxID != entries[len(entries)-1].ID {
		t.Fatalf("header count %d ids %s..%s", h.Count, h.MinID, h.MaxID)
	}
	if !h.MinTime().Equal(entries[0].Time) || !h.MaxTime().Equal(entries[len(entries)-1].Time) {
		t.Fatalf("header times %s..%s", h.MinTime(), h.MaxTime())
	}
	var levels [6]int
	tags := map[string]bool{}
	for _, e := range entries {
		levels[slices.Index(logs.Levels, e.Level)]++
		for _, tag := range e.Tags {
			tags[tag] = true
		}
	}
	if h.Levels != levels {
		t.Fatalf("level counts %v, want %v", h.Levels, levels)
	}
	for _, l := range logs.Levels {
		if h.LevelCount(l) != levels[slices.Index(logs.Levels, l)] {
			t.Fatalf("LevelCount(%s) = %d", l, h.LevelCount(l))
		}
	}
	wantTags := make([]string, 0, len(tags))
	for tag := range tags {
		wantTags = append(wantTags, tag)
	}
	slices.Sort(wantTags)
	if !slices.Equal(h.Tags, wantTags) {
		t.Fatalf("tags %q, want %q", h.Tags, wantTags)
	}

	// Values per column, by brute force.
	byColumn := map[string][]logs.Value{}
	entriesOf := map[string]int{}
	var names []string
	for _, e := range entries {
		seen := map[string]bool{}
		for _, f := range e.Fields {
			if _, ok := byColumn[f.Name]; !ok {
				names = append(names, f.Name)
			}
			byColumn[f.Name] = append(byColumn[f.Name], f.Value)
			if !seen[f.Name] {
				seen[f.Name] = true
				entriesOf[f.Name]++
			}
		}
	}
	var sources, messages []logs.Value
	for _, e := range entries {
		sources = append(sources, logs.String(e.Source))
		messages = append(messages, logs.String(e.Message))
	}
	checkStats(t, h.Column(ColumnSources), sources)
	checkStats(t, h.Column(ColumnMessages), messages)
	checkSourceLevels(t, &h, entries)
	var gotNames []string
	for _, c := range h.Columns {
		if c.Kind == ColumnField {
			gotNames = append(gotNames, c.Name)
		}
	}
	if !slices.Equal(gotNames, names) {
		t.Fatalf("field columns %q, want %q", gotNames, names)
	}
	for _, name := range names {
		c := h.Field(name)
		if c.Entries != entriesOf[name] || c.Values != len(byColumn[name]) {
			t.Fatalf("field %q: %d values in %d entries, want %d in %d", name, c.Values, c.Entries, len(byColumn[name]), entriesOf[name])
		}
		checkStats(t, c, byColumn[name])
		checkFilter(t, c, byColumn[name])
	}
}

// checkFilter checks that a column may have each of its values, and that
// its filter refuses most values it does not have.
func checkFilter(t testing.TB, c *Column, values []logs.Value) {
	t.Helper()
	has := map[logs.Value]bool{}
	for _, v := range values {
		has[v] = true
		switch v.Kind {
		case logs.KindString:
			if !c.MayHaveString(v.Str) {
				t.Fatalf("column %q: MayHaveString(%q) false", c.Name, v.Str)
			}
		case logs.KindInt:
			if !c.MayHaveInt(v.Int) {
				t.Fatalf("column %q: MayHaveInt(%d) false", c.Name, v.Int)
			}
		}
	}
	if c.Set == nil && c.Filter == nil && c.Kinds.Has(logs.KindString) {
		t.Fatalf("column %q of %d values has neither set nor filter", c.Name, len(values))
	}
	if c.Filter == nil {
		return
	}
	yes := 0
	for i := range 1000 {
		s := fmt.Sprintf("absent-%d", i)
		if !has[logs.String(s)] && c.MayHaveString(s) {
			yes++
		}
	}
	if yes > 100 {
		t.Fatalf("column %q: filter of %d bytes lets %d of 1000 absent strings through", c.Name, len(c.Filter), yes)
	}
}

// checkSourceLevels recomputes the per-source level counts, which a header
// keeps for up to maxDict sources.
func checkSourceLevels(t testing.TB, h *Header, entries []logs.Entry) {
	t.Helper()
	want := map[string][6]int{}
	for _, e := range entries {
		c := want[e.Source]
		c[slices.Index(logs.Levels, e.Level)]++
		want[e.Source] = c
	}
	got := map[string][6]int{}
	ok := h.EachSourceLevels(func(src []byte, levels *[6]int) {
		if _, dup := got[string(src)]; dup {
			t.Fatalf("source %q twice", src)
		}
		got[string(src)] = *levels
	})
	peeked := map[string][6]int{}
	ok2, err := EachSourceLevelsOf(h.Marshal(), func(src []byte, levels *[6]int) { peeked[string(src)] = *levels })
	if err != nil || ok2 != ok || !reflect.DeepEqual(peeked, got) {
		t.Fatalf("EachSourceLevelsOf = %v, %v, %v; EachSourceLevels = %v, %v", ok2, err, peeked, ok, got)
	}
	if ok != (len(want) <= maxDict) {
		t.Fatalf("source level counts kept %v for %d sources", ok, len(want))
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("source level counts %v, want %v", got, want)
	}
}

func TestSourceLevelsOfManySources(t *testing.T) {
	entries := make([]logs.Entry, 600)
	for i := range entries {
		id := logs.ID{Nanos: 1e18 + int64(i), Seq: uint64(i)}
		entries[i] = logs.Entry{ID: id, Time: id.Time(), Level: logs.Levels[i%6], Source: fmt.Sprint("s", i%(maxDict+1+i%2)), Message: "m"}
	}
	h := checkRoundTripHeader(t, entries)
	checkSourceLevels(t, &h, entries)
	for _, n := range []int{1, 2, maxDict} {
		h := checkRoundTripHeader(t, entries[:n])
		checkSourceLevels(t, &h, entries[:n])
	}
}

// TestHeaderVersion1 reads a header of the first format, without per-source
// level counts.
func TestHeaderVersion1(t *testing.T) {
	entries := make([]logs.Entry, 10)
	for i := range entries {
		id := logs.ID{Nanos: 1e18 + int64(i), Seq: uint64(i)}
		entries[i] = logs.Entry{ID: id, Time: id.Time(), Level: logs.LevelInfo, Source: "api", Message: "m"}
	}
	h, _, err := Encode(entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := h.Marshal()
	if !h.EachSourceLevels(func([]byte, *[6]int) {}) {
		t.Fatal("no source level counts")
	}
	v1 := h.marshal(headerVersionV1)
	if ok, err := EachSourceLevelsOf(v1, func([]byte, *[6]int) {}); ok || err != nil {
		t.Fatalf("EachSourceLevelsOf(version 1) = %v, %v", ok, err)
	}
	var old Header
	if err := old.Unmarshal(v1); err != nil {
		t.Fatalf("unmarshal version 1: %v", err)
	}
	if old.EachSourceLevels(func([]byte, *[6]int) {}) {
		t.Fatal("version 1 header has source level counts")
	}
	if old.Count != h.Count || old.Levels != h.Levels || len(old.Columns) != len(h.Columns) {
		t.Fatalf("version 1 header %+v, want %+v", old, h)
	}
	// Counts that do not add up are corrupt.
	bad := slices.Clone(b)
	at := bytes.Index(bad, h.sourceLevels) + len(h.sourceLevels) - 1
	bad[at]++
	// Reading a header does not check them (most reads need none); using
	// them does.
	var badh Header
	if err := badh.Unmarshal(bad); err != nil {
		t.Fatalf("unmarshal with wrong source counts: %v", err)
	}
	if badh.EachSourceLevels(func([]byte, *[6]int) { t.Fatal("counts of a corrupt header") }) {
		t.Fatal("wrong source counts used")
	}
	if _, err := EachSourceLevelsOf(bad, func([]byte, *[6]int) { t.Fatal("counts of a corrupt header") }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("EachSourceLevelsOf with wrong source counts: %v", err)
	}
}

// TestDecodeColumnsWithBuffers decodes random blocks one after the other
// with the same buffers and arrays, as a scan does, and compares each with
// a decode of its own.
func TestDecodeColumnsWithBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var bufs Buffers
	var dst []logs.Entry
	for it := range 200 {
		h, body, names := randomEncoded(t, rng)
		want, err := DecodeColumns(&h, body, names)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeColumnsWith(dst, &bufs, &h, body, names)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(comparableEntries(got), comparableEntries(want)) {
			t.Fatalf("block %d: decoded with reused buffers differs", it)
		}
		dst = got
	}
}

// randomEncoded returns a random block, encoded, and the names of about
// half its field columns.
func randomEncoded(t *testing.T, rng *rand.Rand) (Header, []byte, []string) {
	t.Helper()
	entries, templates := randomBlock(rng)
	h, body, err := Encode(entries, templates)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range h.Columns {
		if c.Kind == ColumnField && rng.IntN(2) == 0 {
			names = append(names, c.Name)
		}
	}
	return h, body, names
}

// TestDecodeRowsWith: decoding the rows of some IDs (some of them not in
// the block) gives exactly the entries of a whole decode with those IDs,
// with the same fields, for random blocks, with buffers reused.
func TestDecodeRowsWith(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var bufs Buffers
	var dst []logs.Entry
	for it := range 300 {
		h, body, names := randomEncoded(t, rng)
		whole, err := DecodeMessagesWith(nil, nil, &h, body, names)
		if err != nil {
			t.Fatal(err)
		}
		var ids []logs.ID
		var want []logs.Entry
		keep := rng.Float64()
		for _, e := range whole {
			if rng.Float64() < keep {
				ids = append(ids, e.ID)
				want = append(want, e)
			}
			if rng.IntN(8) == 0 { // not in the block
				ids = append(ids, logs.ID{Nanos: e.ID.Nanos, Seq: e.ID.Seq + 1<<40})
			}
		}
		slices.SortFunc(ids, logs.ID.Compare)
		got, err := DecodeRowsWith(dst, &bufs, &h, body, names, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(comparableEntries(got), comparableEntries(want))) {
			t.Fatalf("block %d: %d of %d rows decoded differ from a whole decode's", it, len(want), len(whole))
		}
		dst = got
		msgs, err := DecodeRowMessages(nil, &h, body, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(want) {
			t.Fatalf("block %d: %d messages of rows, want %d", it, len(msgs), len(want))
		}
		for i, e := range msgs {
			w := want[i]
			if e.ID != w.ID || !e.Time.Equal(w.Time) || e.Message != w.Message || e.Level != 0 || e.Source != "" || e.Tags != nil || e.Fields != nil {
				t.Fatalf("block %d: row message %+v, want the ID, time and message of %+v", it, e, w)
			}
		}
	}
}

// TestFramedMessages: a block of many distinct messages stores them in
// frames; it decodes whole and row by row like any block, and a decode of
// some rows decompresses only their frames (a damaged frame elsewhere does
// not fail it, while it fails a whole decode).
func TestFramedMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	framed, bySource := 0, 0
	defer func(gain int) { minGroupedGain = gain }(minGroupedGain)
	for it := range 12 {
		var entries []logs.Entry
		var templates []uint32
		for len(entries) < minFramedRows || entries[0].Message == entries[1].Message {
			entries, templates = randomBlock(rng)
		}
		// Every other block's messages grouped by source, when it has
		// several: the frames then hold rows out of row order.
		minGroupedGain = map[bool]int{true: -1000, false: 10}[it%2 == 1]
		h, body := checkRoundTrip(t, entries, templates)
		c := h.Column(ColumnMessages)
		if c.Codec != CodecFrames && c.Codec != CodecFramesBySource {
			continue // a dictionary: few distinct messages
		}
		framed++
		// order maps a stored position to its row.
		order := make([]int32, h.Count)
		for i := range order {
			order[i] = int32(i)
		}
		if c.Codec == CodecFramesBySource {
			bySource++
			o, err := blockSourceOrder(&h, body)
			if err != nil {
				t.Fatal(err)
			}
			order = o
		}
		var h2 Header
		if err := h2.Unmarshal(h.Marshal()); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(&h2, body)
		if err != nil {
			t.Fatal(err)
		}
		// The rows of the last frame only, with the first frame damaged.
		per, frames, err := framesOf(c, body, h.Count)
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) < 2 || frames[0].codec != CodecZstd {
			t.Fatalf("%d frames of %d rows, first %v", len(frames), per, frames[0].codec)
		}
		damaged := slices.Clone(body)
		off := c.Offset + (c.Length - sumStored(frames)) + len(frames[0].stored)/2
		damaged[off] ^= 0xff
		if _, err := Decode(&h2, damaged); err == nil {
			t.Fatalf("a whole decode with frame 0 damaged succeeded")
		}
		last := (len(frames) - 1) * per
		var picked []int
		for i := last; i < len(got); i += 1 + rng.IntN(50) {
			picked = append(picked, int(order[i]))
		}
		slices.Sort(picked)
		var ids []logs.ID
		var want []logs.Entry
		for _, row := range picked {
			ids = append(ids, got[row].ID)
			want = append(want, got[row])
		}
		names := []string{}
		for _, col := range h.Columns {
			if col.Kind == ColumnField {
				names = append(names, col.Name)
			}
		}
		rows, err := DecodeRowsWith(nil, nil, &h2, damaged, names, ids)
		if err != nil {
			t.Fatalf("rows of the last frame with the first damaged: %v", err)
		}
		if !reflect.DeepEqual(comparableEntries(rows), comparableEntries(want)) {
			t.Fatalf("rows of the last frame differ from a whole decode's")
		}
	}
	if framed < 4 || bySource < 2 {
		t.Fatalf("%d of 12 blocks framed, %d of them by source: the test checks too little", framed, bySource)
	}
}

// TestMessagesBySource: a framed messages column is grouped by source when
// the block has several sources whose lines are alike within a source and
// unlike across them (and not otherwise), which keeps each source's lines
// together in its frames; every way of reading the block gives each row
// its own message.
func TestMessagesBySource(t *testing.T) {
	defer func(rows, least, gain int) {
		frameRows, minFramedRows, minGroupedGain = rows, least, gain
	}(frameRows, minFramedRows, minGroupedGain)
	frameRows, minFramedRows = 100, 200
	for _, tc := range []struct {
		name    string
		sources int
		alike   bool // the lines of a source share most of their bytes
		force   bool // grouped whatever it saves
		want    Codec
	}{
		{"one source", 1, true, false, CodecFrames},
		{"20 sources", 20, true, false, CodecFramesBySource},
		{"lines unlike within a source", 20, false, false, CodecFrames},
		{"every source of a dictionary", maxDict, true, true, CodecFramesBySource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			minGroupedGain = 10
			if tc.force {
				minGroupedGain = -1000
			}
			rng := rand.New(rand.NewPCG(uint64(tc.sources), 3))
			text := func() string {
				b := make([]byte, 120)
				for i := range b {
					b[i] = 'a' + byte(rng.IntN(26))
				}
				return string(b)
			}
			vocab := make([]string, tc.sources)
			for i := range vocab {
				vocab[i] = text()
			}
			entries := make([]logs.Entry, 1000)
			for i := range entries {
				src := rng.IntN(tc.sources)
				if i < tc.sources {
					src = tc.sources - 1 - i // every source is there
				}
				msg := fmt.Sprintf("svc-%d %s %d", src, vocab[src], i)
				if !tc.alike {
					msg = fmt.Sprintf("%s %d", text(), i)
				}
				entries[i] = logs.Entry{
					ID: logs.ID{Nanos: int64(i), Seq: uint64(i + 1)}, Time: time.Unix(0, int64(i)).UTC(),
					Level: logs.Levels[0], Source: fmt.Sprint("svc-", src), Message: msg,
				}
			}
			h, body, err := Encode(entries, nil)
			if err != nil {
				t.Fatal(err)
			}
			c := h.Column(ColumnMessages)
			if c.Codec != tc.want {
				t.Fatalf("messages stored with codec %d, want %d", c.Codec, tc.want)
			}
			got, err := Decode(&h, body)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i].Message != entries[i].Message || got[i].Source != entries[i].Source {
					t.Fatalf("row %d: %q from %q, want %q from %q", i, got[i].Message, got[i].Source, entries[i].Message, entries[i].Source)
				}
			}
			msgs, err := DecodeMessages(&h, body)
			if err != nil {
				t.Fatal(err)
			}
			var ids []logs.ID
			var some []logs.Entry
			for i := range entries {
				if msgs[i] != entries[i].Message {
					t.Fatalf("DecodeMessages row %d: %q, want %q", i, msgs[i], entries[i].Message)
				}
				if rng.IntN(9) == 0 {
					ids = append(ids, entries[i].ID)
					some = append(some, got[i])
				}
			}
			rows, err := DecodeRowMessages(nil, &h, body, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(ids) {
				t.Fatalf("%d rows, want %d", len(rows), len(ids))
			}
			for i, e := range rows {
				if e.ID != ids[i] || e.Message != some[i].Message {
					t.Fatalf("row %v: %q, want %q", e.ID, e.Message, some[i].Message)
				}
			}
			whole, err := DecodeRowsWith(nil, nil, &h, body, nil, ids)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(comparableEntries(whole), comparableEntries(some)) {
				t.Fatalf("DecodeRowsWith differs from a whole decode")
			}
			if tc.want != CodecFramesBySource {
				return
			}
			// Stored in source order: each source's lines in one run.
			per, frames, err := framesOf(c, body, h.Count)
			if err != nil {
				t.Fatal(err)
			}
			changes := 0
			prev := ""
			for f := range frames {
				raw, err := frameBytes(c, &frames[f], nil)
				if err != nil {
					t.Fatal(err)
				}
				r := reader{b: raw}
				readStrings(&r, min(per, h.Count-f*per), func(_ int, s string) {
					src, _, _ := strings.Cut(s, " ")
					if src != prev {
						changes++
						prev = src
					}
				})
			}
			present := map[string]bool{}
			for _, e := range entries {
				present[e.Source] = true
			}
			if changes != len(present) {
				t.Fatalf("stored messages change source %d times, for %d sources", changes, len(present))
			}
		})
	}
}

func sumStored(frames []frame) int {
	n := 0
	for _, f := range frames {
		n += len(f.stored)
	}
	return n
}

func checkRoundTripHeader(t *testing.T, entries []logs.Entry) Header {
	t.Helper()
	h, _, err := Encode(entries, nil)
	if err != nil {
		t.Fatal(err)
	}
	var h2 Header
	if err := h2.Unmarshal(h.Marshal()); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return h2
}

func checkStats(t testing.TB, c *Column, values []logs.Value) {
	t.Helper()
	var kinds KindSet
	minInt, maxInt := int64(math.MaxInt64), int64(math.MinInt64)
	minFloat, maxFloat, nan := math.Inf(1), math.Inf(-1), false
	distinct := map[logs.Value]bool{}
	for _, v := range values {
		kinds |= 1 << v.Kind
		switch v.Kind {
		case logs.KindInt:
			minInt, maxInt = min(minInt, v.Int), max(maxInt, v.Int)
		case logs.KindFloat:
			if math.IsNaN(v.Float) {
				nan = true
			} else {
				minFloat, maxFloat = math.Min(minFloat, v.Float), math.Max(maxFloat, v.Float)
			}
		}
		distinct[comparableValue(v)] = true
	}
	name := fmt.Sprintf("%s column %q", c.Kind, c.Name)
	if c.Kinds != kinds {
		t.Fatalf("%s: kinds %#x, want %#x", name, c.Kinds, kinds)
	}
	if kinds.Has(logs.KindInt) && (c.MinInt != minInt || c.MaxInt != maxInt) {
		t.Fatalf("%s: ints %d..%d, want %d..%d", name, c.MinInt, c.MaxInt, minInt, maxInt)
	}
	if kinds.Has(logs.KindFloat) && (c.MinFloat != minFloat || c.MaxFloat != maxFloat || c.NaN != nan) {
		t.Fatalf("%s: floats %g..%g NaN %v, want %g..%g NaN %v", name, c.MinFloat, c.MaxFloat, c.NaN, minFloat, maxFloat, nan)
	}
	wantDistinct := len(distinct)
	if wantDistinct > MaxDistinct {
		wantDistinct = 0
	}
	if c.Distinct != wantDistinct {
		t.Fatalf("%s: %d distinct, want %d", name, c.Distinct, wantDistinct)
	}
	var wantSet []logs.Value
	if len(distinct) <= MaxSetValues {
		for v := range distinct {
			if len(v.Str) > MaxSetValueBytes {
				wantSet = nil
				break
			}
			if v.Kind == logs.KindFloat {
				v = logs.Float(math.Float64frombits(uint64(v.Int)))
			}
			wantSet = append(wantSet, v)
		}
	}
	// The header lists a column's values in compareValues' order.
	slices.SortFunc(wantSet, compareValues)
	got := slices.Clone(c.Set)
	for i := range got {
		got[i] = comparableValue(got[i])
	}
	for i := range wantSet {
		wantSet[i] = comparableValue(wantSet[i])
	}
	if !reflect.DeepEqual(got, wantSet) {
		t.Fatalf("%s: set %v, want %v", name, c.Set, wantSet)
	}
}

// checkColumns decodes every column alone and compares it with the entries
// of the full decode.
func checkColumns(t testing.TB, h *Header, body []byte, entries []logs.Entry, templates []uint32) {
	t.Helper()
	ids, err := DecodeIDs(h, body)
	if err != nil {
		t.Fatal(err)
	}
	levels, err := DecodeLevels(h, body)
	if err != nil {
		t.Fatal(err)
	}
	sources, err := DecodeSources(h, body)
	if err != nil {
		t.Fatal(err)
	}
	messages, err := DecodeMessages(h, body)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := DecodeTags(h, body)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := DecodeTemplates(h, body)
	if err != nil {
		t.Fatal(err)
	}
	if templates == nil {
		templates = make([]uint32, len(entries))
		for i := range entries {
			templates[i] = entries[i].Pattern
		}
	}
	if !slices.Equal(tmpl, templates) {
		t.Fatalf("templates %v, want %v", tmpl, templates)
	}
	for i, e := range entries {
		if ids[i] != e.ID || levels[i] != e.Level || sources[i] != e.Source || messages[i] != e.Message || !reflect.DeepEqual(tags[i], e.Tags) {
			t.Fatalf("entry %d: columns %s %s %q %q %q, full decode %+v", i, ids[i], levels[i], sources[i], messages[i], tags[i], e)
		}
	}
	names := []string{"absent field"}
	for _, c := range h.Columns {
		if c.Kind == ColumnField {
			names = append(names, c.Name)
		}
	}
	for _, name := range names {
		fv, err := DecodeField(h, body, name)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			var want []logs.Value
			for _, f := range e.Fields {
				if f.Name == name {
					want = append(want, comparableValue(f.Value))
				}
			}
			var got []logs.Value
			for _, v := range fv.All(i) {
				got = append(got, comparableValue(v))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("entry %d field %q: column gives %v, full decode %v", i, name, got, want)
			}
			v, ok := fv.Get(i)
			w, wok := e.Field(name)
			if ok != wok || comparableValue(v) != comparableValue(w) {
				t.Fatalf("entry %d field %q: Get gives %v %v, Entry.Field %v %v", i, name, v, ok, w, wok)
			}
		}
	}
}

var (
	zone      = time.FixedZone("UTC+5:30", 5*3600+1800)
	unicode   = []string{"", "a", "ünï", "日本語 ✓", "emoji 🙂", "\x00nul", "tab\tnew\nline", strings.Repeat("x", 70)}
	namePool  = []string{"host", "status", "latency_ms", "trace_id", "", "ключ", "a.b.c", "dup"}
	tagPool   = []string{"prod", "staging", "", "eu-west", "日本", "k8s"}
	floatPool = []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.Inf(1), math.Inf(-1), math.NaN(),
		math.Float64frombits(0x7ff8_0000_dead_beef), math.MaxFloat64, math.SmallestNonzeroFloat64}
	intPool = []int64{0, 1, -1, 200, 404, math.MaxInt64, math.MinInt64, 1 << 40}
)

// randomBlock returns the entries of one random block and maybe template
// ids. Each block picks its own shape (constant or varied levels, sources,
// field sets; few or many distinct values) so that every encoding is used.
func randomBlock(rng *rand.Rand) ([]logs.Entry, []uint32) {
	n := 1 + rng.IntN(200)
	if rng.IntN(10) == 0 {
		n = 1 + rng.IntN(3000)
	}
	day := logs.Day(rng.IntN(100_000))
	if rng.IntN(10) == 0 {
		day = logs.DayOf(math.MaxInt64) // the last whole day before 2262
		day--
	}
	// IDs: random times of the day with ties, random sequences (a later
	// time may have an older sequence), sorted.
	ids := make([]logs.ID, n)
	spread := int64(24 * time.Hour)
	if rng.IntN(3) == 0 {
		spread = int64(1 + rng.IntN(50)) // many ties
	}
	for i := range ids {
		ids[i] = logs.ID{Nanos: day.Start() + rng.Int64N(spread), Seq: rng.Uint64()}
		if rng.IntN(4) == 0 {
			ids[i].Seq = uint64(rng.IntN(1000))
		}
	}
	slices.SortFunc(ids, logs.ID.Compare)
	ids = slices.Compact(ids)
	n = len(ids)

	constLevel := rng.IntN(2) == 0
	level := logs.Levels[rng.IntN(len(logs.Levels))]
	sources := randomStrings(rng, []int{1, 3, 300}[rng.IntN(3)])
	messages := randomStrings(rng, []int{1, 10, 1000}[rng.IntN(3)])
	names := namePool[:1+rng.IntN(len(namePool))]
	fixedLayout := rng.IntN(2) == 0
	var layout []string
	for _, name := range names {
		if rng.IntN(2) == 0 {
			layout = append(layout, name)
		}
	}
	kindOf := map[string]logs.Kind{}
	for _, name := range names {
		kindOf[name] = logs.Kind(1 + rng.IntN(4))
	}
	mixKinds := rng.IntN(3) == 0
	manyValues := rng.IntN(3) == 0

	entries := make([]logs.Entry, n)
	for i, id := range ids {
		e := logs.Entry{ID: id, Time: time.Unix(0, id.Nanos).In(zone), Level: level,
			Source: sources[rng.IntN(len(sources))], Message: messages[rng.IntN(len(messages))]}
		if !constLevel {
			e.Level = logs.Levels[rng.IntN(len(logs.Levels))]
		}
		switch rng.IntN(4) {
		case 0:
		case 1:
			e.Tags = []string{} // empty, not nil
		default:
			for range 1 + rng.IntN(4) {
				e.Tags = append(e.Tags, tagPool[rng.IntN(len(tagPool))])
			}
		}
		fieldNames := layout
		if !fixedLayout {
			fieldNames = nil
			for range rng.IntN(7) {
				fieldNames = append(fieldNames, names[rng.IntN(len(names))]) // names may repeat
			}
			if rng.IntN(5) == 0 {
				e.Fields = []logs.Field{}
			}
		}
		for _, name := range fieldNames {
			k := kindOf[name]
			if mixKinds && rng.IntN(3) == 0 {
				k = logs.Kind(1 + rng.IntN(4))
			}
			e.Fields = append(e.Fields, logs.Field{Name: name, Value: randomValue(rng, k, manyValues)})
		}
		entries[i] = e
	}
	var templates []uint32
	switch rng.IntN(3) {
	case 0:
		templates = make([]uint32, n) // all zero: no column
	case 1:
		templates = make([]uint32, n)
		for i := range templates {
			if rng.IntN(3) == 0 {
				templates[i] = rng.Uint32()
			}
		}
	}
	return entries, templates
}

func randomStrings(rng *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = unicode[rng.IntN(len(unicode))] + fmt.Sprint(rng.IntN(1e6))
		if rng.IntN(20) == 0 {
			out[i] = unicode[rng.IntN(len(unicode))]
		}
	}
	return out
}

func randomValue(rng *rand.Rand, k logs.Kind, many bool) logs.Value {
	switch k {
	case logs.KindString:
		if many {
			return logs.String(randomStrings(rng, 1)[0])
		}
		return logs.String(unicode[rng.IntN(len(unicode))])
	case logs.KindInt:
		if many {
			return logs.Int(rng.Int64() - rng.Int64())
		}
		return logs.Int(intPool[rng.IntN(len(intPool))])
	case logs.KindFloat:
		if many {
			return logs.Float(rng.NormFloat64() * 1e6)
		}
		return logs.Float(floatPool[rng.IntN(len(floatPool))])
	}
	return logs.Bool(rng.IntN(2) == 0)
}

func TestEncodeValidation(t *testing.T) {
	day := logs.Day(20_000)
	at := func(ns int64, seq uint64) logs.Entry {
		id := logs.ID{Nanos: day.Start() + ns, Seq: seq}
		return logs.Entry{ID: id, Time: id.Time(), Level: logs.LevelInfo, Message: "m"}
	}
	mod := func(e logs.Entry, f func(*logs.Entry)) logs.Entry { f(&e); return e }
	cases := []struct {
		name      string
		entries   []logs.Entry
		templates []uint32
		want      string
	}{
		{"no entries", nil, nil, "no entries"},
		{"unsorted time", []logs.Entry{at(2, 1), at(1, 2)}, nil, "does not follow"},
		{"unsorted sequence", []logs.Entry{at(1, 2), at(1, 1)}, nil, "does not follow"},
		{"same id twice", []logs.Entry{at(1, 1), at(1, 1)}, nil, "does not follow"},
		{"two days", []logs.Entry{at(1, 1), at(int64(24*time.Hour), 2)}, nil, "is on"},
		{"time not id", []logs.Entry{mod(at(1, 1), func(e *logs.Entry) { e.Time = e.Time.Add(1) })}, nil, "does not match id"},
		{"before 1970", []logs.Entry{{ID: logs.ID{Nanos: -1}, Time: time.Unix(0, -1), Level: logs.LevelInfo}}, nil, "before 1970"},
		{"bad level", []logs.Entry{mod(at(1, 1), func(e *logs.Entry) { e.Level = 3 })}, nil, "level 3"},
		{"bad kind", []logs.Entry{mod(at(1, 1), func(e *logs.Entry) { e.Fields = []logs.Field{{Name: "x"}} })}, nil, `field "x" has kind 0`},
		{"templates of another length", []logs.Entry{at(1, 1)}, []uint32{1, 2}, "2 template ids for 1 entries"},
		{"too many entries", make([]logs.Entry, MaxEntries+1), nil, "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Encode(c.entries, c.templates)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Encode: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestEncodeEdgeCases(t *testing.T) {
	day := logs.Day(20_000)
	id := func(ns int64, seq uint64) logs.ID { return logs.ID{Nanos: day.Start() + ns, Seq: seq} }
	entry := func(id logs.ID, fields ...logs.Field) logs.Entry {
		return logs.Entry{ID: id, Time: id.Time(), Level: logs.LevelWarn, Source: "api", Message: "m", Fields: fields}
	}
	f := func(name string, v logs.Value) logs.Field { return logs.Field{Name: name, Value: v} }
	many := make([]logs.Entry, 1000)
	for i := range many {
		many[i] = entry(id(int64(i), uint64(i)), f("n", logs.Int(int64(i))), f("s", logs.String(fmt.Sprint(i))))
	}
	cases := []struct {
		name      string
		entries   []logs.Entry
		templates []uint32
		check     func(t *testing.T, h Header)
	}{
		{"one entry", []logs.Entry{entry(id(0, 0))}, nil, nil},
		{"first nanosecond of 1970", []logs.Entry{{ID: logs.ID{}, Time: time.Unix(0, 0), Level: logs.LevelTrace}}, nil, nil},
		{"last day before 2262", []logs.Entry{entry(logs.ID{Nanos: math.MaxInt64, Seq: math.MaxUint64})}, nil, nil},
		{"sequence wraps backwards", []logs.Entry{entry(id(0, math.MaxUint64)), entry(id(1, 0)), entry(id(1, 5))}, nil, nil},
		{"field only in some entries", []logs.Entry{entry(id(0, 1), f("a", logs.Int(1))), entry(id(1, 2)), entry(id(2, 3), f("a", logs.Int(2)))}, nil,
			func(t *testing.T, h Header) {
				if c := h.Field("a"); c.Entries != 2 || c.MinInt != 1 || c.MaxInt != 2 {
					t.Fatalf("column a: %+v", *c)
				}
			}},
		{"kind changes", []logs.Entry{entry(id(0, 1), f("a", logs.Int(1))), entry(id(1, 2), f("a", logs.String("1"))), entry(id(2, 3), f("a", logs.Float(1)))}, nil,
			func(t *testing.T, h Header) {
				if c := h.Field("a"); c.Kinds != kindBit(logs.KindInt)|kindBit(logs.KindString)|kindBit(logs.KindFloat) || c.Distinct != 3 {
					t.Fatalf("column a: %+v", *c)
				}
			}},
		{"name repeated in an entry", []logs.Entry{entry(id(0, 1), f("a", logs.Int(1)), f("b", logs.Bool(true)), f("a", logs.String("x")))}, nil, nil},
		{"only NaN floats", []logs.Entry{entry(id(0, 1), f("a", logs.Float(math.NaN())))}, nil,
			func(t *testing.T, h Header) {
				if c := h.Field("a"); !c.NaN || c.MinFloat <= c.MaxFloat {
					t.Fatalf("column a: %+v", *c)
				}
			}},
		{"empty field name and value", []logs.Entry{entry(id(0, 1), f("", logs.String("")))}, nil, nil},
		{"high cardinality", many, nil,
			func(t *testing.T, h Header) {
				if c := h.Field("n"); c.Distinct != 0 || c.Set != nil || c.MinInt != 0 || c.MaxInt != 999 {
					t.Fatalf("column n: %+v", *c)
				}
			}},
		{"template ids", []logs.Entry{entry(id(0, 1)), entry(id(1, 2))}, []uint32{0, math.MaxUint32},
			func(t *testing.T, h Header) {
				if c := h.Column(ColumnTemplates); c == nil || c.Entries != 1 {
					t.Fatalf("templates column: %+v", c)
				}
			}},
		{"no template ids", []logs.Entry{entry(id(0, 1))}, []uint32{0},
			func(t *testing.T, h Header) {
				if c := h.Column(ColumnTemplates); c != nil {
					t.Fatalf("templates column: %+v", c)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := checkRoundTrip(t, c.entries, c.templates)
			if c.check != nil {
				c.check(t, h)
			}
		})
	}
}

// A corrupt header or body is an error wrapping ErrCorrupt: every single
// byte flipped and every truncation of a real block.
func TestCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 20 {
		entries, templates := randomBlock(rng)
		if len(entries) > 50 {
			entries = entries[:50]
			if templates != nil {
				templates = templates[:50]
			}
		}
		h, body, err := Encode(entries, templates)
		if err != nil {
			t.Fatal(err)
		}
		hb := h.Marshal()
		for i := range hb {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				bad := slices.Clone(hb)
				bad[i] ^= x
				decodeAll(t, bad, body)
			}
			decodeAll(t, hb[:i], body)
		}
		// A flipped byte of a raw column may decode into another valid
		// value (compressed columns carry a checksum); it must never panic.
		for i := range body {
			bad := slices.Clone(body)
			bad[i] ^= 0xff
			decodeAll(t, hb, bad)
		}
		for i := range body {
			if err := decodeAll(t, hb, body[:i]); err == nil {
				t.Fatalf("body truncated to %d of %d bytes decoded", i, len(body))
			}
		}
	}
}

// decodeAll decodes everything it can; it fails the test on a panic or an
// error that does not wrap ErrCorrupt.
func decodeAll(t testing.TB, hb, body []byte) error {
	t.Helper()
	var h Header
	if err := h.Unmarshal(hb); err != nil {
		if !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "unknown version") {
			t.Fatalf("unmarshal: %v does not wrap ErrCorrupt", err)
		}
		return err
	}
	if n, lo, hi, err := PeekRange(hb); err != nil || n != h.Count || lo != h.MinID || hi != h.MaxID {
		t.Fatalf("PeekRange = %d %v %v %v, header has %d %v %v", n, lo, hi, err, h.Count, h.MinID, h.MaxID)
	}
	var first error
	check := func(err error) {
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v does not wrap ErrCorrupt", err)
		}
		if first == nil {
			first = err
		}
	}
	_, err := Decode(&h, body)
	check(err)
	_, err = DecodeIDs(&h, body)
	check(err)
	_, err = DecodeLevels(&h, body)
	check(err)
	_, err = DecodeSources(&h, body)
	check(err)
	_, err = DecodeMessages(&h, body)
	check(err)
	_, err = DecodeTags(&h, body)
	check(err)
	if len(h.Columns) > 0 {
		_, err = DecodeColumns(&h, body, []string{h.Columns[len(h.Columns)-1].Name})
		check(err)
	}
	_, err = DecodeTemplates(&h, body)
	check(err)
	decodeColumnAccessors(&h, body, check)
	for _, c := range h.Columns {
		if c.Kind == ColumnField {
			_, err = DecodeField(&h, body, c.Name)
			check(err)
		}
	}
	return first
}

// checkTemplateLevels recomputes the per-template counts of a header from
// the decoded entries' pattern ids.
func checkTemplateLevels(t testing.TB, h *Header, entries []logs.Entry) {
	t.Helper()
	type key struct {
		id    uint32
		level logs.Level
	}
	want := map[key]TemplateLevel{}
	ids := map[uint32]bool{}
	for _, e := range entries {
		if e.Pattern == 0 {
			continue
		}
		ids[e.Pattern] = true
		k := key{e.Pattern, e.Level}
		tl, ok := want[k]
		if !ok {
			tl = TemplateLevel{Level: e.Level, First: e.ID.Nanos, Last: e.ID.Nanos}
		}
		tl.Count++
		tl.First, tl.Last = min(tl.First, e.ID.Nanos), max(tl.Last, e.ID.Nanos)
		want[k] = tl
	}
	got := map[key]TemplateLevel{}
	ok := h.EachTemplateLevel(func(id uint32, tl TemplateLevel) { got[key{id, tl.Level}] = tl })
	if ok != (len(ids) <= maxHeaderTemplates) {
		t.Fatalf("template counts kept %v for %d templates", ok, len(ids))
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("template counts %v, want %v", got, want)
	}
	peeked := map[key]TemplateLevel{}
	levels, ok2, err := EachTemplateLevelOf(h.Marshal(), nil, func(id uint32, tl TemplateLevel) { peeked[key{id, tl.Level}] = tl })
	if err != nil || ok2 != ok || !reflect.DeepEqual(peeked, got) || levels != h.Levels {
		t.Fatalf("EachTemplateLevelOf = %v, %v, %d counts; EachTemplateLevel = %v, %d", ok2, err, len(peeked), ok, len(got))
	}
	// Kept apart from the header, the section reads the same, and the
	// header is smaller by it.
	whole := h.Marshal()
	hc := *h
	apart := hc.TakeTemplateLevels()
	rest := hc.Marshal()
	if len(apart) > 0 && len(rest)+len(apart) > len(whole) {
		t.Fatalf("header %d bytes with the section, %d without, section %d", len(whole), len(rest), len(apart))
	}
	clear(peeked)
	levels, ok3, err := EachTemplateLevelOf(rest, apart, func(id uint32, tl TemplateLevel) { peeked[key{id, tl.Level}] = tl })
	if err != nil || ok3 != ok || !reflect.DeepEqual(peeked, got) || levels != h.Levels {
		t.Fatalf("EachTemplateLevelOf apart = %v, %v, %d counts; EachTemplateLevel = %v, %d", ok3, err, len(peeked), ok, len(got))
	}
	if _, _, err := EachTemplateLevelOf(whole, apart, func(uint32, TemplateLevel) {}); len(apart) > 0 && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a section both in the header and apart: %v, want ErrCorrupt", err)
	}
}

// templateSectionV2 writes template counts in the form of version 2: the
// id itself, and both times as offsets from the block's first time.
func templateSectionV2(h *Header) []byte {
	type level struct {
		l  int
		tl TemplateLevel
	}
	byID := map[uint32][]level{}
	var ids []uint32
	h.EachTemplateLevel(func(id uint32, tl TemplateLevel) {
		if byID[id] == nil {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], level{levelIndex(tl.Level), tl})
	})
	slices.Sort(ids)
	b := binary.AppendUvarint(nil, uint64(len(ids))+1)
	for _, id := range ids {
		ls := byID[id]
		slices.SortFunc(ls, func(a, b level) int { return a.l - b.l })
		var mask byte
		for _, l := range ls {
			mask |= 1 << l.l
		}
		b = binary.AppendUvarint(b, uint64(id))
		b = append(b, mask)
		for _, l := range ls {
			b = binary.AppendUvarint(b, uint64(l.tl.Count))
			b = binary.AppendUvarint(b, uint64(l.tl.First-h.MinID.Nanos))
			b = binary.AppendUvarint(b, uint64(l.tl.Last-h.MinID.Nanos))
		}
	}
	return b
}

// Headers of version 2 keep reading with their template counts, in the
// header or apart, and stay version 2 when marshalled again; the version 3
// section is smaller.
func TestHeaderVersion2Templates(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tested := 0
	for tested < 20 {
		entries, templates := randomBlock(rng)
		if templates == nil {
			continue
		}
		h, _, err := Encode(entries, templates)
		if err != nil {
			t.Fatal(err)
		}
		want := map[[2]uint32]TemplateLevel{}
		if !h.EachTemplateLevel(func(id uint32, tl TemplateLevel) { want[[2]uint32{id, uint32(tl.Level)}] = tl }) {
			continue // more templates than a header counts
		}
		tested++
		v2 := h
		v2.templateLevels, v2.denseTemplates = templateSectionV2(&h), false
		// Smaller when there are counts; an empty section is a byte in both.
		if len(v2.templateLevels) < len(h.templateLevels) || len(want) > 0 && len(v2.templateLevels) == len(h.templateLevels) {
			t.Fatalf("version 3 section %d bytes, version 2 %d", len(h.templateLevels), len(v2.templateLevels))
		}
		apartH := v2
		apart := apartH.TakeTemplateLevels()
		for _, tc := range []struct {
			name   string
			header []byte
			apart  []byte
		}{
			{"in the header", v2.Marshal(), nil},
			{"apart", apartH.Marshal(), apart},
		} {
			if tc.header[0] != headerVersionV2 {
				t.Fatalf("%s: version %d, want 2", tc.name, tc.header[0])
			}
			got := map[[2]uint32]TemplateLevel{}
			_, ok, err := EachTemplateLevelOf(tc.header, tc.apart, func(id uint32, tl TemplateLevel) { got[[2]uint32{id, uint32(tl.Level)}] = tl })
			if err != nil || !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: EachTemplateLevelOf = %v, %v, %v; want %v", tc.name, ok, err, got, want)
			}
			var back Header
			if err := back.Unmarshal(tc.header); err != nil {
				t.Fatalf("%s: unmarshal: %v", tc.name, err)
			}
			if again := back.Marshal(); again[0] != headerVersionV2 {
				t.Fatalf("%s: marshalled again as version %d", tc.name, again[0])
			}
			if tc.apart == nil {
				clear(got)
				if !back.EachTemplateLevel(func(id uint32, tl TemplateLevel) { got[[2]uint32{id, uint32(tl.Level)}] = tl }) || !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: EachTemplateLevel = %v, want %v", tc.name, got, want)
				}
			}
		}
	}
}
