package alerting

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Notifier is a target of notifications: a generic webhook, a Prometheus
// Alertmanager, an e-mail address list, a NATS subject or a Kafka topic.
type Notifier struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// URL is the webhook's URL, the Alertmanager's base URL (the path
	// /api/v2/alerts is appended), the SMTP server of an e-mail notifier
	// (smtp://host:587 with STARTTLS, smtps://host:465 with TLS from the
	// start) or the NATS server (nats://host:4222, tls://host:4222).
	URL string `json:"url"`
	// Secret, for webhooks, keys the HMAC-SHA256 signature of every body;
	// for e-mail it is the SMTP password, for NATS the token (or, with a
	// Username, the password), for Kafka the SASL password. It is stored
	// but never returned by the API.
	Secret string `json:"secret,omitempty"`
	// Username authenticates to the SMTP or NATS server or to the Kafka
	// brokers with Secret.
	Username string `json:"username,omitempty"`
	// From, To and Cc address an e-mail notifier's messages.
	From string   `json:"from,omitempty"`
	To   []string `json:"to,omitempty"`
	Cc   []string `json:"cc,omitempty"`
	// CAFile names a PEM file of the certificates that sign the SMTP or
	// NATS server's or the Kafka brokers' certificates, when the system's
	// do not.
	CAFile string `json:"ca_file,omitempty"`
	// Subject is the NATS subject notifications are published on.
	Subject string `json:"subject,omitempty"`
	// Brokers are a Kafka notifier's seed brokers, host:port each, and
	// Topic the topic it produces to.
	Brokers []string `json:"brokers,omitempty"`
	Topic   string   `json:"topic,omitempty"`
	// SASLMechanism authenticates to Kafka as Username with the password
	// in Secret: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty means no
	// SASL.
	SASLMechanism string `json:"sasl_mechanism,omitempty"`
	// TLS connects to the Kafka brokers over TLS, verified against CAFile
	// or the system's authorities.
	TLS bool `json:"tls,omitempty"`
	// Timeout bounds one delivery attempt; zero means DefaultTimeout.
	Timeout Duration `json:"timeout"`

	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`

	// SecretSet tells, in what Public returns, that there is a secret.
	SecretSet bool `json:"-"`
}

// The notifier types.
const (
	TypeWebhook      = "webhook"
	TypeAlertmanager = "alertmanager"
	TypeEmail        = "email"
	TypeNATS         = "nats"
	TypeKafka        = "kafka"
)

// DefaultTimeout bounds a delivery attempt when the notifier names none.
const DefaultTimeout = 10 * time.Second

var notifierName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$`)

// HostPolicy decides which hosts notifiers may send to. The zero value
// allows every host.
type HostPolicy struct {
	// Allowed lists host names ("hooks.example.com"), wildcard domains
	// ("*.example.com"), IP addresses and CIDR ranges ("10.0.0.0/8"). Empty
	// allows every host.
	Allowed []string
}

// Validate checks the entries of the policy.
func (p HostPolicy) Validate() error {
	for _, a := range p.Allowed {
		a = strings.TrimSpace(a)
		if a == "" {
			return fmt.Errorf("allowed notifier hosts: empty entry")
		}
		if strings.Contains(a, "/") {
			if _, _, err := net.ParseCIDR(a); err != nil {
				return fmt.Errorf("allowed notifier hosts: %q is not a CIDR range: %v", a, err)
			}
		}
		if strings.Contains(a, "://") || strings.Contains(a, ":") && net.ParseIP(a) == nil && !strings.Contains(a, "/") {
			return fmt.Errorf("allowed notifier hosts: %q: give a host name, *.domain, an IP address or a CIDR range, without scheme or port", a)
		}
	}
	return nil
}

// allows reports whether host (a name or an IP literal, without port) is
// allowed.
func (p HostPolicy) allows(host string) bool {
	if len(p.Allowed) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ip := net.ParseIP(host)
	for _, a := range p.Allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case strings.Contains(a, "/"):
			if _, n, err := net.ParseCIDR(a); err == nil && ip != nil && n.Contains(ip) {
				return true
			}
		case strings.HasPrefix(a, "*."):
			if strings.HasSuffix(host, a[1:]) {
				return true
			}
		case ip != nil:
			if aip := net.ParseIP(a); aip != nil && aip.Equal(ip) {
				return true
			}
		case a == host:
			return true
		}
	}
	return false
}

// checkURL checks a notifier URL: absolute http or https, a host, no
// credentials, and allowed by the policy.
func (p HostPolicy) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("url: %q does not parse: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: %q must start with http:// or https://", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url: %q has no host", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("url: credentials in the URL are not supported (they would be shown by the API); use a webhook secret instead")
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("url: %q has a fragment (#...), which is never sent", raw)
	}
	if !p.allows(u.Hostname()) {
		return nil, fmt.Errorf("url: host %q is not among the allowed notifier hosts (alerting.allowed_notifier_hosts: %s)", u.Hostname(), strings.Join(p.Allowed, ", "))
	}
	return u, nil
}

// normalize fills in defaults and checks the notifier.
func (n *Notifier) normalize(policy HostPolicy) error {
	n.Name = strings.TrimSpace(n.Name)
	n.Type = strings.ToLower(strings.TrimSpace(n.Type))
	if n.Name == "" && (n.Type == TypeWebhook || n.Type == TypeAlertmanager || n.Type == TypeEmail || n.Type == TypeNATS || n.Type == TypeKafka) {
		// One notifier of a kind needs no name of its own: rules then
		// notify "alertmanager" (or "webhook").
		n.Name = n.Type
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !notifierName.MatchString(n.Name) {
		if n.Name == "" {
			bad("name: must not be empty")
		} else {
			bad("name: %q must be letters, digits, '_', '.' or '-' (at most 100)", n.Name)
		}
	}
	checkHTTP := func() {
		if u, err := policy.checkURL(n.URL); err != nil {
			bad("%v", err)
		} else {
			n.URL = u.String()
		}
	}
	onlyFor := func(types string, fields map[string]bool) {
		for f, set := range fields {
			if set {
				bad("%s: only %s notifiers take it; remove it", f, types)
			}
		}
	}
	if n.Type != TypeEmail {
		onlyFor("email", map[string]bool{"from": n.From != "", "to": len(n.To) > 0, "cc": len(n.Cc) > 0})
	}
	if n.Type != TypeNATS {
		onlyFor("nats", map[string]bool{"subject": n.Subject != ""})
	}
	if n.Type != TypeKafka {
		onlyFor("kafka", map[string]bool{"brokers": len(n.Brokers) > 0, "topic": n.Topic != "", "sasl_mechanism": n.SASLMechanism != "", "tls": n.TLS})
	}
	if n.Type != TypeEmail && n.Type != TypeNATS && n.Type != TypeKafka {
		onlyFor("email, nats and kafka", map[string]bool{"username": n.Username != "", "ca_file": n.CAFile != ""})
	}
	switch n.Type {
	case TypeWebhook:
		checkHTTP()
	case TypeAlertmanager:
		if n.Secret != "" {
			bad("secret: an alertmanager notifier does not sign its requests; remove the secret")
		}
		checkHTTP()
	case TypeEmail:
		n.checkEmail(policy, bad)
	case TypeNATS:
		n.checkNATS(policy, bad)
	case TypeKafka:
		n.checkKafka(policy, bad)
	case "":
		bad("type: missing; use webhook, alertmanager, email, nats or kafka")
	default:
		bad("type: %q is not one of webhook, alertmanager, email, nats, kafka", n.Type)
	}
	if n.Timeout < 0 {
		bad("timeout: must be positive")
	}
	if n.Timeout == 0 {
		n.Timeout = Duration(DefaultTimeout)
	}
	if len(errs) > 0 {
		return &InputError{Msg: "notifier " + quoteName(n.Name) + ": " + strings.Join(errs, "; ")}
	}
	return nil
}

// Public returns the notifier without its secret, as the API shows it.
func (n Notifier) Public() Notifier {
	n.SecretSet = n.Secret != ""
	n.Secret = ""
	return n
}

// HasSecret reports whether the notifier signs its requests.
func (n Notifier) HasSecret() bool { return n.Secret != "" }
