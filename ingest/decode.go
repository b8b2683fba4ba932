package ingest

import (
	"bytes"
	"errors"
)

// DecodeJSON decodes a JSON body holding one entry object or an array of
// them. It returns an error only when the body as a whole is not JSON (the
// error gives the line and column); records that are JSON but not valid
// entries get a Result with Err, and the others are decoded regardless.
func DecodeJSON(body []byte, d Defaults, l Limits) ([]Result, error) {
	return AppendJSON(nil, body, d, l)
}

// AppendJSON is DecodeJSON appending to dst, so a caller can reuse one slice
// of results across requests. On error dst is returned unchanged.
func AppendJSON(dst []Result, body []byte, d Defaults, l Limits) ([]Result, error) {
	return newDecoder(d, l).appendJSON(dst, body)
}

func (dc *decoder) appendJSON(dst []Result, body []byte) ([]Result, error) {
	body = trimBOM(body)
	i := skipWS(body, 0)
	if i == len(body) {
		return dst, &positionedError{msg: "invalid JSON: the body is empty, send an entry object or an array of them"}
	}
	n0 := len(dst)
	if body[i] != '[' {
		end, serr := skipJSON(body, i)
		if serr == nil {
			if j := skipWS(body, end); j < len(body) {
				serr = &syntaxError{j, "unexpected " + describeByte(body[j]) + " after the entry: send several entries as an array, or as NDJSON"}
			}
		}
		if serr != nil {
			return dst, bodyError(body, serr)
		}
		return append(dst, dc.record(1, body[i:end], true)), nil
	}

	i = skipWS(body, i+1)
	if i < len(body) && body[i] == ']' {
		i++
	} else {
		for line := 1; ; line++ {
			end, serr := skipJSON(body, i)
			if serr != nil {
				return dst[:n0], bodyError(body, serr)
			}
			dst = append(dst, dc.record(line, body[i:end], true))
			i = skipWS(body, end)
			if i < len(body) && body[i] == ',' {
				i = skipWS(body, i+1)
				continue
			}
			if i < len(body) && body[i] == ']' {
				i++
				break
			}
			if i >= len(body) {
				return dst[:n0], bodyError(body, &syntaxError{i, "unexpected end of JSON, expected ',' or ']'"})
			}
			return dst[:n0], bodyError(body, &syntaxError{i, "unexpected " + describeByte(body[i]) + ", expected ',' or ']'"})
		}
	}
	if j := skipWS(body, i); j < len(body) {
		return dst[:n0], bodyError(body, &syntaxError{j, "unexpected " + describeByte(body[j]) + " after the array"})
	}
	return dst, nil
}

// record decodes one JSON record, checking the line limit first.
func (dc *decoder) record(line int, raw []byte, validated bool) Result {
	if len(raw) > dc.lim.MaxLineBytes {
		return Result{Line: line, Err: limitErrorf("entry is %d bytes, the limit is %d", len(raw), dc.lim.MaxLineBytes)}
	}
	if validated && raw[0] != '{' {
		// Not an object: say so without converting the record.
		return Result{Line: line, Err: errors.New("entry must be a JSON object, not " + kindName(raw[0]))}
	}
	e, err := dc.jsonEntry(string(raw))
	if err != nil {
		return Result{Line: line, Err: err}
	}
	return Result{Line: line, Entry: e}
}

// DecodeNDJSON decodes newline-delimited JSON: one entry object per line.
// Blank lines are skipped (but counted, so line numbers match the body);
// "\r\n" line ends and a last line without a newline are fine.
func DecodeNDJSON(body []byte, d Defaults, l Limits) []Result {
	return AppendNDJSON(make([]Result, 0, lineCount(body)), body, d, l)
}

// lineCount returns how many results to make room for in a body's slice,
// so that the results of a usual batch are allocated once: grown by
// appends, a Result being an entry and more, they were copied about twice
// over for every batch. It counts the lines of body, up to a bound, so
// that a large body of blank lines does not make room for results it will
// not have; larger batches grow from there.
func lineCount(body []byte) int {
	const most = 4096
	return min(bytes.Count(body, []byte{'\n'})+1, most)
}

// AppendNDJSON is DecodeNDJSON appending to dst.
func AppendNDJSON(dst []Result, body []byte, d Defaults, l Limits) []Result {
	return newDecoder(d, l).appendNDJSON(dst, body)
}

func (dc *decoder) appendNDJSON(dst []Result, body []byte) []Result {
	body = trimBOM(body)
	for line := 1; len(body) > 0; line++ {
		var raw []byte
		raw, body = nextLine(body)
		raw = trimSpaceBytes(raw)
		if len(raw) == 0 {
			continue
		}
		dst = append(dst, dc.record(line, raw, false))
	}
	return dst
}

// trimBOM drops a UTF-8 byte order mark, which some Windows tools write.
func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

// nextLine splits off the first line, without its "\n".
func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func trimSpaceBytes(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}
