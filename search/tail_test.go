package search

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/logengine/logengine/storage"
)

// TestTailTrimmedPast checks that a tail whose part of the journal was
// trimmed while its reader was slow ends with ErrTailBehind instead of
// skipping the entries, and that one whose part is kept gets them all.
func TestTailTrimmedPast(t *testing.T) {
	for _, trim := range []bool{false, true} {
		t.Run(fmt.Sprintf("trimmed=%v", trim), func(t *testing.T) {
			kwLeaks(t)
			env := kwNewEnv(t)
			engine := NewEngine(env.store, env.index, env.ix, EngineOptions{})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			appendOne := func(msg string) {
				t.Helper()
				e := storage.Entry{Time: time.Now(), Level: storage.LevelInfo, Source: "app", Message: msg}
				if _, err := env.store.Append(ctx, []storage.Entry{e}); err != nil {
					t.Fatal(err)
				}
			}
			got := make(chan string, 16)
			release := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- engine.Tail(ctx, "", func(e *storage.Entry) error {
					got <- e.Message
					<-release // a slow reader
					return nil
				})
			}()
			// The tail starts at the newest commit: commit until it has
			// seen one (it may see more than one).
			for received := false; !received; {
				appendOne("first")
				select {
				case <-got:
					received = true
				case <-time.After(50 * time.Millisecond):
				}
			}
			appendOne("second")
			appendOne("third")
			if trim {
				if _, err := env.store.TrimJournal(ctx, env.store.HighSeq()); err != nil {
					t.Fatal(err)
				}
			}
			close(release)
			if trim {
				if err := <-done; !errors.Is(err, ErrTailBehind) {
					t.Fatalf("Tail = %v, want ErrTailBehind", err)
				}
				return
			}
			var after []string
			for len(after) < 2 {
				if msg := <-got; msg != "first" {
					after = append(after, msg)
				}
			}
			if after[0] != "second" || after[1] != "third" {
				t.Fatalf("got %q, want second and third", after)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Tail = %v, want context.Canceled", err)
			}
		})
	}
}
