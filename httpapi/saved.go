package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/saved"
	"github.com/logengine/logengine/search"
)

// SavedSearches keeps the web UI's named searches.
type SavedSearches interface {
	Put(s saved.Search) (saved.Search, error)
	Get(name string) (saved.Search, error)
	List(ctx context.Context) ([]saved.Search, error)
	Delete(name string) error
}

// savedBody is a saved search as a request writes it.
type savedBody struct {
	Query   string   `json:"query"`
	Range   string   `json:"range"`
	From    timeText `json:"from"`
	To      timeText `json:"to"`
	Columns []string `json:"columns"`
}

func (s *Server) listSaved(c echo.Context) error {
	list, err := s.deps.Saved.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"saved_searches": list})
}

func (s *Server) getSaved(c echo.Context) error {
	name, err := savedName(c)
	if err != nil {
		return err
	}
	sv, err := s.deps.Saved.Get(name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sv)
}

// putSaved creates or replaces the search of the name in the path.
func (s *Server) putSaved(c echo.Context) error {
	var b savedBody
	if err := decodeStrict(c, &b); err != nil {
		return err
	}
	if _, err := search.Parse(b.Query); err != nil {
		return err
	}
	name, err := savedName(c)
	if err != nil {
		return err
	}
	sv := saved.Search{Name: name, Query: b.Query, Range: b.Range, Columns: b.Columns}
	for _, t := range []timeText{b.From, b.To} {
		if strings.HasPrefix(strings.TrimSpace(string(t)), "now") {
			return errorf(http.StatusBadRequest, "%q: from and to of a saved search are absolute; for a relative range write range, such as \"range\": \"1h\"", t)
		}
	}
	if sv.From, sv.To, err = timeRange(string(b.From), string(b.To), time.Time{}); err != nil {
		return err
	}
	out, err := s.deps.Saved.Put(sv)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deleteSaved(c echo.Context) error {
	name, err := savedName(c)
	if err != nil {
		return err
	}
	if err := s.deps.Saved.Delete(name); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// savedName is the name in the path, unescaped: the router leaves escapes
// in when the path holds an escaped slash.
func savedName(c echo.Context) (string, error) {
	name := c.Param("name")
	if c.Request().URL.RawPath == "" {
		return name, nil
	}
	n, err := url.PathUnescape(name)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "the name %q in the path does not unescape: %v", name, err)
	}
	return n, nil
}
