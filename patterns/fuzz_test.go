package patterns

import "testing"

// FuzzMiner checks that any messages are mined without a panic, that a
// repeated message keeps its template, and that the state survives a
// round trip.
func FuzzMiner(f *testing.F) {
	for _, s := range []string{
		"Invalid user admin from 10.0.0.1",
		`tag="View Lock", name=x`,
		"a 'b c' d",
		"\"\"=''",
		"<*> <*>",
		"",
		"x=\"unterminated",
		"size 1 KB 2 MB",
	} {
		f.Add(s, "Invalid user bob from 10.0.0.2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		cfg := DefaultConfig()
		cfg.MaxTemplates = 3
		m := newMiner(t, cfg)
		id, _ := m.Add("s", a)
		m.Add("s", b)
		again, _ := m.Add("s", a)
		want, ok := m.Resolve(id)
		if !ok || again != want {
			t.Fatalf("message %q: id %d (resolves to %d, %v), then %d", a, id, want, ok, again)
		}
		if _, ok := m.Template(again); !ok {
			t.Fatalf("template %d unknown", again)
		}
		state, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		loaded := newMiner(t, cfg)
		if err := loaded.UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		if after, _ := loaded.Add("s", a); after != again {
			t.Fatalf("message %q: id %d, after a restart %d", a, again, after)
		}
		// Any bytes decode or fail, without a panic.
		_ = newMiner(t, cfg).UnmarshalBinary([]byte(stateMagic + a))
	})
}
