package alerting

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// E-mail notifiers are addressed by URL: smtp://host[:587] upgrades the
// connection with STARTTLS (never sending in the clear), smtps://host[:465]
// speaks TLS from the start.
const (
	schemeSMTP  = "smtp"
	schemeSMTPS = "smtps"
)

// checkEmail checks the e-mail fields of a notifier and reduces its URL to
// scheme, host and port.
func (n *Notifier) checkEmail(policy HostPolicy, bad func(string, ...any)) {
	u, err := url.Parse(strings.TrimSpace(n.URL))
	switch {
	case err != nil:
		bad("url: %q does not parse: %v", n.URL, err)
	case u.Scheme != schemeSMTP && u.Scheme != schemeSMTPS:
		bad("url: %q must be smtp://host:587 (STARTTLS) or smtps://host:465 (TLS from the start)", n.URL)
	case u.Hostname() == "":
		bad("url: %q has no host", n.URL)
	case u.User != nil:
		bad("url: credentials in the URL are not supported (they would be shown by the API); use username and secret (the password)")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "":
		bad("url: %q must be only scheme, host and port", n.URL)
	case !policy.allows(u.Hostname()):
		bad("url: host %q is not among the allowed notifier hosts (alerting.allowed_notifier_hosts: %s)", u.Hostname(), strings.Join(policy.Allowed, ", "))
	default:
		if p := u.Port(); p != "" {
			if v, err := strconv.Atoi(p); err != nil || v < 1 || v > 65535 {
				bad("url: port %q is not 1-65535", p)
			}
		}
		n.URL = u.Scheme + "://" + u.Host
	}
	if n.From == "" {
		bad("from: missing; the sender address, e.g. logengine@example.com")
	} else if _, err := mail.ParseAddress(n.From); err != nil {
		bad("from: %q is not an e-mail address (%v)", n.From, err)
	}
	if len(n.To) == 0 {
		bad("to: give at least one recipient address")
	}
	for _, f := range []struct {
		name string
		list []string
	}{{"to", n.To}, {"cc", n.Cc}} {
		for _, a := range f.list {
			if _, err := mail.ParseAddress(a); err != nil {
				bad("%s: %q is not an e-mail address (%v)", f.name, a, err)
			}
		}
	}
	if n.Secret != "" && n.Username == "" {
		bad("username: missing; the secret is the SMTP password and needs a username")
	}
	if n.CAFile != "" {
		if _, err := loadCAFile(n.CAFile); err != nil {
			bad("ca_file: %v", err)
		}
	}
}

func loadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// sendEmail makes one delivery attempt of an item by e-mail. A recipient
// refused by the server is a failed delivery; anything else (the server
// unreachable, busy, or refusing the message as a whole) is retried.
func (m *Manager) sendEmail(ctx context.Context, n *Notifier, it *outboxItem) error {
	u, err := url.Parse(n.URL)
	if err != nil || !m.opts.Hosts.allows(u.Hostname()) {
		return &permanentError{fmt.Errorf("email %q: server %q is not allowed", n.Name, n.URL)}
	}
	msg, err := m.emailMessage(n, it)
	if err != nil {
		return &permanentError{fmt.Errorf("email %q: render message: %w", n.Name, err)}
	}
	tlsConf := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if n.CAFile != "" {
		if tlsConf.RootCAs, err = loadCAFile(n.CAFile); err != nil {
			return fmt.Errorf("email %q: ca_file: %w", n.Name, err)
		}
	}
	opts := []gomail.Option{
		gomail.WithTimeout(n.Timeout.Std()),
		gomail.WithTLSConfig(tlsConf),
		gomail.WithTLSPolicy(gomail.TLSMandatory),
	}
	port := 587
	if u.Scheme == schemeSMTPS {
		port = 465
		opts = append(opts, gomail.WithSSL())
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	opts = append(opts, gomail.WithPort(port))
	if n.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(n.Username), gomail.WithPassword(n.Secret))
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return &permanentError{fmt.Errorf("email %q: %w", n.Name, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, n.Timeout.Std())
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		err = fmt.Errorf("email %q via %s: %w", n.Name, n.URL, err)
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() {
			return &permanentError{err}
		}
		return err
	}
	return nil
}

// emailMessage builds the message of an item: a plain-text and an HTML
// part, and a Message-ID made of the delivery id, the same on every
// attempt, so that a retried delivery can be recognised as a duplicate.
func (m *Manager) emailMessage(n *Notifier, it *outboxItem) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(n.From); err != nil {
		return nil, err
	}
	if err := msg.To(n.To...); err != nil {
		return nil, err
	}
	if len(n.Cc) > 0 {
		if err := msg.Cc(n.Cc...); err != nil {
			return nil, err
		}
	}
	v := m.emailView(it)
	msg.Subject(v.Subject)
	msg.SetMessageIDWithValue(it.ID + "@logengine")
	msg.SetDateWithValue(it.Note.At)
	msg.SetGenHeader(gomail.HeaderUserAgent, m.opts.UserAgent)
	msg.SetGenHeader(gomail.Header(HeaderDelivery), it.ID)
	msg.SetGenHeader(gomail.Header(HeaderEvent), string(it.Note.State))
	var text, html strings.Builder
	if err := emailText.Execute(&text, v); err != nil {
		return nil, err
	}
	if err := emailHTML.Execute(&html, v); err != nil {
		return nil, err
	}
	msg.SetBodyString(gomail.TypeTextPlain, text.String())
	msg.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return msg, nil
}

type emailLabel struct{ Name, Value string }

type emailData struct {
	Subject, Summary, Rule, Query, State, Value, Window, Condition, Severity string
	Started, Ended                                                           string
	Labels                                                                   []emailLabel
	Sample                                                                   []string
	Patterns                                                                 []string
	Link                                                                     string
}

func (m *Manager) emailView(it *outboxItem) emailData {
	n := &it.Note
	r := &n.Rule
	d := emailData{
		Summary: summary(n), Rule: r.Name, Query: r.Query, State: string(n.State), Value: formatValue(n.Value),
		Condition: r.Condition.String(), Severity: r.Severity,
	}
	d.Subject = "[" + strings.ToUpper(d.State) + "] " + d.Summary
	if r.Window > 0 {
		d.Window = r.Window.String()
	}
	if !n.StartedAt.IsZero() {
		d.Started = n.StartedAt.UTC().Format(time.RFC3339)
	}
	if !n.EndedAt.IsZero() {
		d.Ended = n.EndedAt.UTC().Format(time.RFC3339)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		d.Labels = append(d.Labels, emailLabel{k, r.Labels[k]})
	}
	for _, s := range n.Sample {
		d.Sample = append(d.Sample, sampleLines([]sample{s}))
	}
	for _, p := range n.Patterns {
		d.Patterns = append(d.Patterns, patternLines([]newPattern{p}))
	}
	if m.opts.ExternalURL != "" {
		// The web UI's search, over the alert's window up to the
		// notification (or the end of the alert).
		to := n.At
		if !n.EndedAt.IsZero() {
			to = n.EndedAt
		}
		span := r.Window.Std()
		if span <= 0 {
			span = time.Hour
		}
		from := to.Add(-span)
		if !n.StartedAt.IsZero() && n.StartedAt.Before(from.Add(span)) {
			// From the window that first fired.
			from = n.StartedAt.Add(-span)
		}
		q := url.Values{"q": {r.Query}, "from": {strconv.FormatInt(from.UnixMilli(), 10)}, "to": {strconv.FormatInt(to.UnixMilli(), 10)}}
		d.Link = strings.TrimSuffix(m.opts.ExternalURL, "/") + "/?" + q.Encode()
	}
	return d
}

var emailText = texttemplate.Must(texttemplate.New("text").Parse(`{{.Summary}}

Rule:      {{.Rule}}
State:     {{.State}}
Value:     {{.Value}}
{{- if .Window}}
Window:    {{.Window}}{{end}}
{{- if .Condition}}
Condition: {{.Condition}}{{end}}
Query:     {{.Query}}
{{- if .Severity}}
Severity:  {{.Severity}}{{end}}
{{- if .Started}}
Started:   {{.Started}}{{end}}
{{- if .Ended}}
Ended:     {{.Ended}}{{end}}
{{- range .Labels}}
Label:     {{.Name}}={{.Value}}{{end}}
{{- if .Patterns}}

New patterns:
{{- range .Patterns}}
  {{.}}{{end}}{{end}}
{{- if .Sample}}

Sample logs:
{{- range .Sample}}
  {{.}}{{end}}{{end}}
{{- if .Link}}

Search: {{.Link}}{{end}}
`))

var emailHTML = template.Must(template.New("html").Parse(`<!DOCTYPE html>
<html><body style="font-family:sans-serif">
<p><strong>{{.Summary}}</strong></p>
<table>
<tr><th align="left">Rule</th><td>{{.Rule}}</td></tr>
<tr><th align="left">State</th><td>{{.State}}</td></tr>
<tr><th align="left">Value</th><td>{{.Value}}</td></tr>
{{if .Window}}<tr><th align="left">Window</th><td>{{.Window}}</td></tr>{{end}}
{{if .Condition}}<tr><th align="left">Condition</th><td>{{.Condition}}</td></tr>{{end}}
<tr><th align="left">Query</th><td><code>{{.Query}}</code></td></tr>
{{if .Severity}}<tr><th align="left">Severity</th><td>{{.Severity}}</td></tr>{{end}}
{{if .Started}}<tr><th align="left">Started</th><td>{{.Started}}</td></tr>{{end}}
{{if .Ended}}<tr><th align="left">Ended</th><td>{{.Ended}}</td></tr>{{end}}
{{range .Labels}}<tr><th align="left">{{.Name}}</th><td>{{.Value}}</td></tr>{{end}}
</table>
{{if .Patterns}}<p>New patterns:</p>
<pre>{{range .Patterns}}{{.}}
{{end}}</pre>{{end}}
{{if .Sample}}<p>Sample logs:</p>
<pre>{{range .Sample}}{{.}}
{{end}}</pre>{{end}}
{{if .Link}}<p><a href="{{.Link}}">Open the search in logengine</a></p>{{end}}
</body></html>
`))
