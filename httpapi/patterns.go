package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/logengine/logengine/search"
)

// PatternLister counts the matches of a query by message template.
type PatternLister interface {
	Patterns(ctx context.Context, req search.PatternsRequest) (*search.PatternsResult, error)
}

type patternJSON struct {
	ID        string        `json:"id"`
	Template  *string       `json:"template"` // null: a template the miner no longer holds
	Parts     []patternPart `json:"parts,omitempty"`
	Source    string        `json:"source"`
	Count     int64         `json:"count"`
	FirstSeen time.Time     `json:"first_seen"`
	LastSeen  time.Time     `json:"last_seen"`
}

type patternPart struct {
	Text     string `json:"text"`
	Variable bool   `json:"variable,omitempty"`
}

func (s *Server) patterns(c echo.Context) error {
	req := search.PatternsRequest{Query: c.QueryParam("q"), Limit: 20}
	var err error
	if req.From, req.To, err = timeRange(c.QueryParam("from"), c.QueryParam("to"), time.Now()); err != nil {
		return err
	}
	if v := c.QueryParam("limit"); v != "" {
		if req.Limit, err = intParam("limit", v); err != nil {
			return err
		}
		if req.Limit < 1 || req.Limit > search.MaxLimit {
			return errorf(http.StatusBadRequest, "limit=%d: use 1 to %d", req.Limit, search.MaxLimit)
		}
	}
	res, err := s.deps.Patterns.Patterns(c.Request().Context(), req)
	if err != nil {
		return err
	}
	out := struct {
		Patterns []patternJSON `json:"patterns"`
		Total    int64         `json:"total"`
		Other    int64         `json:"other"`
	}{Patterns: []patternJSON{}, Total: res.Total, Other: res.Other}
	for _, p := range res.Patterns {
		pj := patternJSON{ID: p.ID, Source: p.Source, Count: p.Count, FirstSeen: p.FirstSeen.UTC(), LastSeen: p.LastSeen.UTC()}
		if p.Known {
			text := p.Template
			pj.Template = &text
			for _, part := range p.Parts {
				pj.Parts = append(pj.Parts, patternPart{Text: part.Text, Variable: part.Variable})
			}
		}
		out.Patterns = append(out.Patterns, pj)
	}
	return c.JSON(http.StatusOK, out)
}
