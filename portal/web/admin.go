package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"tiersbox/box/staff"
	"tiersbox/portal/captive"
)

// The staff pages: GET /admin is the login form, or the staff home once
// logged in. Other parts protect their staff-only handlers with
// requireStaff, or ask isStaff to show staff controls on a shared page.

func init() { pageNames = append(pageNames, "admin_login", "admin_home") }

// staffCookie holds a staff session ID (see box/staff).
const staffCookie = "tb_staff"

// adminPage is what the staff pages add to a page.
type adminPage struct {
	// NoPassword: the box has no staff password yet, so the login form
	// is replaced by how to set one.
	NoPassword bool
	// Next is where to go after logging in: a path on the box, or "".
	Next  string
	Links []adminLink
	// Peers is the page about other boxes (peers.go).
	Peers *peersPage
	// Poster is the printable poster (poster.go).
	Poster *posterView
	// Export is the documentation export (admin_export.go).
	Export *exportView
	// Dashboard is the staff home's figures (dashboard.go).
	Dashboard *dashboardView
	// Settings is the settings form (admin_settings.go).
	Settings *settingsView
	// Backup is the backup and restore page (backup.go).
	Backup *backupPage
}

type adminLink struct{ Path, Label string }

// staffDestinations are the pages the staff home links to, each shown only
// when the box serves it. Staff pages added later go here.
var staffDestinations = []struct{ path, key string }{
	{"/pads", "admin.link.pads"},
	{"/chat", "admin.link.chat"},
	{"/drive", "admin.link.drive"},
	{"/admin/peers", "admin.link.peers"},
	{"/admin/poster", "admin.link.poster"},
	{"/admin/export", "admin.link.export"},
	{"/admin/settings", "admin.link.settings"},
	{"/admin/backup", "admin.link.backup"},
	{"/admin/moderation", "admin.link.moderation"},
}

// adminRoutes declares the staff pages under /admin.
func (s *Server) adminRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	mux.HandleFunc("GET /admin", s.adminShow)
	mux.Handle("GET /admin/{$}", http.RedirectHandler("/admin", http.StatusMovedPermanently))
	mux.Handle("POST /admin/login", forms.Handler(http.HandlerFunc(s.adminLogin)))
	mux.Handle("/admin/login", s.onlyMethods("POST"))
	mux.Handle("POST /admin/logout", forms.Handler(http.HandlerFunc(s.adminLogout)))
	mux.Handle("/admin/logout", s.onlyMethods("POST"))
}

// staffKey marks, in a request's context, a request that requireStaff has
// already checked.
type staffKey struct{}

// isStaff reports whether the request comes from a logged-in staff member.
// Each call reads the database unless requireStaff already checked.
func (s *Server) isStaff(r *http.Request) bool {
	if ok, _ := r.Context().Value(staffKey{}).(bool); ok {
		return true
	}
	c, err := r.Cookie(staffCookie)
	return err == nil && s.opts.Staff.Check(c.Value)
}

// requireStaff lets only logged-in staff reach h. Anyone else asking for a
// page is sent to the login form, which returns them to that page; any
// other method (a form sent after the session expired) gets a 403 page.
func (s *Server) requireStaff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isStaff(r) {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), staffKey{}, true)))
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, "/admin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		s.renderError(w, r, http.StatusForbidden, "admin.error.staffonly")
	})
}

// adminShow shows the login form, or the staff home to logged-in staff.
func (s *Server) adminShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if s.isStaff(r) {
		p.Admin = &adminPage{Links: s.staffLinks(p.Lang), Dashboard: s.dashboard(p.Lang)}
		s.render(w, r, http.StatusOK, "admin_home", p)
		return
	}
	p.Admin = &adminPage{NoPassword: p.Settings.AdminPasswordHash == "", Next: nextPath(r.URL.Query().Get("next"))}
	s.render(w, r, http.StatusOK, "admin_login", p)
}

// staffLinks lists the staff destinations this box serves.
func (s *Server) staffLinks(lang string) []adminLink {
	var links []adminLink
	for _, d := range staffDestinations {
		_, pattern := s.mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: d.path}, Host: "tiers.box"})
		if pattern != "" && pattern != "/" {
			links = append(links, adminLink{Path: d.path, Label: translate(lang, d.key)})
		}
	}
	return links
}

// nextPath keeps a return path only if it stays on the box.
func nextPath(next string) string {
	if next == "" || len(next) > 2048 || !localPath(next) {
		return ""
	}
	return next
}

// adminLogin checks the staff password and starts a session.
func (s *Server) adminLogin(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxFormBytes, false) {
		return
	}
	next := nextPath(r.PostForm.Get("next"))
	id, err := s.opts.Staff.Login(r.PostForm.Get("password"), captive.ClientAddr(r).String())
	if err != nil {
		status, key, wait := loginStatus(err)
		if status == http.StatusInternalServerError {
			s.serverError(w, r, err)
			return
		}
		p, perr := s.newPage(r, nil)
		if perr != nil {
			s.serverError(w, r, perr)
			return
		}
		p.Admin = &adminPage{NoPassword: errors.Is(err, staff.ErrNoPassword), Next: next}
		if wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			p.Error = translate(p.Lang, key, secs)
		} else {
			p.Error = translate(p.Lang, key)
		}
		s.render(w, r, status, "admin_login", p)
		return
	}
	// Logging in again replaces the session this browser had.
	if c, err := r.Cookie(staffCookie); err == nil {
		if err := s.opts.Staff.Logout(c.Value); err != nil {
			s.logger.Warn("ending a replaced staff session", "error", err)
		}
	}
	http.SetCookie(w, staffSessionCookie(r, id))
	if next == "" {
		next = "/admin"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// loginStatus maps a Login error to the page's status and message key,
// and the wait for ErrTooManyAttempts. Any other error is the box's
// fault: 500.
func loginStatus(err error) (status int, key string, wait time.Duration) {
	var we *staff.WaitError
	switch {
	case errors.Is(err, staff.ErrWrongPassword):
		return http.StatusForbidden, "admin.error.wrong", 0
	case errors.As(err, &we):
		return http.StatusTooManyRequests, "admin.error.wait", we.Wait
	case errors.Is(err, staff.ErrNoPassword):
		return http.StatusForbidden, "admin.error.nopassword", 0
	}
	return http.StatusInternalServerError, "error.internal", 0
}

// adminLogout ends the browser's staff session.
func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(staffCookie); err == nil {
		if err := s.opts.Staff.Logout(c.Value); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	c := staffSessionCookie(r, "")
	c.MaxAge = -1
	http.SetCookie(w, c)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// staffSessionCookie is the cookie that carries a staff session. It has no
// expiry: it ends with the browser, and the box ends the session itself
// after 12 hours idle. Strict same-site: no other site can make a browser
// send it, not even through a link. Secure only when the request came over
// TLS: the box serves plain HTTP on its own WiFi (no certificate a phone
// would trust can exist offline), and a Secure cookie would never be sent
// back there, so staff could not log in at all.
func staffSessionCookie(r *http.Request, id string) *http.Cookie {
	return &http.Cookie{
		Name:     staffCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil,
	}
}
