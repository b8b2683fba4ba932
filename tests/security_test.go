package tests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRefusesPublicListenWithoutKeys: without API keys the daemon only
// listens on loopback, and says why it refuses otherwise.
func TestRefusesPublicListenWithoutKeys(t *testing.T) {
	out, err := exec.Command(binary, "serve", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0").CombinedOutput()
	if err == nil {
		t.Fatalf("serve on 0.0.0.0 without keys started:\n%s", out)
	}
	if !strings.Contains(string(out), "no API keys") {
		t.Fatalf("the refusal does not say why:\n%s", out)
	}
}

// TestAPIKeysOverTLS runs the daemon with keys and a certificate: TLS 1.2+
// only, 401 without a key, 403 with the wrong role, and the roles work.
func TestAPIKeysOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	d := startDaemonTLS(t, dir, "--tls-cert", certFile, "--tls-key", keyFile,
		"--api-key", "shipper:ingest:ingest-key-0123456789abcdef",
		"--api-key", "viewer:query:query-key-0123456789abcdef")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	call := func(method, path, key, body string) int {
		req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		method, path, key string
		want              int
	}{
		{"GET", "/healthz", "", 200},
		{"POST", "/api/v1/logs", "", 401},
		{"POST", "/api/v1/logs", "ingest-key-0123456789abcdef", 200},
		{"GET", "/api/v1/logs", "ingest-key-0123456789abcdef", 403},
		{"GET", "/api/v1/logs", "query-key-0123456789abcdef", 200},
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "query-key-0123456789abcdef", 200},
		{"POST", "/api/v1/admin/retention", "query-key-0123456789abcdef", 403},
	}
	for _, c := range cases {
		if got := call(c.method, c.path, c.key, `{"message":"over tls"}`); got != c.want {
			t.Errorf("%s %s with key %q = %d, want %d", c.method, c.path, c.key, got, c.want)
		}
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get(d.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}
}

func startDaemonTLS(t *testing.T, dir string, args ...string) *daemon {
	t.Helper()
	// The harness waits for the listening line; the URL it builds is
	// http://, so fix the scheme afterwards.
	d := startDaemon(t, filepath.Join(dir, "data"), args...)
	d.url = strings.Replace(d.url, "http://", "https://", 1)
	return d
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
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
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
