package search

import "testing"

func BenchmarkParse(b *testing.B) {
	const q = `level>=warn (source:api OR source:auth) "connection reset" -tag:test status>=500`
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, q := range []string{
		"level:error",
		"timeout",
		`level>=warn (source:api OR source:auth) "connection reset" -tag:test`,
		"status>=500 host:web*",
	} {
		n, err := Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i := range matchEntries {
					Match(n, &matchEntries[i].entry)
				}
			}
		})
	}
}
