package web

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"tiersbox/box/pad"
	"tiersbox/box/settings"
	"tiersbox/box/visitor"
	"tiersbox/portal/captive"
)

// page is what every template receives.
type page struct {
	Lang      string
	Langs     []langLink
	Path      string // the current path, for the language switch to return to
	Settings  settings.Settings
	Visitor   *visitor.Visitor
	Addresses []string
	Version   string
	HasPads   bool
	HasChat   bool
	HasDrive  bool

	// Page-specific fields; unused ones stay empty.
	Rules []string
	// RulesHTML is the staff's house rules, written in Markdown; empty
	// when they wrote none, and Rules then holds the default ones.
	RulesHTML     template.HTML
	Nickname      string
	Error         string
	SessionLength string
	From          string

	// Pads.
	Query    string
	Pads     []padList
	PadName  string
	PadTitle string
	PadHTML  template.HTML
	PadEmpty bool
	Versions []versionRow

	// Chat.
	Chat *chatView

	// Drive.
	Drive *driveView

	Admin *adminPage // the staff pages (admin.go)

	Privacy *privacyView // the privacy page (privacy.go)

	Moderation *moderationView // the moderation log (moderation.go)
	PadFlags   pad.Flags       // a pad staff locked or archived
	IsStaff    bool            // show staff controls on a shared page
}

type langLink struct {
	Code, Name string
	Current    bool
}

// visitorCookie holds the pseudonymous visitor ID.
const visitorCookie = "tb_visitor"

// currentVisitor finds the visitor making a request: by cookie first (a
// visitor keeps their session when their address changes, and we then
// record the new address), then by device.
func (s *Server) currentVisitor(r *http.Request) *visitor.Visitor {
	client := captive.ClientAddr(r)
	mac := s.opts.MAC(client)
	if c, err := r.Cookie(visitorCookie); err == nil && visitor.ValidID(c.Value) {
		if v, err := s.opts.Visitors.ByID(c.Value); err == nil {
			if err := s.opts.Visitors.Moved(v, client, mac); err != nil {
				s.logger.Warn("recording a visitor's new address", "error", err)
			}
			s.presence.seen(v.Pseudonym())
			return &v
		}
	}
	if v, err := s.opts.Visitors.ByClient(client, mac); err == nil {
		s.presence.seen(v.Pseudonym())
		return &v
	}
	return nil
}

// authorOf is the pseudonym edits made by this request are signed with
// (visitor.Pseudonym, never the session ID itself), or "" for someone who
// has not entered (a stock Yjs client, a script).
func (s *Server) authorOf(r *http.Request) string {
	if v := s.currentVisitor(r); v != nil {
		return v.Pseudonym()
	}
	return ""
}

func (s *Server) newPage(r *http.Request, v *visitor.Visitor) (*page, error) {
	st, err := settings.Load(s.opts.Store)
	if err != nil {
		return nil, err
	}
	offered := st.Offered()
	lang := pickLang(r)
	if !slices.Contains(offered, lang) {
		lang = offeredLang(r, offered)
	}
	p := &page{
		Lang:      lang,
		Path:      r.URL.Path,
		Settings:  st,
		Visitor:   v,
		Addresses: s.opts.Addresses,
		Version:   s.opts.Version,
		HasPads:   s.opts.Pads != nil,
		HasChat:   s.opts.Chat != nil,
		HasDrive:  s.opts.Drive != nil,
	}
	for _, code := range offered {
		p.Langs = append(p.Langs, langLink{Code: code, Name: translate(code, "lang.name"), Current: code == lang})
	}
	return p, nil
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean error page instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	var buf bytes.Buffer
	t, err := s.page(p.Lang, name)
	if err == nil {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		s.logger.Error("rendering a page", "page", name, "error", err)
		if name != "error" {
			s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Pages depend on who asks (entered or not, nickname, language).
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", p.Lang)
	h.Set("Vary", "Cookie, Accept-Language")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// renderError shows a friendly page in the visitor's language. The message
// is a catalog key: visitors never see an internal error's text.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, key string) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.logger.Error("loading settings for an error page", "error", err)
		http.Error(w, http.StatusText(status), status)
		return
	}
	p.Error = translate(p.Lang, key)
	s.render(w, r, status, "error", p)
}

// serverError logs err and shows the generic error page.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.Error("serving a page", "path", r.URL.Path, "error", err)
	s.renderError(w, r, http.StatusInternalServerError, "error.internal")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "error.notfound")
}

// nicknameError maps a nickname error to its catalog key.
func nicknameError(err error) string {
	switch {
	case errors.Is(err, visitor.ErrNicknameEmpty):
		return "error.nickname.empty"
	case errors.Is(err, visitor.ErrNicknameTooLong):
		return "error.nickname.long"
	default:
		return "error.nickname.invalid"
	}
}

// splitLines turns staff text into paragraphs, one per non-empty line.
func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// localPath reports whether s is a path on this box, safe to redirect to:
// no scheme, no host, no control character or backslash anywhere (a
// browser drops tabs and newlines and reads "\" as "/", so "/\t/x" would
// become "//x", another site).
func localPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == ""
}

// errorKeys maps a part's errors to the status of the answer and the key
// of the message that explains it to the visitor.
type errorKeys []struct {
	err    error
	status int
	key    string
}

// lookup finds err (or what it wraps); anything else is the box's fault.
func (t errorKeys) lookup(err error) (int, string) {
	for _, e := range t {
		if errors.Is(err, e.err) {
			return e.status, e.key
		}
	}
	return http.StatusInternalServerError, "error.internal"
}

// parseForm reads a form of at most limit bytes (multipart or not), and
// answers 413 or 400 itself when it cannot.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, limit int64, multipart bool) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	var err error
	if multipart {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.renderError(w, r, http.StatusRequestEntityTooLarge, "error.toolarge")
	} else {
		s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
	}
	return false
}
