package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client talks to a running daemon.
type client struct {
	server string
	key    string
	http   *http.Client
}

func addClientFlags(fs *flag.FlagSet) (server, key *string) {
	server = fs.String("server", "http://127.0.0.1:8080", "URL of the logengine daemon")
	key = fs.String("api-key", "", "API key to send (when the daemon has keys configured)")
	return server, key
}

func newClient(server, key string) *client {
	return &client{server: strings.TrimRight(server, "/"), key: key, http: &http.Client{Timeout: 5 * time.Minute}}
}

// do sends a request and returns the response when its status is 2xx; for
// any other status it returns the daemon's error message. It retries 429
// and 503 answers after their Retry-After, up to a minute in all.
func (c *client) do(ctx context.Context, method, path, contentType string, body []byte) (*http.Response, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		var rd io.Reader
		if body != nil {
			rd = strings.NewReader(string(body))
		}
		req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
		if err != nil {
			return nil, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w (is the daemon running? start it with: logengine serve)", method, c.server+path, err)
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		msg, raw := readError(resp)
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && time.Now().Before(deadline) {
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, &statusError{code: resp.StatusCode, msg: msg, body: raw}
	}
}

type statusError struct {
	code int
	msg  string
	body []byte
}

func (e *statusError) Error() string { return fmt.Sprintf("the daemon answered %d: %s", e.code, e.msg) }

func readError(resp *http.Response) (string, []byte) {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error, b
	}
	return strings.TrimSpace(string(b)), b
}

func (c *client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode the answer of %s: %w", path, err)
	}
	return nil
}

// runHealthcheck exits 0 when the daemon answers /healthz: the container
// HEALTHCHECK, which has no curl in a distroless image. Without --server it
// reads the same configuration as serve (--config, LOGENGINE_*), so a
// container whose port or TLS was changed is still checked where it serves.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck", stderr)
	server, _ := addClientFlags(fs)
	configFile := fs.String("config", "", "YAML configuration file of serve, to find its address when --server is not given")
	set, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	target := *server
	if !set["server"] {
		var serveArgs []string
		if *configFile != "" {
			serveArgs = []string{"--config", *configFile}
		}
		cfg, _, err := serveConfig(serveArgs, stderr)
		if err != nil {
			return fmt.Errorf("find the daemon's address (or give --server): %w", err)
		}
		if target, err = healthURL(cfg.Listen, cfg.TLS.Cert != ""); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c := newClient(target, "")
	c.http = healthClient(target)
	resp, err := c.do(ctx, http.MethodGet, "/healthz", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Fprintln(stdout, "ok")
	return nil
}

// healthURL returns the base URL at which a daemon listening on listen is
// reached from the same host: a wildcard or empty host is reached on
// loopback.
func healthURL(listen string, useTLS bool) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen: %q is not host:port (%v)", listen, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("listen: %q has no fixed port to check; give --server", listen)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// healthClient skips certificate verification for a loopback server only:
// the certificate names the public host, and on loopback nothing sits
// between the check and the daemon.
func healthClient(server string) *http.Client {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || !isLoopback(u.Hostname()) {
		return &http.Client{}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback only, see above
	return &http.Client{Transport: tr}
}
