package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Role is what an API key may do. Admin implies query and ingest.
type Role string

// The roles of API keys.
const (
	RoleIngest Role = "ingest"
	RoleQuery  Role = "query"
	RoleAdmin  Role = "admin"
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(s)); r {
	case RoleIngest, RoleQuery, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("role %q is not one of ingest, query, admin", s)
}

// Key is an API key. Secret is the key itself, or "sha256:<hex>" of it so
// that a config file need not hold the plain key.
type Key struct {
	Name   string `yaml:"name" json:"name"`
	Role   Role   `yaml:"role" json:"role"`
	Secret string `yaml:"key" json:"-"`
}

type hashedKey struct {
	name string
	role Role
	hash [sha256.Size]byte
}

type authenticator struct{ keys []hashedKey }

func newAuthenticator(keys []Key) (*authenticator, error) {
	a := &authenticator{}
	for i, k := range keys {
		if _, err := ParseRole(string(k.Role)); err != nil {
			return nil, fmt.Errorf("api key %d (%s): %w", i+1, k.Name, err)
		}
		hk := hashedKey{name: k.Name, role: k.Role}
		if h, ok := strings.CutPrefix(k.Secret, "sha256:"); ok {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("api key %d (%s): sha256: wants 64 hex digits", i+1, k.Name)
			}
			copy(hk.hash[:], b)
		} else {
			if len(k.Secret) < 16 {
				return nil, fmt.Errorf("api key %d (%s): the key is shorter than 16 characters; use a long random key (e.g. openssl rand -hex 24)", i+1, k.Name)
			}
			hk.hash = sha256.Sum256([]byte(k.Secret))
		}
		a.keys = append(a.keys, hk)
	}
	return a, nil
}

func (a *authenticator) enabled() bool { return len(a.keys) > 0 }

// check returns the key's role. Every key is compared, in constant time, so
// the timing tells nothing about which key nearly matched.
func (a *authenticator) check(presented string) (string, Role, bool) {
	h := sha256.Sum256([]byte(presented))
	var name string
	var role Role
	found := 0
	for _, k := range a.keys {
		if subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1 {
			name, role = k.name, k.role
			found = 1
		}
	}
	return name, role, found == 1
}

func allows(have, want Role) bool { return have == RoleAdmin || have == want }

// require is the middleware that lets a request through with a key of the
// role (or admin).
func (s *Server) require(want Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if want == RoleQuery && isPeerCall(c) {
				return next(c) // the peer key was checked (see peer)
			}
			if !s.auth.enabled() {
				if ok, wait := s.limit.allow(c.RealIP()); !ok {
					return rateLimited(wait)
				}
				return next(c)
			}
			keys := presentedKeys(c.Request())
			if len(keys) == 0 {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="logengine"`)
				return errorf(http.StatusUnauthorized, "an API key is required: send Authorization: Bearer <key> or X-API-Key")
			}
			var name string
			var role Role
			var ok bool
			for _, key := range keys {
				if name, role, ok = s.auth.check(key); ok {
					break
				}
			}
			if !ok {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="logengine"`)
				return errorf(http.StatusUnauthorized, "the API key is not valid")
			}
			if !allows(role, want) {
				return errorf(http.StatusForbidden, "this API key has role %s; this endpoint needs %s (or admin)", role, want)
			}
			if ok, wait := s.limit.allow("key:" + name); !ok {
				return rateLimited(wait)
			}
			return next(c)
		}
	}
}

// presentedKeys returns the API keys a request may carry, to be tried in
// order. Besides logengine's own Authorization: Bearer and X-API-Key, the
// shippers of other log systems send what they can configure:
// Elasticsearch clients "ApiKey <key>", where the key is the secret itself
// or, as Elasticsearch issues them, base64 of "id:secret"; and clients
// with only basic auth (Loki's, many Elasticsearch outputs) a user and
// password, where the password is the key (the user name, when there is no
// password).
func presentedKeys(r *http.Request) []string {
	var keys []string
	if k := strings.TrimSpace(r.Header.Get("X-API-Key")); k != "" {
		keys = append(keys, k)
	}
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	if cred == "" {
		return keys
	}
	switch strings.ToLower(scheme) {
	case "bearer":
		keys = append(keys, cred)
	case "apikey":
		keys = append(keys, cred)
		if b, err := base64.StdEncoding.DecodeString(cred); err == nil {
			if _, secret, ok := strings.Cut(string(b), ":"); ok && secret != "" {
				keys = append(keys, secret)
			}
		}
	case "basic":
		if user, pass, ok := r.BasicAuth(); ok {
			if pass != "" {
				keys = append(keys, pass)
			} else if user != "" {
				keys = append(keys, user)
			}
		}
	}
	return keys
}

func tlsConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }
