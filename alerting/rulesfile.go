package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/logengine/logengine/search"
)

// RulesFile is a YAML file of notifiers and rules: rules as code, like
// Prometheus rule files. At Open its definitions replace those of an
// earlier start, and definitions that left the file are deleted; they are
// read-only through the API (except muting). See
// data/alert-rules.example.yaml.
type RulesFile struct {
	Notifiers []FileNotifier `yaml:"notifiers"`
	Rules     []FileRule     `yaml:"rules"`
}

// FileNotifier is a notifier in a rules file. SecretEnv names an
// environment variable holding the secret, so that the file need not.
type FileNotifier struct {
	Name          string   `yaml:"name"`
	Type          string   `yaml:"type"`
	URL           string   `yaml:"url"`
	Secret        string   `yaml:"secret"`
	SecretEnv     string   `yaml:"secret_env"`
	Timeout       Duration `yaml:"timeout"`
	Username      string   `yaml:"username"`
	From          string   `yaml:"from"`
	To            []string `yaml:"to"`
	Cc            []string `yaml:"cc"`
	CAFile        string   `yaml:"ca_file"`
	Subject       string   `yaml:"subject"`
	Brokers       []string `yaml:"brokers"`
	Topic         string   `yaml:"topic"`
	SASLMechanism string   `yaml:"sasl_mechanism"`
	TLS           bool     `yaml:"tls"`
}

// FileRule is a rule in a rules file. ID is optional: the default is the
// name in lower case with dashes ("API errors" → "api-errors"), so that a
// rule keeps its id, and its alert's state, across restarts.
type FileRule struct {
	ID        string            `yaml:"id"`
	Name      string            `yaml:"name"`
	Query     string            `yaml:"query"`
	Window    Duration          `yaml:"window"`
	Condition Condition         `yaml:"condition"`
	For       Duration          `yaml:"for"`
	Severity  string            `yaml:"severity"`
	Labels    map[string]string `yaml:"labels"`
	Notify    []string          `yaml:"notify"`
	Throttle  Duration          `yaml:"throttle"`
	Enabled   *bool             `yaml:"enabled"`
}

// LoadRulesFile reads and parses a rules file.
func LoadRulesFile(path string) (*RulesFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	rf, err := ParseRulesFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return rf, nil
}

// ParseRulesFile parses a rules file. Unknown keys are errors: a typo must
// not silently drop a condition.
func ParseRulesFile(r io.Reader) (*RulesFile, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var rf RulesFile
	if err := dec.Decode(&rf); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// A second document would otherwise be ignored without a word.
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document (a second '---'): put every rule and notifier in one document")
	}
	return &rf, nil
}

func (f FileRule) rule() (Rule, error) {
	r := Rule{
		ID: f.ID, Name: f.Name, Query: f.Query, Window: f.Window, Condition: f.Condition, For: f.For,
		Severity: f.Severity, Labels: f.Labels, Notify: f.Notify, Throttle: f.Throttle,
		Enabled: f.Enabled == nil || *f.Enabled, Source: SourceFile,
	}
	if r.ID == "" {
		r.ID = slug(r.Name)
	}
	if !idPattern.MatchString(r.ID) {
		return r, inputErrorf("alert rule %s: id %q must be 1-64 lower-case letters, digits, '.', '_' or '-' (set id: or give the rule a name with letters)", quoteName(f.Name), r.ID)
	}
	return r, nil
}

func (f FileNotifier) notifier() (Notifier, error) {
	n := Notifier{
		Name: f.Name, Type: f.Type, URL: f.URL, Secret: f.Secret, Timeout: f.Timeout, Source: SourceFile,
		Username: f.Username, From: f.From, To: f.To, Cc: f.Cc, CAFile: f.CAFile, Subject: f.Subject,
		Brokers: f.Brokers, Topic: f.Topic, SASLMechanism: f.SASLMechanism, TLS: f.TLS,
	}
	if f.SecretEnv != "" {
		if f.Secret != "" {
			return n, inputErrorf("notifier %s: give secret or secret_env, not both", quoteName(f.Name))
		}
		v, ok := os.LookupEnv(f.SecretEnv)
		if !ok || v == "" {
			return n, inputErrorf("notifier %s: secret_env: the environment variable %s is not set", quoteName(f.Name), f.SecretEnv)
		}
		n.Secret = v
	}
	return n, nil
}

// applyRulesFile makes the stored file definitions those of rf: new and
// changed ones are stored, those no longer in the file deleted. Rules keep
// their alert's state when their id stays. The whole file is checked
// before anything is written: a file with an error changes nothing.
func (m *Manager) applyRulesFile(ctx context.Context, rf *RulesFile) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var errs []error

	// Notifiers first: rules name them.
	notifiers := map[string]*Notifier{}
	var order []*Notifier
	for _, fn := range rf.Notifiers {
		n, err := fn.notifier()
		if err == nil {
			err = n.normalize(m.opts.Hosts)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if notifiers[n.Name] != nil {
			errs = append(errs, inputErrorf("notifier %q is defined twice", n.Name))
			continue
		}
		old := m.notifiers[n.Name]
		if old != nil && old.Source != SourceFile {
			errs = append(errs, conflictf("notifier %q: a notifier of this name was created through the API; delete it or rename one", n.Name))
			continue
		}
		n.Source, n.CreatedAt = SourceFile, now
		if old != nil {
			n.CreatedAt = old.CreatedAt
		}
		notifiers[n.Name] = &n
		order = append(order, &n)
	}
	known := func(name string) bool {
		if n := m.notifiers[name]; n != nil && n.Source != SourceFile {
			return true
		}
		return notifiers[name] != nil
	}

	type fileRule struct {
		r    *Rule
		node search.Node
	}
	var rules []fileRule
	ids, names := map[string]bool{}, map[string]bool{}
	for _, fr := range rf.Rules {
		r, err := fr.rule()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		node, err := r.normalize()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var missing []string
		for _, n := range r.Notify {
			if !known(n) {
				missing = append(missing, n)
			}
		}
		old := m.rules[r.ID]
		switch {
		case len(missing) > 0:
			errs = append(errs, inputErrorf("alert rule %q: notify: no notifier named %s (define it under notifiers:)", r.Name, strings.Join(missing, ", ")))
			continue
		case ids[r.ID]:
			errs = append(errs, inputErrorf("alert rule %q: id %q is used twice in the file; give one an id:", r.Name, r.ID))
			continue
		case names[r.Name]:
			errs = append(errs, inputErrorf("alert rule %q is defined twice", r.Name))
			continue
		case old != nil && old.Source != SourceFile:
			errs = append(errs, conflictf("alert rule %q: id %s belongs to a rule created through the API; set another id:", r.Name, r.ID))
			continue
		}
		for _, o := range m.rules {
			if o.Source != SourceFile && o.Name == r.Name {
				errs = append(errs, conflictf("alert rule %q: a rule of this name was created through the API (id %s); rename one", r.Name, o.ID))
			}
		}
		ids[r.ID], names[r.Name] = true, true
		r.CreatedAt, r.UpdatedAt = now, now
		if old != nil {
			r.CreatedAt, r.UpdatedAt = old.CreatedAt, old.UpdatedAt
			if !equalDefinition(old, &r) {
				r.UpdatedAt = now
			}
		}
		rules = append(rules, fileRule{&r, node})
	}
	for name, n := range m.notifiers {
		if n.Source != SourceFile || notifiers[name] != nil {
			continue
		}
		for _, r := range m.rules {
			if r.Source != SourceFile && slices.Contains(r.Notify, name) {
				errs = append(errs, fmt.Errorf("notifier %q left the rules file but alert rule %q still names it", name, r.Name))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// Valid: store it. Deleted rules go first, so that a renamed rule's
	// old name is free.
	for id, r := range m.rules {
		if r.Source == SourceFile && !ids[id] {
			m.log.Info("alert rule removed from the rules file; deleting it", "rule", r.Name, "id", id)
			if err := m.deleteRuleLocked(ctx, r); err != nil {
				return err
			}
		}
	}
	for _, n := range order {
		b := &batch{}
		b.put(m.b.notifiers, n.Name, n)
		b.after(func() { m.notifiers[n.Name] = n })
		if err := m.commitLocked(b); err != nil {
			return err
		}
	}
	for _, fr := range rules {
		if err := m.putRuleLocked(ctx, fr.r, fr.node); err != nil {
			return err
		}
	}
	for name, n := range m.notifiers {
		if n.Source == SourceFile && notifiers[name] == nil {
			b := &batch{}
			b.del(m.b.notifiers, name)
			b.after(func() { delete(m.notifiers, name); m.kafka.forget(name) })
			if err := m.commitLocked(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// equalDefinition reports whether two rules define the same thing.
func equalDefinition(a, b *Rule) bool {
	if a.Name != b.Name || a.Query != b.Query || a.Window != b.Window || a.Condition != b.Condition ||
		a.For != b.For || a.Severity != b.Severity || a.Throttle != b.Throttle || a.Enabled != b.Enabled {
		return false
	}
	if len(a.Labels) != len(b.Labels) || len(a.Notify) != len(b.Notify) {
		return false
	}
	for k, v := range a.Labels {
		if w, ok := b.Labels[k]; !ok || w != v {
			return false
		}
	}
	for i := range a.Notify {
		if a.Notify[i] != b.Notify[i] {
			return false
		}
	}
	return true
}
