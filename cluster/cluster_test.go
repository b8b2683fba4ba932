package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// TestPeersResolve resolves DNS peers to every address, keeps static ones,
// names a DNS peer that never resolved so that answers list it as
// missing, and keeps the last addresses of a name that stops resolving.
func TestPeersResolve(t *testing.T) {
	res := fakeResolver{"logengine": {"10.0.0.2", "10.0.0.1", "fd00::3"}}
	c := newTestCluster(t, Options{NodeName: "me", PeerKey: testKey, Resolver: res, Peers: []string{
		"http://10.0.0.9:8080", "dns+http://logengine:8080", "dns+https://later:8443", "http://10.0.0.1:8080",
	}})
	if err := c.Resolve(context.Background()); err == nil {
		t.Fatal("a name that does not resolve gave no error")
	}
	want := []string{"dns+https://later:8443", "http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.9:8080", "http://[fd00::3]:8080"}
	if got := c.peers(); !slices.Equal(got, want) {
		t.Fatalf("peers %v, want %v", got, want)
	}
	res["later"] = []string{"10.0.1.1"}
	delete(res, "logengine")
	_ = c.Resolve(context.Background())
	want = []string{"http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.9:8080", "http://[fd00::3]:8080", "https://10.0.1.1:8443"}
	if got := c.peers(); !slices.Equal(got, want) {
		t.Fatalf("peers after a second resolution %v, want %v", got, want)
	}
	c.markSelf("http://10.0.0.2:8080")
	if got := c.peers(); slices.Contains(got, "http://10.0.0.2:8080") {
		t.Fatalf("peers %v still list this node", got)
	}
}

func TestParsePeer(t *testing.T) {
	for _, tc := range []struct {
		peer string
		ok   bool
	}{
		{"http://10.0.0.1:8080", true},
		{"https://node-2.example:8443/", true},
		{"dns+http://logengine.logs.svc:8080", true},
		{"http://[fd00::1]:8080", true},
		{"node-2:8080", false},
		{"ftp://node-2:21", false},
		{"http://node-2", false},
		{"http://node-2:8080/api", false},
		{"http://user@node-2:8080", false},
		{"dns+http://10.0.0.1:8080", false},
		{"dns+node:8080", false},
	} {
		if err := ParsePeer(tc.peer); (err == nil) != tc.ok {
			t.Errorf("ParsePeer(%q) = %v, want ok %v", tc.peer, err, tc.ok)
		}
	}
}
