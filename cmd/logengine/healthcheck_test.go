package main

import (
	"net/http"
	"testing"
)

func TestHealthURL(t *testing.T) {
	tests := []struct {
		name    string
		listen  string
		tls     bool
		want    string
		wantErr bool
	}{
		{name: "default loopback", listen: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "container wildcard", listen: "0.0.0.0:8080", want: "http://127.0.0.1:8080"},
		{name: "port only", listen: ":9000", want: "http://127.0.0.1:9000"},
		{name: "ipv6 wildcard", listen: "[::]:8443", tls: true, want: "https://[::1]:8443"},
		{name: "tls on wildcard", listen: "0.0.0.0:8443", tls: true, want: "https://127.0.0.1:8443"},
		{name: "named host kept", listen: "localhost:8080", want: "http://localhost:8080"},
		{name: "specific address kept", listen: "10.1.2.3:8080", tls: true, want: "https://10.1.2.3:8080"},
		{name: "no port", listen: "0.0.0.0", wantErr: true},
		{name: "random port", listen: "127.0.0.1:0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := healthURL(tt.listen, tt.tls)
			if (err != nil) != tt.wantErr {
				t.Fatalf("healthURL(%q, %v) error = %v, want error %v", tt.listen, tt.tls, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("healthURL(%q, %v) = %q, want %q", tt.listen, tt.tls, got, tt.want)
			}
		})
	}
}

func TestHealthClientVerifiesOffLoopback(t *testing.T) {
	tests := []struct {
		server     string
		skipVerify bool
	}{
		{"https://127.0.0.1:8443", true},
		{"https://[::1]:8443", true},
		{"https://localhost:8443", true},
		{"https://logs.example.com:8443", false},
		{"https://10.1.2.3:8443", false},
		{"http://127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			c := healthClient(tt.server)
			tr, _ := c.Transport.(*http.Transport)
			skip := tr != nil && tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify
			if skip != tt.skipVerify {
				t.Errorf("healthClient(%q) skips verification = %v, want %v", tt.server, skip, tt.skipVerify)
			}
		})
	}
}

// The healthcheck reads serve's configuration from the environment, as
// the Dockerfile's HEALTHCHECK relies on.
func TestHealthcheckTargetFromServeEnvironment(t *testing.T) {
	t.Setenv("LOGENGINE_LISTEN", "0.0.0.0:9090")
	t.Setenv("LOGENGINE_API_KEYS", "ops:admin:secret")
	t.Setenv("LOGENGINE_TLS_CERT", "/etc/logengine/tls.crt")
	t.Setenv("LOGENGINE_TLS_KEY", "/etc/logengine/tls.key")
	cfg, _, err := serveConfig(nil, &testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	got, err := healthURL(cfg.Listen, cfg.TLS.Cert != "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://127.0.0.1:9090"; got != want {
		t.Errorf("healthcheck target = %q, want %q", got, want)
	}
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
