package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/logengine/logengine/storage"
)

// SyslogOptions configures the syslog listeners.
type SyslogOptions struct {
	// TCP, UDP and TLS are the addresses to listen on (host:port); empty
	// turns that listener off. TCP and TLS take both framings of RFC 6587:
	// newline-terminated and octet-counted ("<len> <msg>"), told apart frame
	// by frame. Syslog has no authentication: keep these on loopback or a
	// trusted network.
	TCP, UDP, TLS string
	// TLSConfig holds the certificate of the TLS listener.
	TLSConfig *tls.Config
	// Source is the source of messages that name no app-name; empty means
	// "unknown".
	Source string
	// ParseMessage reads a timestamp and level at the start of each message
	// (see BulkOptions.ParseMessage): for relays that forward lines they
	// read from files, whose syslog header has the time they were read.
	ParseMessage bool
	// MaxMessageBytes bounds one message; longer ones are rejected. Zero
	// means the ingest limit on a line (256 KiB by default).
	MaxMessageBytes int
	// MaxConnections bounds the concurrent TCP and TLS connections; zero
	// means 1024.
	MaxConnections int
	// BatchSize is the most messages stored in one batch; zero means 1000.
	BatchSize int
	// FlushInterval bounds how long a UDP message waits for more to share
	// its batch; zero means 20ms. TCP batches are stored as soon as no
	// complete message is left to read.
	FlushInterval time.Duration
	Logger        *slog.Logger
}

// SyslogServer receives syslog messages over TCP, TLS and UDP and stores
// them through the Service, like every other way in. TCP connections are
// read no faster than their batches are stored, so a slow disk slows the
// senders instead of losing messages; UDP datagrams that arrive faster
// than they can be stored are dropped by the kernel, as with any syslog
// receiver.
type SyslogServer struct {
	svc  *Service
	opts SyslogOptions
	log  *slog.Logger

	tcp, tls net.Listener
	udp      net.PacketConn

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
	slots chan struct{}

	closeOnce sync.Once
	closed    chan struct{}
}

// NewSyslogServer returns a server that stores into svc; Listen binds it.
func NewSyslogServer(svc *Service, opts SyslogOptions) *SyslogServer {
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = svc.limits.withDefaults().MaxLineBytes
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 1024
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 20 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &SyslogServer{
		svc: svc, opts: opts, log: opts.Logger,
		conns:  map[net.Conn]struct{}{},
		slots:  make(chan struct{}, opts.MaxConnections),
		closed: make(chan struct{}),
	}
}

// Listen binds the configured listeners, so a bad address is reported
// before anything else starts.
func (s *SyslogServer) Listen() error {
	var err error
	if s.opts.TCP != "" {
		if s.tcp, err = net.Listen("tcp", s.opts.TCP); err != nil {
			return fmt.Errorf("syslog tcp listen on %s: %w", s.opts.TCP, err)
		}
	}
	if s.opts.TLS != "" {
		if s.opts.TLSConfig == nil {
			return errors.New("syslog tls: no certificate configured")
		}
		ln, err := net.Listen("tcp", s.opts.TLS)
		if err != nil {
			return fmt.Errorf("syslog tls listen on %s: %w", s.opts.TLS, err)
		}
		s.tls = tls.NewListener(ln, s.opts.TLSConfig)
	}
	if s.opts.UDP != "" {
		if s.udp, err = net.ListenPacket("udp", s.opts.UDP); err != nil {
			return fmt.Errorf("syslog udp listen on %s: %w", s.opts.UDP, err)
		}
		if uc, ok := s.udp.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(4 << 20) // ride out bursts while a batch is stored
		}
	}
	for _, p := range []string{"tcp", "tls", "udp"} {
		if a := s.Addr(p); a != nil {
			s.log.Info("syslog listening", "proto", p, "addr", a.String())
		}
	}
	return nil
}

// Addr returns the address of the "tcp", "tls" or "udp" listener, or nil
// when it is off.
func (s *SyslogServer) Addr(proto string) net.Addr {
	switch {
	case proto == "tcp" && s.tcp != nil:
		return s.tcp.Addr()
	case proto == "tls" && s.tls != nil:
		return s.tls.Addr()
	case proto == "udp" && s.udp != nil:
		return s.udp.LocalAddr()
	}
	return nil
}

// Run serves until ctx ends or Close is called. Before it returns, every
// message read from a connection or datagram has been stored (or failed
// to be).
func (s *SyslogServer) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range []struct {
		name string
		ln   net.Listener
	}{{"tcp", s.tcp}, {"tls", s.tls}} {
		if l.ln == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.accept(ctx, l.ln, &wg)
		}()
	}
	if s.udp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveUDP(ctx)
		}()
	}
	select {
	case <-ctx.Done():
	case <-s.closed:
	}
	s.shutdown()
	wg.Wait()
	return nil
}

// Close stops the listeners; Run then finishes storing what it has read
// and returns.
func (s *SyslogServer) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.shutdown()
	})
	return nil
}

// shutdown closes the listeners and ends the reads of open connections,
// whose goroutines then store their last batch.
func (s *SyslogServer) shutdown() {
	for _, ln := range []net.Listener{s.tcp, s.tls} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if s.udp != nil {
		// Datagrams still in the socket's buffer are lost, as at any stop
		// of a UDP receiver; those already read are stored.
		_ = s.udp.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
}

func (s *SyslogServer) stopping() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (s *SyslogServer) accept(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || s.stopping() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("syslog accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.log.Warn("syslog connection refused: too many connections", "remote", c.RemoteAddr().String(), "max", s.opts.MaxConnections)
			_ = c.Close()
			continue
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		if ctx.Err() != nil || s.stopping() {
			_ = c.SetReadDeadline(time.Now())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			s.serveConn(ctx, c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// serveConn reads the frames of one connection and stores them in
// batches: a batch is stored once it is full or no complete frame is left
// in the read buffer, so a lone message is stored at once and a stream of
// them in large batches.
func (s *SyslogServer) serveConn(ctx context.Context, c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			s.log.Debug("syslog tls handshake failed", "remote", c.RemoteAddr().String(), "err", err)
			return
		}
	}
	br := bufio.NewReaderSize(c, 64<<10)
	fr := frameReader{r: br, max: s.opts.MaxMessageBytes}
	var b frameBatch
	for {
		if b.count() > 0 && (b.count() >= s.opts.BatchSize || !fr.buffered()) {
			s.store(ctx, &b)
		}
		err := fr.next(&b)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("syslog connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
			s.store(ctx, &b)
			return
		}
	}
}

func (s *SyslogServer) serveUDP(ctx context.Context) {
	batches := make(chan *frameBatch, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range batches {
			s.store(ctx, b)
		}
	}()
	defer func() {
		close(batches)
		<-done
	}()
	buf := make([]byte, 64<<10)
	b := &frameBatch{}
	for {
		n, _, err := s.udp.ReadFrom(buf)
		if n > 0 {
			b.add(trimFrame(buf[:n]), n, s.opts.MaxMessageBytes)
			if b.count() == 1 {
				_ = s.udp.SetReadDeadline(time.Now().Add(s.opts.FlushInterval))
			}
		}
		timeout := errors.Is(err, os.ErrDeadlineExceeded)
		stop := ctx.Err() != nil || s.stopping() || errors.Is(err, net.ErrClosed)
		if b.count() > 0 && (b.count() >= s.opts.BatchSize || timeout || stop) {
			batches <- b
			b = &frameBatch{}
			_ = s.udp.SetReadDeadline(time.Time{})
		}
		if stop {
			return
		}
		if err != nil && !timeout {
			s.log.Warn("syslog udp read failed", "err", err)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// store decodes and stores a batch and empties it. A store that is
// overloaded or out of disk is retried, holding the connection's reads
// back, until it succeeds or the server stops; after a stop the batch gets
// a few seconds more.
func (s *SyslogServer) store(ctx context.Context, b *frameBatch) {
	if b.count() == 0 {
		return
	}
	defer b.reset()
	results := DecodeSyslogFrames(b.frames(), b.tooLong, Defaults{Source: s.opts.Source, Now: s.svc.now}, s.svc.limits, s.opts.ParseMessage)
	for attempt := 0; ; attempt++ {
		sctx := ctx
		var cancel context.CancelFunc = func() {}
		if ctx.Err() != nil {
			sctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		}
		res, err := s.svc.IngestResults(sctx, FormatSyslog, b.bytes, results)
		cancel()
		if err == nil {
			if res.Rejected > 0 && len(res.Errors) > 0 {
				s.log.Debug("syslog messages rejected", "rejected", res.Rejected, "first", res.Errors[0].Error)
			}
			return
		}
		// A gateway's Kafka that is down or slow is unavailable for a
		// while, like a full disk: TCP senders are held back meanwhile.
		var un interface{ Unavailable() bool }
		retry := errors.Is(err, storage.ErrOverloaded) || errors.Is(err, storage.ErrDiskFull) || errors.As(err, &un) && un.Unavailable()
		if !retry || ctx.Err() != nil || s.stopping() {
			s.log.Error("syslog batch lost", "messages", b.count(), "err", err)
			return
		}
		if attempt == 0 {
			s.log.Warn("syslog batch not stored, retrying", "messages", b.count(), "err", err)
		}
		select {
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second)):
		case <-ctx.Done():
		}
		// Decode again: storing marked the results and the pipeline may have
		// changed the entries.
		results = DecodeSyslogFrames(b.frames(), b.tooLong, Defaults{Source: s.opts.Source, Now: s.svc.now}, s.svc.limits, s.opts.ParseMessage)
	}
}

// DecodeSyslogFrames decodes syslog messages, one per frame (a line or an
// octet-counted frame of TCP, a UDP datagram): RFC 5424 and RFC 3164 as
// ParseSyslog reads them, anything else as a text line. tooLong frames
// were skipped for their size and are reported as rejected after the
// others. Records are numbered by their frame, from 1.
func DecodeSyslogFrames(frames [][]byte, tooLong int, d Defaults, l Limits, parse bool) []Result {
	dc := newDecoder(d, l)
	out := make([]Result, 0, len(frames)+tooLong)
	for i, f := range frames {
		if len(bytes.Trim(f, " \t\r\n\x00")) == 0 {
			continue
		}
		if len(f) > dc.lim.MaxLineBytes {
			out = append(out, Result{Line: i + 1, Err: limitErrorf("message is %d bytes, the limit is %d", len(f), dc.lim.MaxLineBytes)})
			continue
		}
		tl := ParseTextLine(string(f), dc.now)
		if tl.Message == "" {
			continue
		}
		dc.begin()
		for _, fl := range tl.Fields {
			dc.addField(fl.Name, fl.Value, false)
		}
		e, err := dc.protoEntry(record{
			msg: tl.Message, time: tl.Time, hasTime: tl.HasTime, level: tl.Level, hasLevel: tl.HasLevel,
			source: tl.Source, parse: parse,
		})
		out = append(out, Result{Line: i + 1, Entry: e, Err: err})
	}
	for i := 0; i < tooLong; i++ {
		out = append(out, Result{Line: len(frames) + i + 1, Err: limitErrorf("message is longer than the limit of %d bytes", dc.lim.MaxLineBytes)})
	}
	return out
}

// frameBatch holds frames read but not yet stored, copied out of the read
// buffer.
type frameBatch struct {
	buf     []byte
	ends    []int
	bytes   int // bytes received, framing included
	tooLong int // frames skipped for their size
}

func (b *frameBatch) count() int { return len(b.ends) + b.tooLong }

func (b *frameBatch) add(frame []byte, received, max int) {
	b.bytes += received
	if len(frame) > max {
		b.tooLong++
		return
	}
	b.buf = append(b.buf, frame...)
	b.ends = append(b.ends, len(b.buf))
}

func (b *frameBatch) frames() [][]byte {
	out := make([][]byte, len(b.ends))
	start := 0
	for i, end := range b.ends {
		out[i] = b.buf[start:end:end]
		start = end
	}
	return out
}

func (b *frameBatch) reset() {
	b.buf, b.ends, b.bytes, b.tooLong = b.buf[:0], b.ends[:0], 0, 0
}

// trimFrame drops the line end (and NUL, which some senders end frames
// with) after a message.
func trimFrame(f []byte) []byte {
	for len(f) > 0 {
		switch f[len(f)-1] {
		case '\n', '\r', 0:
			f = f[:len(f)-1]
			continue
		}
		break
	}
	return f
}

// frameReader splits a TCP stream into syslog frames (RFC 6587): a frame
// that starts with a message length, a space and '<' is octet-counted,
// anything else ends at a line feed. The two may be mixed.
type frameReader struct {
	r   *bufio.Reader
	max int
}

// maxLenDigits bounds the digits of an octet count.
const maxLenDigits = 9

// octetCount reports whether b starts with an octet-counted frame header,
// "<len> <": the count, the header's length and whether enough of b was
// seen to tell (more is false when b ends inside the header).
func octetCount(b []byte) (n, hdr int, ok, more bool) {
	i := 0
	for i < len(b) && i <= maxLenDigits && isDigit(b[i]) {
		n = n*10 + int(b[i]-'0')
		i++
	}
	switch {
	case i == 0 || b[0] == '0' || i > maxLenDigits:
		return 0, 0, false, false
	case i+1 >= len(b):
		return 0, 0, false, true
	case b[i] != ' ' || b[i+1] != '<':
		return 0, 0, false, false
	}
	return n, i + 1, true, false
}

// skipSeparators drops line ends and spaces between frames.
func (fr *frameReader) skipSeparators() error {
	for {
		c, err := fr.r.ReadByte()
		if err != nil {
			return err
		}
		if c != '\n' && c != '\r' && c != ' ' && c != 0 {
			return fr.r.UnreadByte()
		}
	}
}

// next reads one frame into b.
func (fr *frameReader) next(b *frameBatch) error {
	if err := fr.skipSeparators(); err != nil {
		return err
	}
	// Peek one byte more at a time, never more than the frame needs, so a
	// sender waiting after a short message is not waited for.
	for k := 1; ; k++ {
		p, err := fr.r.Peek(k)
		if len(p) < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			if len(p) > 0 && errors.Is(err, io.EOF) {
				break // a last unterminated line
			}
			return err
		}
		n, hdr, ok, more := octetCount(p)
		if more {
			continue
		}
		if !ok {
			break
		}
		if _, err := fr.r.Discard(hdr); err != nil {
			return err
		}
		if n > fr.max {
			d, err := fr.r.Discard(n)
			b.bytes += hdr + d
			if err == nil {
				b.tooLong++
			}
			return err
		}
		start := len(b.buf)
		b.buf = slices.Grow(b.buf, n)[:start+n]
		if _, err := io.ReadFull(fr.r, b.buf[start:]); err != nil {
			b.buf = b.buf[:start]
			return err
		}
		b.bytes += hdr + n
		frame := trimFrame(b.buf[start:])
		b.buf = b.buf[:start+len(frame)]
		b.ends = append(b.ends, len(b.buf))
		return nil
	}
	// Newline framing.
	start := len(b.buf)
	received := 0
	tooLong := false
	for {
		line, err := fr.r.ReadSlice('\n')
		received += len(line)
		if !tooLong {
			if len(b.buf)-start+len(line) > fr.max+2 { // +2: the line end
				tooLong = true
				b.buf = b.buf[:start]
			} else {
				b.buf = append(b.buf, line...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (!errors.Is(err, io.EOF) || received == 0) {
			b.buf = b.buf[:start]
			return err
		}
		b.bytes += received
		frame := trimFrame(b.buf[start:])
		if tooLong || len(frame) > fr.max {
			b.buf = b.buf[:start]
			b.tooLong++
			return nil
		}
		b.buf = b.buf[:start+len(frame)]
		b.ends = append(b.ends, len(b.buf))
		return nil
	}
}

// buffered reports whether a whole frame is already in the read buffer.
func (fr *frameReader) buffered() bool {
	p, _ := fr.r.Peek(fr.r.Buffered())
	i := 0
	for i < len(p) && (p[i] == '\n' || p[i] == '\r' || p[i] == ' ' || p[i] == 0) {
		i++
	}
	p = p[i:]
	if len(p) == 0 {
		return false
	}
	if n, hdr, ok, _ := octetCount(p); ok {
		return len(p) >= hdr+n
	}
	return bytes.IndexByte(p, '\n') >= 0
}
