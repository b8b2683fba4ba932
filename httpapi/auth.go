package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
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
			if !s.auth.enabled() {
				if ok, wait := s.limit.allow(c.RealIP()); !ok {
					return rateLimited(wait)
				}
				return next(c)
			}
			key := c.Request().Header.Get("X-API-Key")
			if h := c.Request().Header.Get("Authorization"); h != "" {
				if b, ok := strings.CutPrefix(h, "Bearer "); ok {
					key = strings.TrimSpace(b)
				}
			}
			if key == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="logengine"`)
				return errorf(http.StatusUnauthorized, "an API key is required: send Authorization: Bearer <key> or X-API-Key")
			}
			name, role, ok := s.auth.check(key)
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

func tlsConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }
