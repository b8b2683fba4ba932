package ingest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/logengine/logengine/storage"
)

// readFrames splits a stream into frames the way a connection is read.
func readFrames(tb testing.TB, stream string, max int) (frames []string, tooLong int) {
	tb.Helper()
	fr := frameReader{r: bufio.NewReaderSize(strings.NewReader(stream), 16), max: max}
	var b frameBatch
	for {
		err := fr.next(&b)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("next: %v", err)
		}
	}
	for _, f := range b.frames() {
		frames = append(frames, string(f))
	}
	return frames, b.tooLong
}

func TestSyslogFraming(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		frames  []string
		tooLong int
	}{
		{"newline, CRLF kept out", "<13>1 - - a - - - one\r\n<13>1 - - a - - - two\n", []string{"<13>1 - - a - - - one", "<13>1 - - a - - - two"}, 0},
		{"octet counted with LF inside the count (syslog-ng, rsyslog)", "23 <13>1 - - a - - - one\r\n22 <13>1 - - a - - - two\n",
			[]string{"<13>1 - - a - - - one", "<13>1 - - a - - - two"}, 0},
		{"octet counted without LF (logger --octet-count)", "21 <13>1 - - a - - - one21 <13>1 - - a - - - two",
			[]string{"<13>1 - - a - - - one", "<13>1 - - a - - - two"}, 0},
		{"mixed framings", "9 <13>hello\n<14>plain\n10 <13>hello2",
			[]string{"<13>hello", "<14>plain", "<13>hello2"}, 0},
		{"text starting with digits is not a count", "081109 203615 148 INFO x\n123 abc\n0 <13>zero\n",
			[]string{"081109 203615 148 INFO x", "123 abc", "0 <13>zero"}, 0},
		{"last line without LF", "<13>one\n<13>last", []string{"<13>one", "<13>last"}, 0},
		{"blank lines and NUL between frames", "\n\r\n<13>a\x00\n\n<13>b\n", []string{"<13>a", "<13>b"}, 0},
		{"too long, newline framed, longer than the read buffer", "<13>" + strings.Repeat("x", 100) + "\n<13>ok\n", []string{"<13>ok"}, 1},
		{"too long, octet counted", "50 <13>" + strings.Repeat("y", 46) + "<13>ok\n", []string{"<13>ok"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, tooLong := readFrames(t, tt.stream, 40)
			if strings.Join(frames, "|") != strings.Join(tt.frames, "|") || tooLong != tt.tooLong {
				t.Errorf("frames %q (%d too long), want %q (%d)", frames, tooLong, tt.frames, tt.tooLong)
			}
		})
	}
}

func TestDecodeSyslogFrames(t *testing.T) {
	frames := [][]byte{
		// logger over TCP (RFC 5424 with structured data).
		[]byte(`<131>1 2026-11-26T17:13:47.065001+00:00 vm myapp - - [timeQuality tzKnown="1" isSynced="0"] disk full on /var`),
		// syslog-ng network(): RFC 3164 without a program.
		[]byte(`<13>Nov 26 17:11:15 vm Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186`),
		// rsyslog omfwd over UDP: CR kept, no LF.
		[]byte("<140>Nov 26 17:16:58 vm linux: Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown\r"),
		// Not syslog at all.
		[]byte("just some text"),
		[]byte("  \r"),
	}
	rs := DecodeSyslogFrames(frames, 1, Defaults{Now: func() time.Time { return testNow }, Source: "relay"}, Limits{}, false)
	if len(rs) != 5 {
		t.Fatalf("%d results", len(rs))
	}
	checkResult(t, rs[0], wantEntry{time: "2026-11-26T17:13:47.065001Z", level: storage.LevelError, source: "myapp", message: "disk full on /var",
		fields: map[string]any{"facility": "local0", "hostname": "vm", "timeQuality.tzKnown": "1", "timeQuality.isSynced": "0"}})
	checkResult(t, rs[1], wantEntry{time: "2026-11-26T17:11:15Z", level: storage.LevelInfo, source: "relay",
		message: "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"})
	checkResult(t, rs[2], wantEntry{level: storage.LevelWarn, source: "linux", message: "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown"})
	checkResult(t, rs[3], wantEntry{source: "relay", message: "just some text"})
	checkResult(t, rs[4], wantEntry{err: "longer than the limit"})

	// With parse_message the forwarded line's own time wins.
	rs = DecodeSyslogFrames(frames[1:2], 0, Defaults{Now: func() time.Time { return testNow }}, Limits{}, true)
	checkResult(t, rs[0], wantEntry{time: "2025-12-10T06:55:46Z", level: storage.LevelInfo, message: "LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"})
}

// startSyslog runs a server with every listener on a free loopback port.
func startSyslog(tb testing.TB, svc *Service, opts SyslogOptions) (*SyslogServer, func()) {
	tb.Helper()
	opts.TCP, opts.UDP = "127.0.0.1:0", "127.0.0.1:0"
	if opts.TLSConfig != nil {
		opts.TLS = "127.0.0.1:0"
	}
	srv := NewSyslogServer(svc, opts)
	if err := srv.Listen(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	return srv, func() {
		_ = srv.Close()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	}
}

func waitEntries(tb testing.TB, st *memStore, n int) []storage.Entry {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := st.all(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("%d entries stored, want %d", len(st.all()), n)
	return nil
}

func TestSyslogServer(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := &memStore{}
	svc := NewService(st, ServiceOptions{})
	cfg := selfSignedTLS(t)
	srv, stop := startSyslog(t, svc, SyslogOptions{TLSConfig: cfg, BatchSize: 50})

	c, err := net.Dial("tcp", srv.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	// One lone message is stored without waiting for more.
	fmt.Fprintf(c, "<11>1 2026-11-26T10:00:00Z h app - - - lone\n")
	if got := waitEntries(t, st, 1); got[0].Message != "lone" || got[0].Level != storage.LevelError {
		t.Fatalf("stored %+v", got[0])
	}
	// A burst in both framings, in one write.
	var burst strings.Builder
	for i := 0; i < 120; i++ {
		msg := fmt.Sprintf("<14>1 2026-11-26T10:00:00Z h app - - - tcp %d\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&burst, "%d %s", len(msg), msg)
		} else {
			burst.WriteString(msg)
		}
	}
	if _, err := io.WriteString(c, burst.String()); err != nil {
		t.Fatal(err)
	}
	waitEntries(t, st, 121)

	u, err := net.Dial("udp", srv.Addr("udp").String())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(u, "<30>Nov 26 10:00:0%d host udpapp[7]: udp %d", i, i)
	}
	got := waitEntries(t, st, 126)
	if e := got[len(got)-1]; e.Source != "udpapp" || !strings.HasPrefix(e.Message, "udp ") {
		t.Errorf("udp entry %+v", e)
	}

	tc, err := tls.Dial("tcp", srv.Addr("tls").String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tc, "<13>1 2026-11-26T10:00:00Z h tlsapp - - - over tls\n")
	waitEntries(t, st, 127)

	// Messages read before the stop are stored by it.
	fmt.Fprintf(c, "<14>1 2026-11-26T10:00:00Z h app - - - last words\n")
	time.Sleep(50 * time.Millisecond)
	stop()
	if got := st.all(); got[len(got)-1].Message != "last words" {
		t.Errorf("last entry %+v", got[len(got)-1])
	}
	for _, cl := range []io.Closer{c, u, tc} {
		_ = cl.Close()
	}
}

func TestSyslogServerRetriesOverload(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := &memStore{err: fmt.Errorf("busy: %w", storage.ErrOverloaded)}
	svc := NewService(st, ServiceOptions{})
	srv, stop := startSyslog(t, svc, SyslogOptions{})
	defer stop()
	c, err := net.Dial("tcp", srv.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "<14>1 2026-11-26T10:00:00Z h app - - - held back\n")
	time.Sleep(300 * time.Millisecond)
	st.mu.Lock()
	st.err = nil
	st.mu.Unlock()
	if got := waitEntries(t, st, 1); got[0].Message != "held back" {
		t.Errorf("stored %+v", got)
	}
}

func selfSignedTLS(tb testing.TB) *tls.Config {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}
