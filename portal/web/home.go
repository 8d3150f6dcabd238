package web

import (
	"net/http"
	"strings"
)

// homeShow lists the box's spaces to an entered visitor and sends anyone
// else to the welcome page.
func (s *Server) homeShow(w http.ResponseWriter, r *http.Request) {
	v := s.currentVisitor(r)
	if v == nil {
		http.Redirect(w, r, "/welcome", http.StatusSeeOther)
		return
	}
	p, err := s.newPage(r, v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "home", p)
}

// aboutShow says what the box offers without internet. The captive portal
// sends entered visitors here when they type a foreign address, with the
// host they asked for in ?from=.
func (s *Server) aboutShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if from := r.URL.Query().Get("from"); len(from) <= 253 && !strings.ContainsFunc(from, func(r rune) bool { return r < ' ' }) {
		p.From = from
	}
	s.render(w, r, http.StatusOK, "about", p)
}

// langSet remembers the language a visitor picked and returns them to the
// page they were on. It is a link, not a form, so it works everywhere.
func (s *Server) langSet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to := q.Get("to")
	if _, ok := catalog[to]; !ok {
		s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
		return
	}
	back := q.Get("back")
	if !localPath(back) {
		back = "/"
	}
	http.SetCookie(w, &http.Cookie{
		Name: langCookie, Value: to, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, back, http.StatusSeeOther)
}
