// Package cluster answers queries for several logengine nodes at once: it
// asks this node's engine and every peer over HTTP, and merges their
// answers exactly (searches in sort order with one cursor, counts and
// histograms added up, top groups proven exact or marked not exact). A
// peer call carries the shared peer key in a header; the peer answers from
// its own data only, so a call never fans out twice. A peer that does not
// answer within the timeout is named in the answer, which is then partial.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The headers of peer calls. A request with PeerKeyHeader is a peer call:
// it must hold the shared key, and is answered from the node's own data
// with NodeHeader naming the node.
const (
	PeerKeyHeader = "X-Logengine-Peer-Key"
	NodeHeader    = "X-Logengine-Node"
)

// Options configures a Cluster.
type Options struct {
	// Peers are the other nodes: base URLs (http://10.0.0.2:8080), or DNS
	// names resolved to every address (dns+http://logengine:8080), as
	// Prometheus and Thanos name them. This node may be among them; it is
	// recognised by its name and skipped.
	Peers []string
	// PeerKey is the secret every node shares; peer calls carry it.
	PeerKey string
	// NodeName names this node in answers and cursors; every node needs
	// its own, the same whichever node is asked.
	NodeName string
	// Timeout bounds one peer call; zero means 10s.
	Timeout time.Duration
	// Refresh is how often DNS names are resolved again; zero means 30s.
	Refresh time.Duration
	// RootCAs, when set, are the authorities trusted for https peers
	// (with a client made here); nil means the system's.
	RootCAs *x509.CertPool
	// Client makes peer calls; nil means a client with default transport.
	Client *http.Client
	// Resolver resolves DNS peers; nil means net.DefaultResolver.
	Resolver Resolver
	Logger   *slog.Logger
	// Observer, when set, records each peer call.
	Observer Observer
}

// Resolver looks up the addresses of a host name.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Observer records peer calls: the endpoint (search, aggregate, ...),
// whether the call failed, and how long it took.
type Observer interface {
	ObservePeerCall(endpoint string, failed bool, d time.Duration)
}

// peerSpec is one entry of Options.Peers.
type peerSpec struct {
	url *url.URL // the base URL; for a DNS name, with the name as host
	dns bool     // resolve the host to every address
}

// ParsePeer checks one peer of the configuration and says what to fix.
func ParsePeer(s string) error {
	_, err := parsePeer(s)
	return err
}

func parsePeer(s string) (peerSpec, error) {
	var spec peerSpec
	raw := s
	if rest, ok := strings.CutPrefix(s, "dns+"); ok {
		spec.dns, raw = true, rest
	}
	u, err := url.Parse(raw)
	if err != nil {
		return spec, fmt.Errorf("peer %q is not a URL: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return spec, fmt.Errorf("peer %q: write http://host:port, https://host:port or dns+http://name:port", s)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return spec, fmt.Errorf("peer %q: give a host and a port, e.g. http://10.0.0.2:8080", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return spec, fmt.Errorf("peer %q: give only scheme, host and port (no path, query or user)", s)
	}
	if spec.dns && net.ParseIP(u.Hostname()) != nil {
		return spec, fmt.Errorf("peer %q: dns+ takes a DNS name, not an address", s)
	}
	u.Path = ""
	spec.url = u
	return spec, nil
}

// Cluster knows the peers and makes peer calls.
type Cluster struct {
	opts      Options
	specs     []peerSpec
	ownClient bool // opts.Client was made here; Close closes its connections

	mu       sync.Mutex
	resolved map[int][]string // DNS spec index → base URLs last resolved; guarded by mu
	self     map[string]bool  // base URLs found to be this node; guarded by mu
}

// New checks the options; call Resolve (or Run) before the first query
// when DNS peers are configured.
func New(opts Options) (*Cluster, error) {
	if opts.NodeName == "" {
		return nil, errors.New("cluster: the node name is empty")
	}
	if opts.PeerKey == "" {
		return nil, errors.New("cluster: the peer key is empty")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 30 * time.Second
	}
	own := opts.Client == nil
	if own {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if opts.RootCAs != nil {
			t.TLSClientConfig = &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12}
		}
		opts.Client = &http.Client{Transport: t}
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{opts: opts, ownClient: own, resolved: map[int][]string{}, self: map[string]bool{}}
	for _, p := range opts.Peers {
		spec, err := parsePeer(p)
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		c.specs = append(c.specs, spec)
	}
	return c, nil
}

// Close closes the idle connections to the peers; call it once no query
// runs any more.
func (c *Cluster) Close() {
	if c.ownClient {
		c.opts.Client.CloseIdleConnections()
	}
}

// NodeName is this node's name.
func (c *Cluster) NodeName() string { return c.opts.NodeName }

// Run resolves the DNS peers every Refresh until ctx ends.
func (c *Cluster) Run(ctx context.Context) error {
	t := time.NewTicker(c.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := c.Resolve(ctx); err != nil && ctx.Err() == nil {
				c.opts.Logger.Warn("resolve cluster peers", "err", err)
			}
		}
	}
}

// Resolve looks up every DNS peer now. A name that does not resolve keeps
// its last addresses, and the error says so.
func (c *Cluster) Resolve(ctx context.Context) error {
	var errs []error
	for i, spec := range c.specs {
		if !spec.dns {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		addrs, err := c.opts.Resolver.LookupHost(ctx, spec.url.Hostname())
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("peer dns+%s: %w", spec.url, err))
			continue
		}
		urls := make([]string, 0, len(addrs))
		for _, a := range addrs {
			u := *spec.url
			u.Host = net.JoinHostPort(a, spec.url.Port())
			urls = append(urls, u.String())
		}
		slices.Sort(urls)
		c.mu.Lock()
		c.resolved[i] = urls
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// peers returns the base URLs of the peers to ask now, without this node
// and without duplicates. A DNS name that has never resolved is itself a
// peer that cannot answer, so that answers name it as missing.
func (c *Cluster) peers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i, spec := range c.specs {
		switch {
		case !spec.dns:
			out = append(out, spec.url.String())
		case c.resolved[i] == nil:
			out = append(out, "dns+"+spec.url.String())
		default:
			out = append(out, c.resolved[i]...)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return slices.DeleteFunc(out, func(u string) bool { return c.self[u] })
}

func (c *Cluster) markSelf(peer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.self[peer] {
		c.opts.Logger.Info("cluster peer is this node; it is not asked again", "peer", peer)
	}
	c.self[peer] = true
}

type peerCallKey struct{}

// WithPeerCall marks ctx as the context of a peer call: it is answered
// from this node's data only.
func WithPeerCall(ctx context.Context) context.Context {
	return context.WithValue(ctx, peerCallKey{}, true)
}

// IsPeerCall reports whether ctx is a peer call's.
func IsPeerCall(ctx context.Context) bool {
	v, _ := ctx.Value(peerCallKey{}).(bool)
	return v
}

// errSelf tells that a peer answered with this node's name.
var errSelf = errors.New("the peer is this node")

// errNoEntry tells that a peer holds no entry with the id asked for: it
// answered, with nothing to add.
var errNoEntry = errors.New("the peer holds no such entry")

// get calls GET path on one peer and returns the peer's node name and the
// response; the caller closes the body. Statuses other than 200 are
// errors carrying the peer's message.
func (c *Cluster) get(ctx context.Context, peer, path string, params url.Values) (string, *http.Response, error) {
	if strings.HasPrefix(peer, "dns+") {
		return "", nil, errors.New("its DNS name has not resolved")
	}
	u := peer + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set(PeerKeyHeader, c.opts.PeerKey)
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return "", nil, err
	}
	name := resp.Header.Get(NodeHeader)
	if resp.StatusCode == http.StatusNotFound && name != "" && strings.HasPrefix(path, "/api/v1/logs/") {
		resp.Body.Close()
		if name == c.opts.NodeName {
			return name, nil, errSelf
		}
		return name, nil, errNoEntry
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return name, nil, fmt.Errorf("answered %d: %s", resp.StatusCode, e.Error)
	}
	if name == "" {
		resp.Body.Close()
		return "", nil, fmt.Errorf("answered without %s: is it a logengine with a cluster section?", NodeHeader)
	}
	if name == c.opts.NodeName {
		resp.Body.Close()
		return name, nil, errSelf
	}
	return name, resp, nil
}

// part is one node's answer.
type part[T any] struct {
	node string
	val  T
}

// gather asks this node (local) and every peer (path with params, each
// answer read by decode) at once. It returns the answers, this node's
// first, and the peers that failed or timed out, by URL. This node
// failing fails the whole answer; so do two peers with one name.
func gather[T any](ctx context.Context, c *Cluster, endpoint, path string, params url.Values,
	local func(context.Context) (T, error), decode func(io.Reader) (T, error)) ([]part[T], []string, error) {
	peers := c.peers()
	type result struct {
		peer string
		part part[T]
		err  error
	}
	results := make(chan result, len(peers))
	for _, p := range peers {
		go func() {
			start := time.Now()
			ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
			defer cancel()
			name, resp, err := c.get(ctx, p, path, params)
			var v T
			if err == nil {
				v, err = decode(resp.Body)
				resp.Body.Close()
				if err != nil {
					err = fmt.Errorf("read the answer: %w", err)
				}
			}
			if c.opts.Observer != nil && !errors.Is(err, errSelf) {
				c.opts.Observer.ObservePeerCall(endpoint, err != nil && !errors.Is(err, errNoEntry), time.Since(start))
			}
			results <- result{peer: p, part: part[T]{node: name, val: v}, err: err}
		}()
	}
	v, lerr := local(ctx)
	parts := []part[T]{{node: c.opts.NodeName, val: v}}
	var missing []string
	byName := map[string]string{}
	var errs []error
	for range peers {
		r := <-results
		switch {
		case errors.Is(r.err, errSelf):
			c.markSelf(r.peer)
		case errors.Is(r.err, errNoEntry):
		case r.err != nil:
			missing = append(missing, r.peer)
			if ctx.Err() == nil {
				c.opts.Logger.Warn("cluster peer missing from an answer", "peer", r.peer, "endpoint", endpoint, "err", r.err)
			}
		case byName[r.part.node] != "":
			errs = append(errs, fmt.Errorf("peers %s and %s both answer as node %q: give every node its own cluster.node_name", byName[r.part.node], r.peer, r.part.node))
		default:
			byName[r.part.node] = r.peer
			parts = append(parts, r.part)
		}
	}
	if lerr != nil {
		return nil, nil, lerr
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	slices.Sort(missing)
	return parts, missing, nil
}

// decodeJSON reads one JSON value into v, numbers as json.Number so that
// integers keep every digit.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec.Decode(v)
}

// Gather asks every peer for path with params and hands each answer's
// body to fn with the answering node's name. It returns the peers that
// failed, by URL. For answers that need no merging beyond what the caller
// does (the figures of /api/v1/stats).
func (c *Cluster) Gather(ctx context.Context, endpoint, path string, params url.Values, fn func(node string, body []byte) error) ([]string, error) {
	parts, missing, err := gather(ctx, c, endpoint, path, params,
		func(context.Context) ([]byte, error) { return nil, nil },
		func(r io.Reader) ([]byte, error) { return io.ReadAll(r) })
	if err != nil {
		return nil, err
	}
	for _, p := range parts[1:] {
		if err := fn(p.node, p.val); err != nil {
			return nil, fmt.Errorf("peer node %s: %w", p.node, err)
		}
	}
	return missing, nil
}
