package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// Fuzzers of the protocol decoders. Seed corpora live in
// testdata/fuzz/<FuzzName>/: bodies captured from real shippers (see the
// client recipes beside the project) and hand-made edge cases.

func checkResults(t *testing.T, rs []Result) {
	t.Helper()
	for _, r := range rs {
		if r.Err == nil {
			checkEntry(t, r.Entry, fuzzLimits, "\t\n")
		}
	}
}

func FuzzDecodeBulk(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, parse bool) {
		b, err := DecodeBulk(body, "fuzz", testDefaults(), fuzzLimits, FieldMapping{}, parse)
		if err != nil {
			return
		}
		for _, a := range b.Actions {
			if a.Err == nil && (a.Result < 0 || a.Result >= len(b.Results)) {
				t.Fatalf("action %+v points outside %d results", a, len(b.Results))
			}
		}
		checkResults(t, b.Results)
	})
}

func FuzzDecodeLokiJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, parse bool) {
		rs, err := DecodeLokiJSON(body, testDefaults(), fuzzLimits, parse)
		if err == nil {
			checkResults(t, rs)
		}
	})
}

func FuzzDecodeLokiProtobuf(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, parse bool) {
		rs, err := DecodeLokiProtobuf(body, testDefaults(), fuzzLimits, parse)
		if err == nil {
			checkResults(t, rs)
		}
	})
}

func FuzzDecodeOTLPProtobuf(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := DecodeOTLPProtobuf(body, testDefaults(), fuzzLimits)
		if err == nil {
			checkResults(t, rs)
		}
	})
}

func FuzzDecodeOTLPJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := DecodeOTLPJSON(body, testDefaults(), fuzzLimits)
		if err == nil {
			checkResults(t, rs)
		}
	})
}

// FuzzSyslogStream splits a TCP stream into frames and decodes them: no
// frame is longer than the limit or holds more than the stream did, and
// every accepted entry keeps the invariants.
func FuzzSyslogStream(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte, parse bool) {
		const max = 64
		fr := frameReader{r: bufio.NewReaderSize(bytes.NewReader(stream), 16), max: max}
		var b frameBatch
		for i := 0; ; i++ {
			if i > len(stream)+1 {
				t.Fatalf("more frames than bytes in %q", stream)
			}
			err := fr.next(&b)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
		}
		total := 0
		for _, fr := range b.frames() {
			if len(fr) > max {
				t.Fatalf("frame of %d bytes", len(fr))
			}
			total += len(fr)
		}
		if total > len(stream) || b.bytes > len(stream) {
			t.Fatalf("%d frame bytes, %d received from a stream of %d", total, b.bytes, len(stream))
		}
		checkResults(t, DecodeSyslogFrames(b.frames(), b.tooLong, testDefaults(), fuzzLimits, parse))
	})
}
