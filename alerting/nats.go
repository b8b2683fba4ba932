package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// checkNATS checks the NATS fields of a notifier.
func (n *Notifier) checkNATS(policy HostPolicy, bad func(string, ...any)) {
	u, err := url.Parse(strings.TrimSpace(n.URL))
	switch {
	case err != nil:
		bad("url: %q does not parse: %v", n.URL, err)
	case u.Scheme != "nats" && u.Scheme != "tls":
		bad("url: %q must be nats://host:4222 (or tls://host:4222 for TLS)", n.URL)
	case u.Hostname() == "":
		bad("url: %q has no host", n.URL)
	case u.User != nil:
		bad("url: credentials in the URL are not supported (they would be shown by the API); use secret (a token) or username and secret")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		bad("url: %q must be only scheme, host and port", n.URL)
	case !policy.allows(u.Hostname()):
		bad("url: host %q is not among the allowed notifier hosts (alerting.allowed_notifier_hosts: %s)", u.Hostname(), strings.Join(policy.Allowed, ", "))
	default:
		n.URL = u.Scheme + "://" + u.Host
	}
	switch {
	case n.Subject == "":
		bad("subject: missing; the subject to publish notifications on, e.g. logengine.alerts")
	case strings.ContainsAny(n.Subject, " \t\r\n*>") || strings.HasPrefix(n.Subject, ".") ||
		strings.HasSuffix(n.Subject, ".") || strings.Contains(n.Subject, ".."):
		bad("subject: %q must be dot-separated tokens without spaces or wildcards (* >)", n.Subject)
	}
	if n.Username != "" && n.Secret == "" {
		bad("secret: missing; the password of username %q", n.Username)
	}
	if n.CAFile != "" {
		if _, err := loadCAFile(n.CAFile); err != nil {
			bad("ca_file: %v", err)
		}
	}
}

// sendNATS publishes the webhook's JSON body on the notifier's subject.
// When a JetStream stream captures the subject, the publish waits for the
// stream's acknowledgement and carries the delivery id as Nats-Msg-Id, so
// that the stream drops the duplicate of a retried delivery; otherwise it
// is a core publish, flushed to the server.
func (m *Manager) sendNATS(ctx context.Context, n *Notifier, it *outboxItem) error {
	u, err := url.Parse(n.URL)
	if err != nil || !m.opts.Hosts.allows(u.Hostname()) {
		return &permanentError{fmt.Errorf("nats %q: server %q is not allowed", n.Name, n.URL)}
	}
	body, err := webhookPayload(it)
	if err != nil {
		return &permanentError{fmt.Errorf("render notification: %w", err)}
	}
	opts := []nats.Option{
		nats.Name(m.opts.UserAgent),
		nats.Timeout(n.Timeout.Std()),
		nats.NoReconnect(),
	}
	switch {
	case n.Username != "":
		opts = append(opts, nats.UserInfo(n.Username, n.Secret))
	case n.Secret != "":
		opts = append(opts, nats.Token(n.Secret))
	}
	if n.CAFile != "" {
		opts = append(opts, nats.RootCAs(n.CAFile))
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout.Std())
	defer cancel()
	nc, err := nats.Connect(n.URL, opts...)
	if err != nil {
		// Refused credentials are retried, as for e-mail: the server's
		// configuration may be what is being fixed.
		return fmt.Errorf("nats %q: connect %s: %w", n.Name, n.URL, err)
	}
	defer nc.Close()
	msg := nats.NewMsg(n.Subject)
	msg.Data = body
	msg.Header.Set("Content-Type", "application/json")
	msg.Header.Set(HeaderDelivery, it.ID)
	msg.Header.Set(HeaderEvent, string(it.Note.State))

	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats %q: %w", n.Name, err)
	}
	_, err = js.StreamNameBySubject(ctx, n.Subject)
	switch {
	case err == nil:
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(it.ID)); err != nil {
			return fmt.Errorf("nats %q: publish on %s to its stream: %w", n.Name, n.Subject, err)
		}
		return nil
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount), errors.Is(err, nats.ErrNoResponders):
		if err := nc.PublishMsg(msg); err != nil {
			return fmt.Errorf("nats %q: publish on %s: %w", n.Name, n.Subject, err)
		}
		if err := nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("nats %q: flush %s: %w", n.Name, n.Subject, err)
		}
		return nil
	default:
		return fmt.Errorf("nats %q: find the stream of %s: %w", n.Name, n.Subject, err)
	}
}
