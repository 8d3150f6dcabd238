package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/chat"
	"tiersbox/box/moderation"
	"tiersbox/box/pad"
)

// Moderation: the staff's log of every moderation action (GET
// /admin/moderation), muting a nickname from it, and locking or archiving
// a pad from the pad's page. Every action is a journal entry, so it
// reaches linked boxes, and their actions show here too.

func init() { pageNames = append(pageNames, "admin_moderation") }

// modPageSize is how many actions a page of the log shows.
const modPageSize = 50

// moderationRoutes declares the moderation pages and forms.
func (s *Server) moderationRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	staff := func(h http.HandlerFunc) http.Handler { return s.requireStaff(forms.Handler(h)) }
	if s.opts.Moderation != nil {
		mux.Handle("GET /admin/moderation", s.requireStaff(http.HandlerFunc(s.moderationShow)))
		if s.opts.Chat != nil {
			mux.Handle("POST /admin/moderation/mute", staff(s.moderationMute))
			mux.Handle("/admin/moderation/mute", s.onlyMethods("POST"))
		}
	}
	if s.opts.Pads != nil {
		mux.Handle("POST /pads/{name}/lock", staff(s.padLock))
		mux.Handle("POST /pads/{name}/archive", staff(s.padArchive))
	}
}

// moderationView is what admin_moderation.html shows.
type moderationView struct {
	Actions []modRow
	Older   string // cursor of the next (older) page, "" when none
	Newer   bool   // this is not the newest page
	Done    string // what the last action did
	Mutes   []muteChoice
	HasChat bool
}

// modRow is one action of the log.
type modRow struct {
	When, Stamp string // as shown, and RFC 3339 for <time>
	Box         string
	Action      string
	Target      string // what the action is about, as shown
	Link        string // where to see it, or ""
	Note        string
}

// moderationShow lists the moderation actions, newest first, a page at a
// time (?before= a cursor).
func (s *Server) moderationShow(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	before := r.URL.Query().Get("before")
	pos, ok := moderation.ParseCursor(before)
	if !ok {
		s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
		return
	}
	actions, more, err := s.opts.Moderation.Page(pos, modPageSize)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	view := &moderationView{Newer: before != "", Mutes: muteChoices, HasChat: s.opts.Chat != nil}
	names := s.linkedNames()
	for _, a := range actions {
		view.Actions = append(view.Actions, s.modRow(a, p.Lang, names))
	}
	if more && len(actions) > 0 {
		view.Older = moderation.Cursor(actions[len(actions)-1].Pos)
	}
	switch r.URL.Query().Get("done") {
	case "mute":
		view.Done = translate(p.Lang, "mod.done.mute")
	case "unmute":
		view.Done = translate(p.Lang, "mod.done.unmute")
	}
	p.Moderation = view
	s.render(w, r, http.StatusOK, "admin_moderation", p)
}

// linkedNames maps the device IDs of linked boxes to the names staff
// gave them, so that the log says which venue acted; empty when sync is
// not served or cannot say.
func (s *Server) linkedNames() map[string]string {
	names := map[string]string{}
	if s.opts.Peers == nil {
		return names
	}
	linked, err := s.opts.Peers.Linked()
	if err != nil {
		s.logger.Warn("moderation log: reading the linked boxes", "error", err)
		return names
	}
	for _, l := range linked {
		if l.Name != "" {
			names[l.DeviceID] = l.Name
		}
	}
	return names
}

// modRow describes an action in the page's language; names are the
// linked boxes' names by device ID.
func (s *Server) modRow(a moderation.Action, lang string, names map[string]string) modRow {
	row := modRow{When: formatWhen(a.Time, lang), Stamp: a.Time.UTC().Format(time.RFC3339), Note: a.Note,
		Action: translate(lang, "mod.verb."+a.Verb), Target: a.Target}
	if a.Origin == s.opts.Moderation.Here() {
		row.Box = translate(lang, "mod.box.here")
	} else if name, ok := names[protocol.DeviceID(a.Origin).String()]; ok {
		row.Box = translate(lang, "mod.box.other", name)
	} else {
		row.Box = translate(lang, "mod.box.other", a.Origin.String())
	}
	switch a.Area {
	case moderation.AreaPad:
		if pad.ValidName(a.Target) {
			row.Link = "/pads/" + url.PathEscape(a.Target)
		}
	case moderation.AreaChat:
		if a.Nick != "" {
			row.Target = a.Nick
			if a.Verb == "chat.mute" {
				row.Target = translate(lang, "mod.until", a.Nick, formatWhen(a.Until, lang))
			}
		} else if chat.ValidName(a.Target) {
			row.Link = "/chat/" + url.PathEscape(a.Target)
		}
	case moderation.AreaDrive:
		// A removed file has no page any more; a hidden one does, for
		// staff.
		if a.Verb == "drive.hide" || a.Verb == "drive.show" {
			row.Link = "/drive/" + escapePath(a.Target)
		}
	}
	return row
}

// escapePath escapes each segment of a drive path for a URL.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// moderationMute mutes a nickname for a while, or lifts its mute, from
// the moderation page.
func (s *Server) moderationMute(w http.ResponseWriter, r *http.Request) {
	nick := strings.TrimSpace(r.PostFormValue("nick"))
	note := strings.TrimSpace(r.PostFormValue("note"))
	if nick == "" || len(note) > chat.MaxNote {
		s.renderError(w, r, http.StatusBadRequest, "mod.error.mute")
		return
	}
	minutes := -1
	fmt.Sscan(r.PostFormValue("minutes"), &minutes)
	if minutes < 0 || minutes > 7*24*60 {
		minutes = 60
	}
	if err := s.opts.Chat.MuteNote(nick, staffAuthor, time.Now().Add(time.Duration(minutes)*time.Minute), note); err != nil {
		s.serverError(w, r, err)
		return
	}
	done := "mute"
	if minutes == 0 {
		done = "unmute"
	}
	http.Redirect(w, r, "/admin/moderation?done="+done, http.StatusSeeOther)
}

// padLock locks a pad (locked=1) or unlocks it (locked=0).
func (s *Server) padLock(w http.ResponseWriter, r *http.Request) {
	s.padDecide(w, r, "locked", s.opts.Pads.Lock)
}

// padArchive archives a pad (archived=1) or brings it back (archived=0).
func (s *Server) padArchive(w http.ResponseWriter, r *http.Request) {
	s.padDecide(w, r, "archived", s.opts.Pads.Archive)
}

func (s *Server) padDecide(w http.ResponseWriter, r *http.Request, field string, decide func(name string, on bool, author, note string) error) {
	name := r.PathValue("name")
	on := r.PostFormValue(field)
	note := strings.TrimSpace(r.PostFormValue("note"))
	if !pad.ValidName(name) || (on != "1" && on != "0") || len(note) > pad.MaxNote {
		s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
		return
	}
	if err := decide(name, on == "1", staffAuthor, note); err != nil {
		if errors.Is(err, pad.ErrNote) {
			s.renderError(w, r, http.StatusBadRequest, "error.badrequest")
			return
		}
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/pads/"+url.PathEscape(name), http.StatusSeeOther)
}
