package alerting

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The e-mail tests run Debian's aiosmtpd (python3-aiosmtpd), a real SMTP
// server, on a free loopback port.
const smtpPython = "/usr/bin/python3"

type smtpServer struct {
	addr   string
	outdir string
	caFile string
}

// startSMTP starts the server in mode starttls or implicit, accepting user
// "alerts" with password "s3cret".
func startSMTP(t *testing.T, mode string) *smtpServer {
	t.Helper()
	if _, err := os.Stat(smtpPython); err != nil {
		t.Skip("python3 is not installed (Debian package python3-aiosmtpd)")
	}
	if err := exec.Command(smtpPython, "-c", "import aiosmtpd").Run(); err != nil {
		t.Skip("aiosmtpd is not installed (Debian package python3-aiosmtpd)")
	}
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	s := &smtpServer{outdir: filepath.Join(dir, "mail"), caFile: cert}
	if err := os.Mkdir(s.outdir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.addr = freeLoopbackAddr(t)
	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(smtpPython, filepath.Join("testdata", "smtpserver.py"), port, cert, key, s.outdir, mode, "alerts", "s3cret")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Logf("smtp server: %v\n%s", err, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "READY" {
		_ = cmd.Process.Kill()
		t.Fatalf("smtp server did not start: %q %v\n%s", line, err, stderr.String())
	}
	return s
}

// messages returns the accepted messages and their envelope recipients.
func (s *smtpServer) messages(t *testing.T) (msgs []*mail.Message, rcpts [][]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.outdir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".rcpt")
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
		rcpts = append(rcpts, strings.Split(string(r), "\n"))
	}
	return msgs, rcpts
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeCert writes a self-signed certificate for 127.0.0.1, which also
// serves as the CA file of the notifier.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// parts returns the text of each part of a multipart/alternative message
// by content type.
func parts(t *testing.T, m *mail.Message) map[string]string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[ct] = string(b)
	}
}

func (e *env) emailNotifier(n Notifier) {
	e.t.Helper()
	if _, err := e.m.CreateNotifier(context.Background(), n); err != nil {
		e.t.Fatal(err)
	}
}

func TestEmailDelivery(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			srv := startSMTP(t, mode)
			scheme := map[string]string{"starttls": "smtp", "implicit": "smtps"}[mode]
			e := newEnv(t, Options{ExternalURL: "http://logs.example.com:8080/"})
			e.emailNotifier(Notifier{
				Name: "ops", Type: TypeEmail, URL: scheme + "://" + srv.addr, CAFile: srv.caFile,
				Username: "alerts", Secret: "s3cret",
				From: "logengine@example.com", To: []string{"oncall@example.com"}, Cc: []string{"Team Lead <lead@example.com>"},
			})
			r := windowed(5*time.Minute, OpGreater, 2, 0)
			r.Labels = map[string]string{"team": "payments"}
			id := e.rule(r)
			logs(3)(e, id)
			if !e.deliver("ops") {
				evs, _ := e.m.History(context.Background(), HistoryQuery{Rule: id})
				t.Fatalf("not delivered: %+v", evs)
			}
			msgs, rcpts := srv.messages(t)
			if len(msgs) != 1 {
				t.Fatalf("%d messages arrived, want 1", len(msgs))
			}
			m := msgs[0]
			if got := strings.Join(rcpts[0], ","); got != "oncall@example.com,lead@example.com" {
				t.Errorf("envelope recipients %q", got)
			}
			h := m.Header
			for k, want := range map[string]string{
				"From": "<logengine@example.com>", "To": "<oncall@example.com>", "Cc": `"Team Lead" <lead@example.com>`,
			} {
				if h.Get(k) != want {
					t.Errorf("%s: %q, want %q", k, h.Get(k), want)
				}
			}
			subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			if !strings.HasPrefix(subject, "[FIRING] api errors: 3 matching logs") {
				t.Errorf("subject %q", subject)
			}
			if !strings.HasSuffix(h.Get("Message-Id"), "@logengine>") || h.Get(HeaderDelivery) == "" ||
				!strings.Contains(h.Get("Message-Id"), h.Get(HeaderDelivery)) {
				t.Errorf("message id %q, delivery %q", h.Get("Message-Id"), h.Get(HeaderDelivery))
			}
			p := parts(t, m)
			text, html := p["text/plain"], p["text/html"]
			link := "http://logs.example.com:8080/?from="
			for _, want := range []string{"Rule:      api errors", "Query:     level:error source:api", "team=payments", "upstream timeout", link} {
				if !strings.Contains(text, want) {
					t.Errorf("text part lacks %q:\n%s", want, text)
				}
			}
			for _, want := range []string{"<td>api errors</td>", "upstream timeout", `<a href="` + link} {
				if !strings.Contains(html, want) {
					t.Errorf("html part lacks %q:\n%s", want, html)
				}
			}
		})
	}
}

func TestEmailFailures(t *testing.T) {
	srv := startSMTP(t, "starttls")
	tests := []struct {
		name      string
		n         Notifier
		permanent bool
		wantErr   string
	}{
		{
			name:    "wrong password is retried",
			n:       Notifier{Username: "alerts", Secret: "wrong", To: []string{"oncall@example.com"}},
			wantErr: "535",
		},
		{
			name:    "untrusted certificate is retried",
			n:       Notifier{Username: "alerts", Secret: "s3cret", To: []string{"oncall@example.com"}, CAFile: "-"},
			wantErr: "certificate",
		},
		{
			name:      "refused recipient is a failed delivery",
			n:         Notifier{Username: "alerts", Secret: "s3cret", To: []string{"nobody@example.com"}},
			permanent: true,
			wantErr:   "550",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			n := tt.n
			n.Name, n.Type, n.URL, n.From = "ops", TypeEmail, "smtp://"+srv.addr, "logengine@example.com"
			switch n.CAFile {
			case "":
				n.CAFile = srv.caFile
			case "-":
				n.CAFile = ""
			}
			e.emailNotifier(n)
			id := e.rule(windowed(5*time.Minute, OpGreater, 2, 0))
			logs(3)(e, id)
			unblocked := e.deliver("ops")
			if unblocked != tt.permanent {
				t.Errorf("lane unblocked = %v, want %v (permanent failure drops the item)", unblocked, tt.permanent)
			}
			if kept := len(e.outbox()); kept != map[bool]int{true: 0, false: 1}[tt.permanent] {
				t.Errorf("%d items kept in the outbox", kept)
			}
			evs, _ := e.m.History(context.Background(), HistoryQuery{Rule: id})
			if len(evs) != 2 || !strings.Contains(evs[1].Error, tt.wantErr) {
				t.Errorf("history %+v, want an error with %q", evs, tt.wantErr)
			}
		})
	}
}

func TestEmailNotifierValidation(t *testing.T) {
	ok := Notifier{Name: "mail", Type: TypeEmail, URL: "smtp://mail.example.com:587", From: "a@example.com", To: []string{"b@example.com"}}
	tests := []struct {
		name    string
		edit    func(n *Notifier)
		wantErr string
	}{
		{"valid", func(*Notifier) {}, ""},
		{"http url", func(n *Notifier) { n.URL = "http://mail.example.com" }, "must be smtp://host:587"},
		{"credentials in url", func(n *Notifier) { n.URL = "smtp://u:p@mail.example.com" }, "credentials in the URL"},
		{"bad from", func(n *Notifier) { n.From = "not an address" }, "from: \"not an address\" is not an e-mail address"},
		{"no recipients", func(n *Notifier) { n.To = nil }, "to: give at least one recipient"},
		{"bad cc", func(n *Notifier) { n.Cc = []string{"x@"} }, "cc: \"x@\""},
		{"password without username", func(n *Notifier) { n.Secret = "pw" }, "username: missing"},
		{"missing ca file", func(n *Notifier) { n.CAFile = "/nonexistent/ca.pem" }, "ca_file:"},
		{"subject is for nats", func(n *Notifier) { n.Subject = "x" }, "subject: only nats notifiers take it"},
		{"bad port", func(n *Notifier) { n.URL = "smtp://mail.example.com:99999" }, "port \"99999\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := ok
			tt.edit(&n)
			err := n.normalize(HostPolicy{})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}
