package search

import "testing"

// Messages of about 100 bytes, the typical size of an ingested log line.
var benchMessages = []struct {
	name string
	msg  string
}{
	{"ascii-lower", "upstream request timeout after 30s: connection reset by peer while reading response header"},
	{"ascii-mixed", "GET /api/v1/Users?id=42 HTTP/1.1 503 Service Unavailable from 10.0.0.1 in 1.5s (UpstreamError)"},
	{"unicode", "Échec de la connexion à la base de données après 30 s: délai d'attente dépassé, réessai n°3"},
}

func BenchmarkTokenize(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.msg)))
			b.ReportAllocs()
			var dst []string
			for b.Loop() {
				dst = Tokenize(bm.msg, dst[:0])
			}
		})
	}
}
