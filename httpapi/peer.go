package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/cluster"
)

// peerCall is the echo context key marking a request as a peer call.
const peerCall = "peer-call"

// peer recognises the calls of the other nodes of a cluster: a request with
// the peer key header must hold this node's peer key (else 401, whatever
// API keys it holds), and is then answered from this node's data only
// (cluster.WithPeerCall), naming the node in a header. The peer key gives
// the query role: peers only ever search.
func (s *Server) peer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		presented, ok := r.Header[http.CanonicalHeaderKey(cluster.PeerKeyHeader)]
		if !ok {
			return next(c)
		}
		if s.opts.PeerKey == "" {
			return errorf(http.StatusUnauthorized, "this node takes no peer calls: it has no cluster.peer_key")
		}
		want := sha256.Sum256([]byte(s.opts.PeerKey))
		got := sha256.Sum256([]byte(strings.Join(presented, ",")))
		if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			return errorf(http.StatusUnauthorized, "the peer key is not valid: every node needs the same cluster.peer_key")
		}
		c.Set(peerCall, true)
		c.SetRequest(r.WithContext(cluster.WithPeerCall(r.Context())))
		c.Response().Header().Set(cluster.NodeHeader, s.opts.NodeName)
		return next(c)
	}
}

// isPeerCall reports whether the peer middleware let the request through
// as a peer call.
func isPeerCall(c echo.Context) bool {
	v, _ := c.Get(peerCall).(bool)
	return v
}

// partialParam reads partial=allow|deny: whether an answer that misses
// some peers is given (marked partial) or refused.
func partialParam(c echo.Context) (deny bool, err error) {
	return parsePartial(c.QueryParam("partial"))
}

func parsePartial(v string) (deny bool, err error) {
	switch v {
	case "", "allow":
		return false, nil
	case "deny":
		return true, nil
	}
	return false, errorf(http.StatusBadRequest, "partial=%q: use partial=allow (the default: answer without the peers that are down, marked partial) or partial=deny (answer 503 instead)", v)
}

// partialAnswer is the part of cluster answers that names the peers
// missing from them.
type partialAnswer struct {
	Partial      bool     `json:"partial,omitempty"`
	MissingPeers []string `json:"missing_peers,omitempty"`
}

// checkPartial returns the partial part of an answer missing the peers
// named, or the 503 of partial=deny.
func checkPartial(deny bool, missing []string) (partialAnswer, error) {
	if len(missing) == 0 {
		return partialAnswer{}, nil
	}
	if deny {
		return partialAnswer{}, &partialError{missing: missing}
	}
	return partialAnswer{Partial: true, MissingPeers: missing}, nil
}

// partialError is the 503 of partial=deny; its answer names the peers.
type partialError struct{ missing []string }

// MissingPeers names the peers that did not answer.
func (e *partialError) MissingPeers() []string { return e.missing }

func (e *partialError) Error() string {
	return "peers did not answer (partial=deny): " + strings.Join(e.missing, ", ") + "; retry, or drop partial=deny to accept an answer without them"
}
