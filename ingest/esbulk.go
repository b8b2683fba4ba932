package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/logengine/logengine/storage"
)

// BulkOptions configures the Elasticsearch bulk protocol.
type BulkOptions struct {
	// Fields maps document fields onto the entry's own; empty lists take
	// DefaultBulkFields.
	Fields FieldMapping `yaml:"fields" json:"fields"`
	// ParseMessage reads a timestamp and level at the start of each message
	// as text/plain does, and prefers them to the document's. Shippers that
	// tail files (syslog-ng's file(), rsyslog's imfile, Filebeat) stamp
	// each line with the time they read it; the line's own time is the one
	// that matters. A request turns it on with ?parse_message=true.
	ParseMessage bool `yaml:"parse_message" json:"parse_message"`
}

// BulkRequest is the body of an Elasticsearch _bulk request.
type BulkRequest struct {
	Body []byte
	// Index is the index of the path (/{index}/_bulk), used by actions that
	// name none.
	Index string
	// Source and Tags are the defaults for documents without their own; a
	// document with no source field takes Source, else its index name.
	Source string
	Tags   []string
	// ParseMessage turns on BulkOptions.ParseMessage for this request.
	ParseMessage bool
}

// BulkAction is one action of a bulk body and its outcome.
type BulkAction struct {
	// Op is index, create, update or delete.
	Op    string
	Index string
	// DocID is the _id the action named, if any.
	DocID string
	// Result is the index of the document's record in BulkBatch.Results, or
	// -1 for an action that has none (update, delete).
	Result int
	// Err is set on actions logengine does not carry out (update, delete:
	// the store is append-only).
	Err error
}

// BulkBatch is a decoded bulk body.
type BulkBatch struct {
	Actions []BulkAction
	Results []Result
}

// ErrUnsupportedAction is the error of update and delete actions.
var ErrUnsupportedAction = errors.New("logengine stores logs append-only: only index and create actions are carried out")

// DecodeBulk decodes an Elasticsearch bulk body: NDJSON of action lines
// ({"index": {"_index": "logs"}}, {"create": {...}}) each followed by its
// document, blank lines skipped (rsyslog's omelasticsearch writes one after
// every document). A document's fields are mapped with m; its index is kept
// as the field "index" unless the document has a field of that name. An
// error means the body as a whole is malformed (an action line that is not
// an action, a missing document), as Elasticsearch refuses it; invalid
// documents are reported in their Result.
func DecodeBulk(body []byte, index string, d Defaults, l Limits, m FieldMapping, parse bool) (*BulkBatch, error) {
	dc := newDecoder(d, l)
	m = m.withDefaults()
	body = trimBOM(body)
	b := &BulkBatch{}
	for line := 1; len(body) > 0; line++ {
		var raw []byte
		raw, body = nextLine(body)
		raw = trimSpaceBytes(raw)
		if len(raw) == 0 {
			continue
		}
		act, err := dc.bulkAction(string(raw))
		if err != nil {
			return nil, fmt.Errorf("malformed action/metadata line %d: %w", line, err)
		}
		if act.Index == "" {
			act.Index = index
		}
		act.Result = -1
		if act.Op == "delete" {
			act.Err = ErrUnsupportedAction
			b.Actions = append(b.Actions, act)
			continue
		}
		var doc []byte
		docLine := line
		for len(body) > 0 && len(doc) == 0 {
			doc, body = nextLine(body)
			doc = trimSpaceBytes(doc)
			docLine++
		}
		line = docLine
		if len(doc) == 0 {
			return nil, fmt.Errorf("the %s action of line %d has no document after it", act.Op, docLine)
		}
		if act.Op == "update" {
			act.Err = ErrUnsupportedAction
			b.Actions = append(b.Actions, act)
			continue
		}
		act.Result = len(b.Results)
		b.Actions = append(b.Actions, act)
		b.Results = append(b.Results, dc.bulkDoc(docLine, doc, act.Index, m, parse))
	}
	return b, nil
}

// bulkAction parses an action line.
func (dc *decoder) bulkAction(line string) (BulkAction, error) {
	sc := &dc.sc
	sc.reset(line)
	var act BulkAction
	if sc.peek() != '{' {
		return act, errors.New("expected an object such as {\"index\":{}}")
	}
	sc.i++
	sc.ws()
	act.Op = sc.key()
	if sc.err != nil {
		return act, sc.err
	}
	switch act.Op {
	case "index", "create", "update", "delete":
	default:
		return act, fmt.Errorf("expected one of index, create, update, delete but found %q", shorten(act.Op))
	}
	if sc.peek() != '{' {
		return act, fmt.Errorf("the %s action must be an object", act.Op)
	}
	sc.i++
	sc.ws()
	for sc.peek() != '}' && sc.err == nil {
		k := sc.key()
		if sc.err != nil {
			break
		}
		switch k {
		case "_index", "_id":
			v, ok := dc.scalar()
			if ok {
				if k == "_index" {
					act.Index = clean(v.text(), singleLine)
				} else {
					act.DocID = clean(v.text(), singleLine)
				}
			}
		default:
			sc.skip()
		}
		sc.ws()
		if sc.peek() == ',' {
			sc.i++
			sc.ws()
		} else if sc.peek() != '}' {
			sc.fail(sc.i, "expected ',' or '}'")
		}
	}
	if sc.err == nil {
		sc.i++ // the meta object's '}'
		sc.ws()
		if sc.peek() != '}' {
			sc.fail(sc.i, "expected '}': an action line holds one action")
		} else {
			sc.i++
			dc.trailing()
		}
	}
	if sc.err != nil {
		return act, sc.err
	}
	return act, nil
}

// bulkDoc decodes one document.
func (dc *decoder) bulkDoc(line int, raw []byte, index string, m FieldMapping, parse bool) Result {
	if len(raw) > dc.lim.MaxLineBytes {
		return Result{Line: line, Err: limitErrorf("document is %d bytes, the limit is %d", len(raw), dc.lim.MaxLineBytes)}
	}
	dc.begin()
	sc := &dc.sc
	sc.reset(string(raw))
	if sc.peek() != '{' {
		start := sc.i
		sc.skip()
		if sc.err != nil {
			return Result{Line: line, Err: lineError(sc.err)}
		}
		return Result{Line: line, Err: fmt.Errorf("document must be a JSON object, not %s", kindName(sc.s[start]))}
	}
	sc.i++
	sc.ws()
	for sc.peek() != '}' && sc.err == nil {
		key := sc.key()
		if sc.err != nil {
			break
		}
		switch {
		case key == "tags":
			dc.readTags()
		case sc.peek() == '"' && slices.Contains(m.Message, key):
			// The line end shippers leave on a message goes before the
			// cleaning, which would keep a "\r" as U+FFFD.
			if v, ok := dc.scalar(); ok {
				dc.addField(key, storage.String(strings.TrimRight(v.s, "\r\n")), v.special)
			}
		default:
			dc.value(key, 0)
		}
		sc.ws()
		if sc.peek() == ',' {
			sc.i++
			sc.ws()
		} else if sc.peek() != '}' {
			if sc.i >= len(sc.s) {
				sc.fail(sc.i, "unexpected end of JSON, expected ',' or '}'")
			} else {
				sc.fail(sc.i, "unexpected "+describeByte(sc.s[sc.i])+", expected ',' or '}'")
			}
		}
	}
	if sc.err == nil {
		sc.i++
		dc.trailing()
	}
	if sc.err != nil {
		return Result{Line: line, Err: lineError(sc.err)}
	}
	e, err := dc.mappedEntry(m, parse, index)
	return Result{Line: line, Entry: e, Err: err}
}

// mappedEntry gives the fields of a document their roles by m.
func (dc *decoder) mappedEntry(m FieldMapping, parse bool, index string) (storage.Entry, error) {
	r := record{parse: parse}
	_, msg, ok := dc.takeFirst(m.Message)
	if !ok {
		return storage.Entry{}, fmt.Errorf("message is missing: send it as one of %s", strings.Join(m.Message, ", "))
	}
	r.msg = msg.Text()
	if name, v, ok := dc.takeFirst(m.Timestamp); ok {
		t, err := timeOf(v)
		if err != nil {
			return storage.Entry{}, fmt.Errorf("%s: %w", name, err)
		}
		r.time, r.hasTime = t, true
	}
	if _, v, ok := dc.takeFirst(m.Level); ok {
		if l, ok := levelOf(v); ok {
			r.level, r.hasLevel = l, true
		} else {
			dc.addField("level_raw", v, false)
		}
	}
	if _, v, ok := dc.takeFirst(m.Source); ok {
		r.source = v.Text()
	} else if dc.def.Source == "" && index != "" {
		r.source = index
	}
	if index != "" && !dc.hasField("index") {
		dc.addField("index", storage.String(index), true)
	}
	return dc.protoEntry(r)
}

// IngestBulk decodes and stores an Elasticsearch bulk body. An error means
// nothing was stored: the body is malformed (a BodyError) or the store
// failed.
func (s *Service) IngestBulk(ctx context.Context, req BulkRequest) (*BulkBatch, Response, error) {
	d := Defaults{Source: req.Source, Tags: req.Tags, Now: s.now}
	b, err := DecodeBulk(req.Body, req.Index, d, s.limits, s.bulk.Fields, req.ParseMessage || s.bulk.ParseMessage)
	if err != nil {
		return nil, Response{}, &BodyError{Msg: err.Error()}
	}
	res, err := s.IngestResults(ctx, FormatBulk, len(req.Body), b.Results)
	if err != nil {
		return nil, Response{}, err
	}
	return b, res, nil
}
