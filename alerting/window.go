package alerting

import "time"

// windowBuckets is how many buckets a sliding window has: counts on the
// ingest path lag the exact count by at most window/windowBuckets.
const windowBuckets = 60

// window counts matching logs by their timestamps in fixed buckets of
// width, aligned to the Unix epoch like the search engine's histogram
// buckets, so that it can be seeded from a histogram.
//
// count returns a lower bound of the exact count over [now-span, now]: the
// bucket that straddles now-span is left out. Ingest can therefore only
// conclude what more logs cannot undo (see Condition.rising), so the ingest
// path and the periodic evaluation, which counts exactly, never disagree in
// a way that makes an alert flap.
type window struct {
	span  int64 // nanoseconds
	width int64 // nanoseconds
	slots []int64
	head  int64 // index (timestamp/width) of the newest bucket in slots
}

func newWindow(span time.Duration) *window {
	w := &window{span: int64(span)}
	w.width = bucketWidth(span)
	w.slots = make([]int64, int(w.span/w.width)+2)
	return w
}

// bucketWidth is span/windowBuckets rounded up to a millisecond.
func bucketWidth(span time.Duration) int64 {
	width := (int64(span) + windowBuckets - 1) / windowBuckets
	const ms = int64(time.Millisecond)
	return max((width+ms-1)/ms*ms, ms)
}

// add counts n logs at ts (nanoseconds). Logs older than the slots hold
// are outside any window that can still be asked for and are ignored.
func (w *window) add(ts int64, n int64) {
	b := floorDiv(ts, w.width)
	w.advance(b)
	if b <= w.head-int64(len(w.slots)) {
		return
	}
	w.slots[mod(b, int64(len(w.slots)))] += n
}

// advance makes b the newest bucket if it is newer, clearing the slots it
// reuses.
func (w *window) advance(b int64) {
	if b <= w.head {
		return
	}
	n := int64(len(w.slots))
	if b-w.head >= n {
		clear(w.slots)
	} else {
		for i := w.head + 1; i <= b; i++ {
			w.slots[mod(i, n)] = 0
		}
	}
	w.head = b
}

// count returns the logs in the buckets that lie wholly in [now-span, now]
// (plus any counted in the future, which add clamps to now).
func (w *window) count(now int64) int64 {
	lo := ceilDiv(now-w.span, w.width)
	hi := w.head
	n := int64(len(w.slots))
	if lo < w.head-n+1 {
		lo = w.head - n + 1
	}
	var sum int64
	for b := lo; b <= hi; b++ {
		sum += w.slots[mod(b, n)]
	}
	return sum
}

// seedRange is the time range a histogram must cover to seed the window at
// now, and the bucket width it must use.
func (w *window) seedRange(now int64) (from, to time.Time, width time.Duration) {
	lo := floorDiv(now-w.span, w.width) * w.width
	return time.Unix(0, lo), time.Unix(0, now+1), time.Duration(w.width)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

func mod(a, n int64) int64 {
	m := a % n
	if m < 0 {
		m += n
	}
	return m
}
