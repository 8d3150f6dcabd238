package web

import (
	"fmt"
	"net/http"
	"time"

	"tiersbox/box/privacy"
)

// The privacy page, GET /privacy: what the box keeps about a visitor, for
// how long, where it goes and whom to ask, in plain words. It reads what
// it states from the box itself (the venue's name, the visitor session
// length) rather than repeating numbers that could go stale.

func init() { pageNames = append(pageNames, "privacy") }

// privacyRoutes declares the privacy page, and a visitor's own data:
// GET /privacy/mine.json downloads it, POST /privacy/erase erases it.
func (s *Server) privacyRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	mux.HandleFunc("GET /privacy", s.privacyShow)
	if s.opts.Privacy != nil {
		mux.HandleFunc("GET /privacy/mine.json", s.privacyDownload)
		mux.Handle("POST /privacy/erase", forms.Handler(http.HandlerFunc(s.privacyErase)))
		mux.Handle("/privacy/erase", s.onlyMethods("POST"))
	}
}

// privacyView is what the privacy page shows of the visitor's own data.
type privacyView struct {
	// Mine: the visitor may download and erase their data.
	Mine                      bool
	Messages, Files, PadEdits int
	// Erased is set after an erasure: what it did.
	Erased *privacy.Erased
	// RetentionDays is the chat's retention (0: kept).
	RetentionDays int
}

// privacyShow renders the privacy page, to anyone: a visitor may want to
// read it before entering.
func (s *Server) privacyShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.fillPrivacy(p, nil); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "privacy", p)
}

// fillPrivacy adds what the page says of the visitor's data to p.
func (s *Server) fillPrivacy(p *page, erased *privacy.Erased) error {
	p.SessionLength = formatDuration(s.opts.Visitors.SessionLength(), p.Lang)
	p.Privacy = &privacyView{Erased: erased, RetentionDays: p.Settings.ChatRetentionDays}
	if s.opts.Privacy == nil || p.Visitor == nil {
		return nil
	}
	p.Privacy.Mine = true
	c, err := s.opts.Privacy.Collect(p.Visitor.Pseudonym())
	if err != nil {
		return err
	}
	for _, m := range c.Messages {
		if m.Shown {
			p.Privacy.Messages++
		}
	}
	for _, f := range c.Files {
		if f.InDrive {
			p.Privacy.Files++
		}
	}
	p.Privacy.PadEdits = len(c.PadEdits)
	return nil
}

// privacyDownload gives a visitor everything they contributed, as JSON.
func (s *Server) privacyDownload(w http.ResponseWriter, r *http.Request) {
	v := s.currentVisitor(r)
	if v == nil {
		s.renderError(w, r, http.StatusForbidden, "privacy.error.nosession")
		return
	}
	c, err := s.opts.Privacy.Collect(v.Pseudonym())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="mes-donnees-%s.json"`, time.Now().Format("2006-01-02")))
	writeJSON(w, http.StatusOK, c)
}

// privacyErase erases a visitor's messages and files, once they ticked
// the box that says they understand it cannot be undone.
func (s *Server) privacyErase(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxFormBytes, false) {
		return
	}
	v := s.currentVisitor(r)
	if v == nil {
		s.renderError(w, r, http.StatusForbidden, "privacy.error.nosession")
		return
	}
	p, err := s.newPage(r, v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	var erased *privacy.Erased
	if r.PostForm.Get("confirm") != "yes" {
		status = http.StatusBadRequest
		p.Error = translate(p.Lang, "privacy.erase.confirm.missing")
	} else {
		done, err := s.opts.Privacy.Erase(v.Pseudonym())
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		erased = &done
		s.logger.Info("a visitor erased their messages and files", "messages", done.Messages, "files", done.Files)
	}
	if err := s.fillPrivacy(p, erased); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, "privacy", p)
}
