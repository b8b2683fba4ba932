package cluster

import (
	"bytes"
	"testing"
)

// FuzzDecodePeerAnswers feeds any bytes to the readers of peers' answers:
// each returns an answer or an error, never panics; an entry it returns
// is one the engine could have stored (a level of the six).
func FuzzDecodePeerAnswers(f *testing.F) {
	f.Add([]byte(`{"logs":[{"id":"0RFE32R674KR0000000000000M","timestamp":"2026-11-26T10:00:00Z","level":"error","severity":17,"source":"api","message":"m","tags":[],"fields":{"n":9007199254740993,"f":1.5}}],"next_cursor":"x"}`))
	f.Add([]byte(`{"buckets":[{"key":"api","count":2},{"key":null,"count":1},{"key":404,"count":1},{"key":["a",true],"count":1}],"total":5,"other":1}`))
	f.Add([]byte(`{"interval":"5m","buckets":[{"start":"2026-11-26T10:00:00Z","count":3,"groups":{"error":3},"by_key":[{"key":"error","count":3}]}]}`))
	f.Add([]byte(`{"total":3,"fields":[{"field":"host","count":3,"values":[{"value":"web-1","count":3}],"other":0}]}`))
	f.Add([]byte(`{"logs":[{"severity":10}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if pg, err := decodePage(bytes.NewReader(b)); err == nil {
			for _, e := range pg.entries {
				if !e.Level.Valid() {
					t.Fatalf("entry with level %d", e.Level)
				}
			}
		}
		_, _ = decodeAggregate(bytes.NewReader(b), false)
		_, _ = decodeAggregate(bytes.NewReader(b), true)
		_, _ = decodeHistogram(bytes.NewReader(b))
		_, _ = decodeFacets(bytes.NewReader(b))
	})
}
