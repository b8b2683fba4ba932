package block

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestHeaderVersion2Golden: headers written by the build before version 3
// (testdata/v2: one with its template counts inside, the same with them
// kept apart, and the counts it held, as that build's EachTemplateLevel
// listed them) read the same counts with today's code.
func TestHeaderVersion2Golden(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "v2", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var want map[string]TemplateLevel
	if err := json.Unmarshal(read("templates.json"), &want); err != nil {
		t.Fatal(err)
	}
	key := func(id uint32, tl TemplateLevel) string {
		b, _ := json.Marshal([2]any{id, tl.Level})
		return string(b)
	}
	for _, tc := range []struct {
		name          string
		header, apart []byte
	}{
		{"in the header", read("header.bin"), nil},
		{"apart", read("header-apart.bin"), read("apart.bin")},
	} {
		if tc.header[0] != headerVersionV2 {
			t.Fatalf("%s: version %d, want 2", tc.name, tc.header[0])
		}
		got := map[string]TemplateLevel{}
		_, ok, err := EachTemplateLevelOf(tc.header, tc.apart, func(id uint32, tl TemplateLevel) { got[key(id, tl)] = tl })
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: EachTemplateLevelOf = %v, %v, %d counts; want %d", tc.name, ok, err, len(got), len(want))
		}
		var h Header
		if err := h.Unmarshal(tc.header); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.apart == nil {
			clear(got)
			if !h.EachTemplateLevel(func(id uint32, tl TemplateLevel) { got[key(id, tl)] = tl }) || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: EachTemplateLevel gives %d counts, want %d", tc.name, len(got), len(want))
			}
		}
	}
}
