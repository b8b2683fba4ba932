package logs

import (
	"strings"
	"testing"
)

// asciiCase maps the ASCII letters of s with f and leaves every other byte
// as it is (strings.ToUpper would also turn some non-ASCII letters into
// ASCII ones, such as 'ſ' into 'S').
func asciiCase(s string, upper bool) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// FuzzParseID checks the text form of IDs: ParseID accepts exactly the
// 26-character Crockford base32 strings of 128 bits, in either case, and
// what it accepts prints back as the same string in upper case; the text
// form of every ID parses back to it, and (for the times entries can have,
// from 1970 on) sorts like the IDs.
func FuzzParseID(f *testing.F) {
	for _, id := range []ID{{}, {Nanos: 1764151200123456789, Seq: 7}, MaxID, {Nanos: -1, Seq: 1}} {
		f.Add(id.String(), id.Nanos, id.Seq, int64(0), uint64(0))
	}
	f.Add("01knzh6nt4m2bq3ggs6b5z6s8r", int64(1), uint64(2), int64(1), uint64(3))
	f.Add("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", int64(2), uint64(0), int64(1), uint64(9))
	f.Add("0000000000000000000000000I", int64(0), uint64(1), int64(0), uint64(0))
	f.Add("0000000000000000000000000ſ", int64(5), uint64(1), int64(5), uint64(1))
	f.Add("7ZZZZZZZZZZZZZZZZZZZZZZZZ", int64(5), uint64(1), int64(5), uint64(1))
	f.Fuzz(func(t *testing.T, s string, n1 int64, s1 uint64, n2 int64, s2 uint64) {
		id, err := ParseID(s)
		up, errUp := ParseID(asciiCase(s, true))
		low, errLow := ParseID(asciiCase(s, false))
		if (err == nil) != (errUp == nil) || (err == nil) != (errLow == nil) || up != id || low != id {
			t.Fatalf("ParseID is not case-insensitive on %q: %v %v, upper %v %v, lower %v %v", s, id, err, up, errUp, low, errLow)
		}
		if err == nil {
			if len(s) != IDLen {
				t.Fatalf("ParseID(%q) accepted %d characters", s, len(s))
			}
			if got := id.String(); got != asciiCase(s, true) {
				t.Fatalf("ParseID(%q) = %v, which prints as %q", s, id, got)
			}
		}

		a, b := ID{Nanos: n1, Seq: s1}, ID{Nanos: n2, Seq: s2}
		for _, x := range []ID{a, b} {
			str := x.String()
			if len(str) != IDLen {
				t.Fatalf("%+v prints as %q, not %d characters", x, str, IDLen)
			}
			if got, err := ParseID(str); err != nil || got != x {
				t.Fatalf("ParseID(%q) = %+v, %v; want %+v", str, got, err, x)
			}
			if got, err := ParseID(strings.ToLower(str)); err != nil || got != x {
				t.Fatalf("ParseID(%q) = %+v, %v; want %+v", strings.ToLower(str), got, err, x)
			}
		}
		if n1 >= 0 && n2 >= 0 {
			if got, want := strings.Compare(a.String(), b.String()), a.Compare(b); got != want {
				t.Fatalf("%+v and %+v compare %d, their text forms %q and %q %d", a, b, want, a.String(), b.String(), got)
			}
		}
	})
}
