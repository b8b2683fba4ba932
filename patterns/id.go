package patterns

import (
	"fmt"
	"strconv"
	"strings"
)

// FormatID writes a template id as the API shows it: "p" and the id in
// base 36 ("p3f9"), short enough to type in a query.
func FormatID(id uint64) string { return "p" + strconv.FormatUint(id, 36) }

// ParseID reads an id written by FormatID.
func ParseID(s string) (uint64, error) {
	rest, ok := strings.CutPrefix(s, "p")
	if !ok || rest == "" || strings.ToLower(rest) != rest {
		return 0, fmt.Errorf("pattern id %q: want p and base-36 digits, as in p3f9", s)
	}
	id, err := strconv.ParseUint(rest, 36, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("pattern id %q: want p and base-36 digits, as in p3f9", s)
	}
	return id, nil
}
