package main

import "testing"

func TestRecordCounter(t *testing.T) {
	cases := []struct {
		name   string
		csv    bool
		chunks []string
		want   int64
	}{
		{"ndjson", false, []string{`{"message":"a\nb"}` + "\n", `{"m":"c"}` + "\n"}, 2},
		{"ndjson split mid-line", false, []string{`{"m":`, `"a"}` + "\n{", `}` + "\n"}, 2},
		{"csv header and rows", true, []string{"timestamp,message\r\n", "t1,a\r\nt2,b\r\n"}, 3},
		{"csv line break in quotes", true, []string{"h\r\n", "t1,\"line one\r\nline two\"\r\n"}, 2},
		{"csv escaped quotes", true, []string{"h\r\n\"a \"\"q\"\"\n", "still\"\r\nx\r\n"}, 3},
		{"csv quote split across reads", true, []string{"h\r\n\"a\n", "b\"\r\n"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &recordCounter{csv: tc.csv}
			for _, ch := range tc.chunks {
				c.count([]byte(ch))
			}
			if c.records != tc.want {
				t.Fatalf("%d records, want %d", c.records, tc.want)
			}
		})
	}
}
