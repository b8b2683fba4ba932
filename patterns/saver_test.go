package patterns

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// memState is a StateStore in memory that counts its writes.
type memState struct {
	mu   sync.Mutex
	data map[string][]byte
	puts int
	err  error
}

func (m *memState) Put(key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.data == nil {
		m.data = map[string][]byte{}
	}
	m.data[key] = append([]byte(nil), value...)
	m.puts++
	return nil
}

func (m *memState) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[key]
}

func (m *memState) writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts
}

// runSaver starts s.Run and stops it at the end of the test.
func runSaver(t *testing.T, s *Saver) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestSaverSyncSavesNewIDs(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the saver stops
	ctx := context.Background()
	m := newMiner(t, DefaultConfig())
	st := &memState{}
	s := NewSaver(m, st, SaverOptions{Interval: time.Hour})
	runSaver(t, s)

	id, isNew := m.Add("auth", "session 17 opened from 10.0.0.1")
	if !isNew {
		t.Fatal("first message did not start a template")
	}
	if err := s.Sync(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st.writes() != 1 {
		t.Fatalf("writes after the first Sync = %d, want 1", st.writes())
	}
	// A covered id does not save again.
	id2, isNew := m.Add("auth", "session 18 opened from 10.0.0.2")
	if isNew || id2 != id {
		t.Fatalf("same kind of message: id %d (new %v), want %d", id2, isNew, id)
	}
	if err := s.Sync(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if st.writes() != 1 {
		t.Errorf("writes after a Sync of a saved id = %d, want 1", st.writes())
	}

	// The saved state gives the same ids to the same kinds of messages,
	// and a new template an id never handed out before.
	loaded := newMiner(t, DefaultConfig())
	if err := loaded.UnmarshalBinary(st.get(StateKey)); err != nil {
		t.Fatal(err)
	}
	if got, _ := loaded.Add("auth", "session 19 opened from 10.0.0.3"); got != id {
		t.Errorf("id after reload = %d, want %d", got, id)
	}
	if got, _ := loaded.Add("auth", "disk full on /var"); got <= id {
		t.Errorf("new template after reload got id %d, not above the saved %d", got, id)
	}
}

func TestSaverCoalescesConcurrentSyncs(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the saver stops
	m := newMiner(t, DefaultConfig())
	st := &memState{}
	s := NewSaver(m, st, SaverOptions{Interval: time.Hour})
	runSaver(t, s)

	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every caller starts a template of its own source.
			id, _ := m.Add(string(rune('a'+i%26))+string(rune('a'+i/26)), "service started")
			errs <- s.Sync(context.Background(), id)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := st.writes(); n < 1 || n > callers {
		t.Fatalf("writes = %d, want between 1 and %d", n, callers)
	}
	t.Logf("%d callers, %d writes", callers, st.writes())
	loaded := newMiner(t, DefaultConfig())
	if err := loaded.UnmarshalBinary(st.get(StateKey)); err != nil {
		t.Fatal(err)
	}
	if got := loaded.Stats().Templates; got != callers {
		t.Errorf("saved templates = %d, want %d", got, callers)
	}
}

func TestSaverSyncReportsFailure(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the saver stops
	m := newMiner(t, DefaultConfig())
	boom := errors.New("disk on fire")
	st := &memState{err: boom}
	s := NewSaver(m, st, SaverOptions{Interval: time.Hour})
	runSaver(t, s)

	id, _ := m.Add("auth", "session opened")
	if err := s.Sync(context.Background(), id); !errors.Is(err, boom) {
		t.Fatalf("Sync = %v, want %v", err, boom)
	}
	if got := s.Stats().Failures; got != 1 {
		t.Errorf("failures = %d, want 1", got)
	}
	// Once the store works again, the next Sync saves.
	st.mu.Lock()
	st.err = nil
	st.mu.Unlock()
	if err := s.Sync(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

func TestSaverSyncAfterStop(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the saver stops
	m := newMiner(t, DefaultConfig())
	s := NewSaver(m, &memState{}, SaverOptions{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	id, _ := m.Add("auth", "session opened")
	if err := s.Sync(context.Background(), id); !errors.Is(err, ErrSaverStopped) {
		t.Fatalf("Sync after Run ended = %v, want ErrSaverStopped", err)
	}
}

func TestSaverPeriodicSave(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the saver stops
	m := newMiner(t, DefaultConfig())
	st := &memState{}
	s := NewSaver(m, st, SaverOptions{Interval: 5 * time.Millisecond})
	runSaver(t, s)
	m.Add("auth", "session opened")
	deadline := time.Now().Add(5 * time.Second)
	for st.writes() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no periodic save of a changed state")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing changed since: no further writes.
	n := st.writes()
	time.Sleep(50 * time.Millisecond)
	if st.writes() != n {
		t.Errorf("writes went on from %d to %d with nothing changed", n, st.writes())
	}
}
