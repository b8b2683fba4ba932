package kafkaingest

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logengine/logengine/ingest"
	"github.com/logengine/logengine/storage"
)

type countingObserver struct {
	nopObserver
	consumed, decodeErrs int
}

func (o *countingObserver) Consumed(_ string, n int)     { o.consumed += n }
func (o *countingObserver) DecodeErrors(_ string, n int) { o.decodeErrs += n }

// TestStoreBatch: each format decodes records as it says, headers become
// fields, bad records are counted and skipped, and the offsets after the
// batch are stored with it and read back on assignment.
func TestStoreBatch(t *testing.T) {
	recTime := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		format     ingest.Format
		parse      bool
		values     []string
		want       []string // messages stored, in order
		decodeErrs int
	}{
		{"auto", ingest.FormatAuto, false,
			[]string{`{"message":"one"}`, "{\"message\":\"two\"}\n{\"message\":\"three\"}", "four\nfive", `[{"message":"six"}]`, ""},
			[]string{"one", "two", "three", "four", "five", "six"}, 0},
		{"json refuses ndjson", ingest.FormatJSON, false,
			[]string{`{"message":"one"}`, "{\"message\":\"two\"}\n{\"message\":\"three\"}", "not json"},
			[]string{"one"}, 2},
		{"ndjson", ingest.FormatNDJSON, false,
			[]string{"{\"message\":\"one\"}\nbroken\n{\"message\":\"two\"}"},
			[]string{"one", "two"}, 1},
		{"text keeps json as text", ingest.FormatText, false,
			[]string{`{"message":"one"}`},
			[]string{`{"message":"one"}`}, 0},
		{"parse_message", ingest.FormatAuto, true,
			[]string{`{"message":"2026-12-04T05:00:00Z ERROR disk full"}`},
			[]string{"disk full"}, 0},
		{"no parse_message", ingest.FormatAuto, false,
			[]string{`{"message":"2026-12-04T05:00:00Z ERROR disk full"}`},
			[]string{"2026-12-04T05:00:00Z ERROR disk full"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			defer s.Close()
			obs := &countingObserver{}
			svc := ingest.NewService(s, ingest.ServiceOptions{Now: func() time.Time { return recTime.Add(time.Hour) }})
			c := &Consumer{opts: Options{Format: tc.format, Source: "k", Headers: []string{"host"}, ParseMessage: tc.parse},
				svc: svc, offsets: s.Bucket(OffsetsBucket), log: slog.New(slog.DiscardHandler), obs: obs,
				uncommitted: map[string]map[int32]kgo.EpochOffset{}}
			var b batch
			for i, v := range tc.values {
				b.records = append(b.records, &kgo.Record{Topic: "logs", Partition: int32(i % 2), Offset: int64(40 + i), Value: []byte(v),
					Timestamp: recTime, Headers: []kgo.RecordHeader{{Key: "host", Value: []byte("web-1")}, {Key: "other", Value: []byte("x")}}})
			}
			if err := c.store(context.Background(), b, true); err != nil {
				t.Fatal(err)
			}
			var got []string
			err := s.Scan(context.Background(), storage.MinID, storage.MaxID, false, func(e *storage.Entry) bool {
				got = append(got, e.Message)
				if len(e.Fields) != 1 || e.Fields[0].Name != "host" || e.Fields[0].Value.Str != "web-1" {
					t.Errorf("%q has fields %+v, want host from the header", e.Message, e.Fields)
				}
				if e.Source != "k" {
					t.Errorf("%q has source %q", e.Message, e.Source)
				}
				if tc.parse && e.Level != storage.LevelError {
					t.Errorf("parse_message kept level %v", e.Level)
				}
				if !tc.parse && !e.Time.Equal(recTime) {
					t.Errorf("%q has time %v, want the record's %v", e.Message, e.Time, recTime)
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("stored %q, want %q", got, tc.want)
			}
			seen := map[string]bool{}
			for _, m := range got {
				seen[m] = true
			}
			for _, m := range tc.want {
				if !seen[m] {
					t.Fatalf("stored %q, want %q", got, tc.want)
				}
			}
			if obs.decodeErrs != tc.decodeErrs || obs.consumed != len(tc.values) {
				t.Errorf("observed %d decode errors and %d records, want %d and %d", obs.decodeErrs, obs.consumed, tc.decodeErrs, len(tc.values))
			}
			// The offsets stored with the batch are what assignment starts from.
			want := map[int32]int64{}
			for _, r := range b.records {
				want[r.Partition] = r.Offset + 1
			}
			in := map[string]map[int32]kgo.Offset{"logs": {0: kgo.NewOffset().At(3), 1: kgo.NewOffset().At(1000), 2: kgo.NewOffset().AtStart()}}
			out, err := c.adjustOffsets(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for p, o := range out["logs"] {
				wantAt := map[int32]int64{0: 3, 1: 1000, 2: -2}[p]
				if w, ok := want[p]; ok && w > wantAt {
					wantAt = w
				}
				if got := o.EpochOffset().Offset; got != wantAt {
					t.Errorf("partition %d starts at %d, want %d (the larger of the group's and the stored)", p, got, wantAt)
				}
			}
		})
	}
}

// TestStoreBatchTooLargeForATransaction: a batch whose entries need more
// keys than one transaction holds (two distinct indexed values each) is
// stored in halves, each with its offsets; a single record that alone is
// too large is stored in parts with its offset after them. Every entry is
// stored once and the stored offset is the one after the last record.
func TestStoreBatchTooLargeForATransaction(t *testing.T) {
	recTime := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	line := func(i int) string {
		return fmt.Sprintf(`{"message":"m%d","user":"u%d","req":"r%d"}`, i, i, i)
	}
	for _, tc := range []struct {
		name    string
		records func() []string
	}{
		{"many records", func() []string {
			var v []string
			for i := range 20000 {
				v = append(v, line(i))
			}
			return v
		}},
		{"one record", func() []string {
			var b strings.Builder
			for i := range 20000 {
				b.WriteString(line(i) + "\n")
			}
			return []string{b.String()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := storage.DefaultOptions(t.TempDir())
			opts.SyncWrites = false
			opts.MemTableBytes = 8 << 20 // a transaction holds ~14,000 keys
			opts.IndexedFields = []string{"user", "req"}
			s, err := storage.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			svc := ingest.NewService(s, ingest.ServiceOptions{Now: func() time.Time { return recTime.Add(time.Hour) }})
			c := &Consumer{opts: Options{Format: ingest.FormatAuto, Source: "k", MaxBatchRecords: 20000, MaxBatchBytes: 4 << 20},
				svc: svc, offsets: s.Bucket(OffsetsBucket), log: slog.New(slog.DiscardHandler), obs: nopObserver{},
				uncommitted: map[string]map[int32]kgo.EpochOffset{}}
			var recs []*kgo.Record
			for i, v := range tc.records() {
				recs = append(recs, &kgo.Record{Topic: "logs", Partition: 0, Offset: int64(100 + i), Value: []byte(v), Timestamp: recTime})
			}
			fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "logs", Partitions: []kgo.FetchPartition{{Partition: 0, Records: recs}}}}}}
			if err := c.storeFetches(context.Background(), fetches); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			err = s.Scan(context.Background(), storage.MinID, storage.MaxID, false, func(e *storage.Entry) bool {
				seen[e.Message]++
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20000 {
				if n := seen[fmt.Sprintf("m%d", i)]; n != 1 {
					t.Fatalf("m%d stored %d times, want once", i, n)
				}
			}
			if len(seen) != 20000 {
				t.Fatalf("stored %d distinct messages, want 20000", len(seen))
			}
			got, err := c.offsets.Get(offsetKey("logs", 0))
			if err != nil || binary.BigEndian.Uint64(got) != uint64(100+len(recs)) {
				t.Fatalf("stored offset %x, %v; want %d", got, err, 100+len(recs))
			}
		})
	}
}
