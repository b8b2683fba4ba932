package patterns

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func newMiner(tb testing.TB, cfg Config) *Miner {
	tb.Helper()
	m, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestMask(t *testing.T) {
	tests := []struct {
		name, msg, want string
	}{
		{"numbers", "took 12 ms for 3 items", "took <*> for <*> items"},
		{"ip and port", "connect to 10.0.0.1:8080 failed", "connect to <*>:<*> failed"},
		{"bracketed ip", "checking [173.234.31.186] failed", "checking [<*>] failed"},
		{"uuid", "request 123e4567-e89b-12d3-a456-426614174000 done", "request <*> done"},
		{"hex", "ptr 0x7ffde2c0 and deadbeefcafe", "ptr <*> and <*>"},
		{"path", "open /var/log/messages ok", "open <*> ok"},
		{"url", "GET hdfs://host/a/b", "GET hdfs:<*>"},
		{"dotted name", "class org.apache.Foo loaded", "class <*> loaded"},
		{"sentence dot", "done.", "done."},
		{"key value digits", "uid=0 euid=10 tty=ssh", "uid=<*> euid=<*> tty=ssh"},
		{"key value quoted", `tag="View Lock", name=x`, `tag="<*>", name=x`},
		{"quoted prose kept", `service 'foo' on port 8`, `service 'foo' on port <*>`},
		{"apostrophe", "can't find child 42", "can't find child <*>"},
		{"date", "at Sun Jul 10 03:55:15 2005", "at <*> <*>:<*>:<*> <*>"},
		{"size unit", "size 1.2 KB, free 3 GB)", "size <*> <*>, free <*> <*>)"},
		{"id list", "delete blk_1 blk_2 blk_3", "delete <*>"},
		{"empty", "   ", ""},
		{"spaces", "a \t b", "a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m masker
			m.mask(tt.msg, 128)
			if got := string(m.key); got != tt.want {
				t.Errorf("mask(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

func TestMaskMaxTokens(t *testing.T) {
	var m masker
	m.mask("a b c d e", 3)
	if got, want := string(m.key), "a b c <*>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(m.ends) != 4 {
		t.Errorf("%d tokens, want 4", len(m.ends))
	}
}

func TestAddKeepsIDs(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	id1, isNew := m.Add("ssh", "Invalid user admin from 10.0.0.1")
	if !isNew {
		t.Error("first message: isNew = false")
	}
	if id, isNew := m.Add("ssh", "Invalid user admin from 10.0.0.2"); id != id1 || isNew {
		t.Errorf("same template: got %d %v, want %d false", id, isNew, id1)
	}
	other, _ := m.Add("other", "Invalid user admin from 10.0.0.1")
	if other == id1 {
		t.Error("sources share a template id")
	}
	// Words differ among a few values: templates of their own, until the
	// position has held Config.Variants words.
	idBob, _ := m.Add("ssh", "Invalid user bob from 10.0.0.3")
	if idBob == id1 {
		t.Error("a second word merged at once")
	}
	m.Add("ssh", "Invalid user carol from 10.0.0.4")
	idDan, _ := m.Add("ssh", "Invalid user dan from 10.0.0.5")
	if idDan != id1 {
		t.Errorf("after %d words, got id %d, want the oldest %d", DefaultConfig().Variants, idDan, id1)
	}
	if r, ok := m.Resolve(idBob); !ok || r != id1 {
		t.Errorf("Resolve(%d) = %d %v, want %d", idBob, r, ok, id1)
	}
	tm, ok := m.Template(idBob)
	if !ok || tm.ID != id1 || tm.Text != "Invalid user <*> from <*>" || tm.Count != 5 {
		t.Errorf("Template(%d) = %+v %v", idBob, tm, ok)
	}
	if id, _ := m.Add("ssh", "Invalid user bob from 10.0.0.3"); id != id1 {
		t.Errorf("a repeated message got %d after the merge, want %d", id, id1)
	}
	if st := m.Stats(); st.Merged != 2 || st.Templates != 2 || st.Sources != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestFewWordsStayApart(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	start, _ := m.Add("init", "cupsd startup succeeded")
	stop, _ := m.Add("init", "cupsd shutdown succeeded")
	if start == stop {
		t.Fatal("startup and shutdown share a template")
	}
	if id, _ := m.Add("init", "cupsd startup succeeded"); id != start {
		t.Errorf("got %d, want %d", id, start)
	}
}

func TestParts(t *testing.T) {
	got := Template{Text: "a <*> b=<*>"}.Parts()
	want := []Part{{Text: "a "}, {Text: Wildcard, Variable: true}, {Text: " b="}, {Text: Wildcard, Variable: true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEvictLeastRecentlySeen(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTemplates = 2
	m := newMiner(t, cfg)
	a, _ := m.Add("s", "alpha happened")
	b, _ := m.Add("s", "beta went wrong here")
	m.Add("s", "alpha happened") // b is now the least recently seen
	c, _ := m.Add("s", "gamma is a third statement entirely")
	if _, ok := m.Template(b); ok {
		t.Error("the least recently seen template was kept")
	}
	for _, id := range []uint64{a, c} {
		if _, ok := m.Template(id); !ok {
			t.Errorf("template %d was dropped", id)
		}
	}
	if st := m.Stats(); st.Evicted != 1 || st.Templates != 2 {
		t.Errorf("stats %+v", st)
	}
	if id, isNew := m.Add("s", "beta went wrong here"); !isNew || id == b {
		t.Errorf("an evicted template came back as %d (new %v)", id, isNew)
	}
}

func TestMaxSources(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSources = 1
	m := newMiner(t, cfg)
	m.Add("a", "hello")
	m.Add("b", "hello")
	m.Add("c", "hello")
	st := m.Stats()
	if st.Sources != 2 || st.Overflow != 2 {
		t.Errorf("stats %+v", st)
	}
	if got := m.Templates(OverflowSource); len(got) != 1 || got[0].Count != 2 {
		t.Errorf("overflow templates %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.Similarity = 0
	if _, err := New(bad); err == nil {
		t.Error("similarity 0 accepted")
	}
	bad = DefaultConfig()
	bad.Variants = 1
	if err := bad.Validate(); err == nil {
		t.Error("variants 1 accepted")
	}
}

// testMessages returns labelled lines when the Loghub samples are here,
// else generated ones.
func testMessages(tb testing.TB) []string {
	tb.Helper()
	if dir := loghubDir(); dir != "" {
		var msgs []string
		for _, sys := range loadLoghub(tb) {
			msgs = append(msgs, sys.contents...)
		}
		return msgs
	}
	return generatedMessages(4000)
}

// generatedMessages returns n lines from a few statements with varying
// values, words and lengths.
func generatedMessages(n int) []string {
	users := []string{"root", "admin", "oracle", "test", "guest", "git"}
	states := []string{"NEW", "RUNNING", "DONE"}
	msgs := make([]string, n)
	for i := range msgs {
		switch i % 6 {
		case 0:
			msgs[i] = fmt.Sprintf("Failed password for %s from 10.%d.%d.%d port %d ssh2", users[i%len(users)], i%256, i/7%256, i/3%256, 1024+i)
		case 1:
			msgs[i] = fmt.Sprintf("Received block blk_%d of size %d from /10.250.%d.%d", i*7919, i*31, i%256, i/5%256)
		case 2:
			msgs[i] = fmt.Sprintf("task_%d Task Transitioned from %s to %s", i, states[i%3], states[(i+1)%3])
		case 3:
			msgs[i] = fmt.Sprintf(`acquire lock=%d, flags=0x%x, tag="View Lock", name=com.android.systemui, ws=null, uid=%d, pid=%d`, i*13, i%16, 10000+i%50, 2000+i%300)
		case 4:
			msgs[i] = fmt.Sprintf("Finished task %d.0 in stage %d.0 (TID %d). %d bytes result sent to driver", i%40, i%7, i, 2000+i%900)
		default:
			msgs[i] = fmt.Sprintf("session opened for user %s by (uid=%d)", users[i%len(users)], i%3)
		}
	}
	return msgs
}

func TestMarshalRoundTrip(t *testing.T) {
	msgs := testMessages(t)
	cfg := DefaultConfig()
	cfg.MaxTemplates = 100 // evictions and aliases are part of the state
	m := newMiner(t, cfg)
	ids := make([]uint64, len(msgs))
	for i, msg := range msgs {
		ids[i], _ = m.Add(fmt.Sprint("src", i%3), msg)
	}
	state, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	loaded := newMiner(t, cfg)
	if err := loaded.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	again, err := loaded.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(state) {
		t.Error("the loaded state encodes differently")
	}
	for _, src := range []string{"src0", "src1", "src2"} {
		if a, b := fmt.Sprint(m.Templates(src)), fmt.Sprint(loaded.Templates(src)); a != b {
			t.Errorf("%s: templates differ after the round trip:\n%s\n%s", src, a, b)
		}
	}
	// Every id still known resolves the same, and a message of a live
	// template gets the same id from the loaded miner.
	for i, id := range ids {
		want, ok := m.Resolve(id)
		got, ok2 := loaded.Resolve(id)
		if ok != ok2 || got != want {
			t.Fatalf("Resolve(%d): %d %v, loaded %d %v", id, want, ok, got, ok2)
		}
		if !ok {
			continue
		}
		src := fmt.Sprint("src", i%3)
		before, _ := m.Add(src, msgs[i])
		after, _ := loaded.Add(src, msgs[i])
		if before != after {
			t.Fatalf("message %q: id %d before the restart, %d after", msgs[i], before, after)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	m := newMiner(t, DefaultConfig())
	m.Add("s", "hello world 1")
	state, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"magic":     []byte("XXXX"),
		"truncated": state[:len(state)-1],
		"trailing":  append(append([]byte{}, state...), 0),
	} {
		if err := newMiner(t, DefaultConfig()).UnmarshalBinary(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConcurrentAdd(t *testing.T) {
	msgs := generatedMessages(2000)
	m := newMiner(t, DefaultConfig())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, msg := range msgs {
				id, _ := m.Add(fmt.Sprint("src", (i+w)%2), msg)
				if _, ok := m.Template(id); !ok {
					t.Errorf("template %d of a message just added is unknown", id)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, err := m.MarshalBinary(); err != nil {
				t.Error(err)
			}
			m.Stats()
		}
	}()
	wg.Wait()
	for _, src := range []string{"src0", "src1"} {
		for _, tm := range m.Templates(src) {
			if strings.TrimSpace(tm.Text) == "" {
				t.Errorf("empty template %+v", tm)
			}
		}
	}
}
