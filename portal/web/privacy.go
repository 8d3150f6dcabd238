package web

import "net/http"

// The privacy page, GET /privacy: what the box keeps about a visitor, for
// how long, where it goes and whom to ask, in plain words. It reads what
// it states from the box itself (the venue's name, the visitor session
// length) rather than repeating numbers that could go stale.

func init() { pageNames = append(pageNames, "privacy") }

// privacyRoutes declares the privacy page.
func (s *Server) privacyRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /privacy", s.privacyShow)
}

// privacyShow renders the privacy page, to anyone: a visitor may want to
// read it before entering.
func (s *Server) privacyShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p.SessionLength = formatDuration(s.opts.Visitors.SessionLength(), p.Lang)
	s.render(w, r, http.StatusOK, "privacy", p)
}
