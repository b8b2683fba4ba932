package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/logengine/logengine/cluster"
	"github.com/logengine/logengine/httpapi"
)

// ClusterConfig is the cluster section of the configuration: the other
// nodes this one asks when it answers a query (README.md, "More than one
// machine").
type ClusterConfig struct {
	// Peers are the other nodes: http(s)://host:port, or
	// dns+http(s)://name:port for every address of a DNS name. This
	// node may be listed too (one config for all nodes); it is skipped.
	Peers []string `yaml:"peers"`
	// PeerKey is the secret every node shares (16 characters at least);
	// peer calls without it are refused. A node with a peer key and no
	// peers answers peer calls only for its own data.
	PeerKey string `yaml:"peer_key"`
	// NodeName names this node in cursors and to its peers; every node
	// needs its own. Empty: the host name and the listen port.
	NodeName string `yaml:"node_name"`
	// Timeout bounds each peer call; a peer slower than it is missing
	// from the answer (partial). Zero means 10s.
	Timeout Duration `yaml:"timeout"`
	// DNSRefresh is how often DNS peers are resolved again; zero means 30s.
	DNSRefresh Duration `yaml:"dns_refresh"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// https peers' certificates, trusted besides the system's (a private
	// CA is the usual case inside a cluster).
	CAFile string `yaml:"ca_file"`
}

// rootCAs returns the system's authorities and those of CAFile, or nil
// without a CAFile.
func (c ClusterConfig) rootCAs() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster.ca_file: %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", c.CAFile)
	}
	return pool, nil
}

func (c ClusterConfig) validate(listen string) []error {
	var errs []error
	for i, p := range c.Peers {
		if err := cluster.ParsePeer(p); err != nil {
			errs = append(errs, fmt.Errorf("cluster.peers[%d]: %w", i, err))
		}
	}
	switch {
	case len(c.Peers) > 0 && c.PeerKey == "":
		errs = append(errs, errors.New("cluster.peer_key: required with cluster.peers: the same long random secret on every node (e.g. openssl rand -hex 24)"))
	case c.PeerKey != "" && len(c.PeerKey) < 16:
		errs = append(errs, errors.New("cluster.peer_key: shorter than 16 characters; use a long random secret (e.g. openssl rand -hex 24)"))
	}
	if len(c.NodeName) > 255 || strings.ContainsAny(c.NodeName, "\r\n") {
		errs = append(errs, errors.New("cluster.node_name: at most 255 characters on one line"))
	}
	if c.enabled() && c.NodeName == "" {
		if _, port, err := net.SplitHostPort(listen); err == nil && port == "0" {
			errs = append(errs, fmt.Errorf("cluster.node_name: required when listen (%s) picks a free port: the default name is the host name and the port", listen))
		}
	}
	if _, err := c.rootCAs(); err != nil {
		errs = append(errs, err)
	}
	if c.Timeout < 0 || c.DNSRefresh < 0 {
		errs = append(errs, errors.New("cluster.timeout and cluster.dns_refresh: must be 0 (default) or positive, e.g. 10s"))
	}
	return errs
}

// enabled reports whether this node takes part in a cluster.
func (c ClusterConfig) enabled() bool { return c.PeerKey != "" }

// nodeName is the configured name, else the host name and the port the
// node listens on: distinct for nodes on one host, and for one node per
// host (a container or a pod) its host name.
func (c ClusterConfig) nodeName(listen string) string {
	if c.NodeName != "" {
		return c.NodeName
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return host
	}
	return net.JoinHostPort(host, port)
}

// peerList is the repeatable --peer flag; LOGENGINE_PEERS separates the
// peers with commas.
type peerList []string

func (p *peerList) String() string { return strings.Join(*p, ",") }

func (p *peerList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if err := cluster.ParsePeer(s); err != nil {
				return err
			}
			*p = append(*p, s)
		}
	}
	return nil
}

// clusterHealth answers /api/v1/stats with the figures of every node.
type clusterHealth struct {
	httpapi.Health
	c *cluster.Cluster
}

// Stats adds up this node's figures and those of the peers that answer.
func (h clusterHealth) Stats(ctx context.Context) (httpapi.Stats, error) {
	st, err := h.Health.Stats(ctx)
	if err != nil || cluster.IsPeerCall(ctx) {
		return st, err
	}
	st.Nodes = 1
	missing, err := h.c.Gather(ctx, "stats", "/api/v1/stats", nil, func(node string, body []byte) error {
		var o httpapi.Stats
		if err := json.Unmarshal(body, &o); err != nil {
			return fmt.Errorf("read the figures of /api/v1/stats: %w", err)
		}
		st.Add(o)
		st.Nodes++
		return nil
	})
	if err != nil {
		return httpapi.Stats{}, err
	}
	st.MissingPeers = missing
	return st, nil
}

// options returns the options of the cluster package.
func (c ClusterConfig) options(name string) (cluster.Options, error) {
	cas, err := c.rootCAs()
	if err != nil {
		return cluster.Options{}, err
	}
	return cluster.Options{
		Peers:    c.Peers,
		PeerKey:  c.PeerKey,
		NodeName: name,
		Timeout:  time.Duration(c.Timeout),
		Refresh:  time.Duration(c.DNSRefresh),
		RootCAs:  cas,
	}, nil
}
