package web

import (
	"errors"
	"net/http"

	"tiersbox/box/visitor"
	"tiersbox/portal/captive"
)

// maxFormBytes bounds the Enter form: a nickname and a language.
const maxFormBytes = 4 << 10

func (s *Server) welcomeShow(w http.ResponseWriter, r *http.Request) {
	v := s.currentVisitor(r)
	p, err := s.newPage(r, v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if v != nil {
		p.Nickname = v.Nickname
	}
	s.renderWelcome(w, r, http.StatusOK, p)
}

func (s *Server) renderWelcome(w http.ResponseWriter, r *http.Request, status int, p *page) {
	if rules := p.Settings.Rules; rules != "" {
		html, err := renderRules(rules)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.RulesHTML = html
	} else {
		p.Rules = splitLines(translate(p.Lang, "welcome.rules.default"))
	}
	p.SessionLength = formatDuration(s.opts.Visitors.SessionLength(), p.Lang)
	s.render(w, r, status, "welcome", p)
}

// enter handles the Enter button: it starts the visitor's session, so the
// device's connectivity checks now get their "online" replies, and sends
// them home.
func (s *Server) enter(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxFormBytes, false) {
		return
	}
	client := captive.ClientAddr(r)
	lang := pickLang(r)
	if l := r.PostForm.Get("lang"); l == "fr" || l == "en" {
		lang = l
	}
	req := visitor.EnterRequest{
		Nickname: r.PostForm.Get("nickname"),
		Lang:     lang,
		Addr:     client,
		MAC:      s.opts.MAC(client),
	}
	if c, err := r.Cookie(visitorCookie); err == nil && visitor.ValidID(c.Value) {
		req.ID = c.Value
	}
	v, err := s.opts.Visitors.Enter(req)
	if err != nil && isNicknameError(err) {
		p, perr := s.newPage(r, nil)
		if perr != nil {
			s.serverError(w, r, perr)
			return
		}
		p.Error = translate(p.Lang, nicknameError(err))
		// Give back what they typed (escaped by the template) so they
		// can fix it, unless it is absurdly long.
		if n := req.Nickname; len(n) <= 256 {
			p.Nickname = n
		}
		s.renderWelcome(w, r, http.StatusBadRequest, p)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.entered.Inc()
	s.logger.Info("visitor entered", "client", client)
	http.SetCookie(w, &http.Cookie{
		Name:     visitorCookie,
		Value:    v.ID,
		Path:     "/",
		Expires:  v.Expires,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func isNicknameError(err error) bool {
	return errors.Is(err, visitor.ErrNicknameEmpty) || errors.Is(err, visitor.ErrNicknameTooLong) || errors.Is(err, visitor.ErrNicknameInvalid)
}
