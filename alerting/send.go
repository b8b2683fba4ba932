package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Headers of every notification request.
const (
	// HeaderDelivery carries the delivery id: the same on every attempt of
	// one notification to one notifier, so receivers can drop duplicates.
	HeaderDelivery = "X-Logengine-Delivery"
	// HeaderSignature carries "sha256=<hex HMAC-SHA256 of the body>",
	// keyed by the webhook's secret, when it has one.
	HeaderSignature = "X-Logengine-Signature"
	// HeaderEvent carries the notification's state (firing, resolved).
	HeaderEvent = "X-Logengine-Event"
)

// permanentError is a delivery failure that retrying cannot fix: the
// receiver refused the request itself.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Sign returns the value of HeaderSignature for body and secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// send makes one delivery attempt of an item to its notifier.
func (m *Manager) send(ctx context.Context, n *Notifier, it *outboxItem) error {
	switch n.Type {
	case TypeEmail:
		return m.sendEmail(ctx, n, it)
	case TypeNATS:
		return m.sendNATS(ctx, n, it)
	case TypeKafka:
		return m.sendKafka(ctx, n, it)
	}
	target, err := m.opts.Hosts.checkURL(n.URL)
	if err != nil {
		return &permanentError{err}
	}
	var body []byte
	switch n.Type {
	case TypeWebhook:
		body, err = webhookPayload(it)
	case TypeAlertmanager:
		target = target.JoinPath("api", "v2", "alerts")
		body, err = m.alertmanagerPayload(it, m.now())
	default:
		err = fmt.Errorf("unknown notifier type %q", n.Type)
	}
	if err != nil {
		return &permanentError{fmt.Errorf("render notification: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout.Std())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", m.opts.UserAgent)
	req.Header.Set(HeaderDelivery, it.ID)
	req.Header.Set(HeaderEvent, string(it.Note.State))
	if n.Type == TypeWebhook && n.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(n.Secret, body))
	}
	client := &http.Client{Transport: m.http, CheckRedirect: m.checkRedirect}
	resp, err := client.Do(req)
	if err != nil {
		var perm *permanentError
		if errors.As(err, &perm) {
			return perm
		}
		return fmt.Errorf("%s %q: %w", n.Type, n.Name, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s %q: %s answered %s: %s", n.Type, n.Name, redact(target.String()), resp.Status, strings.TrimSpace(string(snippet)))
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusTooEarly, resp.StatusCode >= 500:
		return err
	case resp.StatusCode >= 400:
		return &permanentError{err}
	}
	return err // 1xx and 3xx that were not followed
}

// checkRedirect follows a redirect only to the same scheme and host with
// the same method: a receiver must not turn a signed notification into a
// request elsewhere, nor a POST into a GET that drops the body.
func (m *Manager) checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	switch {
	case len(via) >= 5:
		return &permanentError{errors.New("more than 5 redirects")}
	case req.URL.Host != first.URL.Host || req.URL.Scheme != first.URL.Scheme:
		return &permanentError{fmt.Errorf("redirect to another host (%s://%s) refused", req.URL.Scheme, req.URL.Host)}
	case req.Method != first.Method:
		return &permanentError{fmt.Errorf("redirect that turns %s into %s refused (use 307 or 308)", first.Method, req.Method)}
	}
	return nil
}

// redact drops the query of a URL for messages (it may carry a token).
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
