package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/chat"
	"tiersbox/box/settings"
)

func init() { pageNames = append(pageNames, "chats", "chat") }

// chatRoutes declares the chat pages and websocket.
func (s *Server) chatRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	if s.opts.Chat == nil {
		return
	}
	mux.HandleFunc("GET /chat", s.chatList)
	mux.HandleFunc("GET /chat/{channel}", s.chatShow)
	mux.Handle("POST /chat/{channel}", forms.Handler(http.HandlerFunc(s.chatPost)))
	mux.Handle("POST /chat/{channel}/delete", forms.Handler(http.HandlerFunc(s.chatDelete)))
	mux.HandleFunc("GET /ws/chat/{channel}", s.chatWS)
	// Staff moderate: every action is a journal entry, so it reaches the
	// linked boxes too.
	staff := func(h http.HandlerFunc) http.Handler { return s.requireStaff(forms.Handler(h)) }
	mux.Handle("POST /chat", staff(s.chatCreate))
	mux.Handle("POST /chat/{channel}/archive", staff(s.chatArchive))
	mux.Handle("POST /chat/{channel}/clear", staff(s.chatClear))
	mux.Handle("POST /chat/{channel}/remove", staff(s.chatRemove))
	mux.Handle("POST /chat/{channel}/mute", staff(s.chatMute))
	mux.Handle("POST /chat/switch", staff(s.chatSwitch))
}

// chatView is what the chat templates show.
type chatView struct {
	Channels []chat.Channel
	Channel  string
	Pad      string        // the pad whose side channel this is, if it is one
	Messages []chatMessage // oldest first, the newest next to the form
	Older    string        // cursor of the previous page
	Newer    bool          // this is not the most recent page
	Text     string        // what the visitor typed, kept after an error
	CanPost  bool
	Archived bool
	Staff    bool // show the moderation buttons
	Off      bool // staff turned the chat off
	Mutes    []muteChoice
}

// muteChoice is one of the lengths staff can mute a nickname for.
type muteChoice struct {
	Minutes int
	Key     string
}

var muteChoices = []muteChoice{{15, "chat.mute.15"}, {60, "chat.mute.60"}, {24 * 60, "chat.mute.day"}, {0, "chat.mute.lift"}}

// chatMessage is a message as pages and JSON show it, without the
// author's pseudonym: only "mine" tells a visitor their own messages.
type chatMessage struct {
	ID    string     `json:"id"`
	Order string     `json:"order"` // the hybrid logical clock time: messages sort by it
	Time  string     `json:"time"`  // RFC 3339, UTC
	Local string     `json:"local"` // the venue's local time, as shown
	Nick  string     `json:"nick"`
	Text  string     `json:"text"`
	Mine  bool       `json:"mine,omitempty"`
	Parts []textPart `json:"-"`
}

// textPart is a piece of a message: plain text, or a link when URL is set.
type textPart struct {
	Text string
	URL  string
}

// linkPattern finds web addresses to make clickable. Only http and https:
// a "javascript:" or "data:" address stays text.
var linkPattern = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+[^\s<>"'` + "`" + `.,;:!?)\]]`)

// linkify splits text into plain parts and links; html/template escapes
// each, so nothing a visitor writes becomes markup.
func linkify(text string) []textPart {
	var parts []textPart
	last := 0
	for _, m := range linkPattern.FindAllStringIndex(text, -1) {
		if m[0] > last {
			parts = append(parts, textPart{Text: text[last:m[0]]})
		}
		parts = append(parts, textPart{Text: text[m[0]:m[1]], URL: text[m[0]:m[1]]})
		last = m[1]
	}
	if last < len(text) {
		parts = append(parts, textPart{Text: text[last:]})
	}
	return parts
}

func (s *Server) viewMessage(m chat.Message, lang, me string) chatMessage {
	when := m.Time.Wall()
	return chatMessage{
		ID:    m.ID,
		Order: fmt.Sprintf("%020d", uint64(m.Time)),
		Time:  when.UTC().Format(time.RFC3339),
		Local: formatChatTime(when, lang),
		Nick:  m.Nick,
		Text:  m.Text,
		Parts: linkify(m.Text),
		Mine:  me != "" && m.Author == me,
	}
}

// formatChatTime shows the venue's local time: the hour for today, the
// date too for older messages.
func formatChatTime(t time.Time, lang string) string {
	t = t.Local()
	if y, m, d := time.Now().Local().Date(); t.Year() == y && t.Month() == m && t.Day() == d {
		return t.Format("15:04")
	}
	return formatWhen(t, lang)
}

func (s *Server) chatList(w http.ResponseWriter, r *http.Request) {
	p, err := s.newPage(r, s.currentVisitor(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	list, err := s.opts.Chat.Channels(false)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p.Chat = &chatView{Channels: list, Staff: s.isStaff(r), Off: p.Settings.ChatOff}
	if p.Chat.Staff {
		// Staff see the archived channels too, to read them or reopen them.
		if p.Chat.Channels, err = s.opts.Chat.Channels(true); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "chats", p)
}

// channelOf reads the channel of a request, answering 400 or 404 itself
// when there is none.
func (s *Server) channelOf(w http.ResponseWriter, r *http.Request, name string) (chat.Channel, bool) {
	ch, err := s.opts.Chat.Channel(name)
	switch {
	case errors.Is(err, chat.ErrBadName):
		s.renderError(w, r, http.StatusBadRequest, "error.channelname")
		return ch, false
	case errors.Is(err, chat.ErrNoChannel):
		s.renderError(w, r, http.StatusNotFound, "error.nochannel")
		return ch, false
	case err != nil:
		s.serverError(w, r, err)
		return ch, false
	}
	return ch, true
}

// chatShow serves a channel's page, or its history as .json or .txt.
func (s *Server) chatShow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if base, ok := strings.CutSuffix(name, ".json"); ok {
		s.chatJSON(w, r, base)
		return
	}
	if base, ok := strings.CutSuffix(name, ".txt"); ok {
		s.chatText(w, r, base)
		return
	}
	s.chatPage(w, r, name, http.StatusOK, "", "")
}

// chatPage renders a channel, with an error and the visitor's text when a
// post was refused.
func (s *Server) chatPage(w http.ResponseWriter, r *http.Request, name string, status int, errMsg, text string) {
	ch, ok := s.channelOf(w, r, name)
	if !ok {
		return
	}
	v := s.currentVisitor(r)
	p, err := s.newPage(r, v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	before := r.URL.Query().Get("before")
	page, err := s.opts.Chat.History(ch.Name, before, 50)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	me := ""
	if v != nil {
		me = v.Pseudonym()
	}
	view := &chatView{Channel: ch.Name, Older: page.Older, Newer: before != "", Text: text, CanPost: v != nil && !ch.Archived && !p.Settings.ChatOff,
		Archived: ch.Archived, Staff: s.isStaff(r), Mutes: muteChoices, Off: p.Settings.ChatOff}
	for i := len(page.Messages) - 1; i >= 0; i-- {
		view.Messages = append(view.Messages, s.viewMessage(page.Messages[i], p.Lang, me))
	}
	view.Pad, _ = strings.CutPrefix(ch.Name, chat.PadPrefix)
	if view.Pad == ch.Name {
		view.Pad = ""
	}
	p.Chat = view
	p.Error = errMsg
	s.render(w, r, status, "chat", p)
}

// chatErrors maps the chat's errors to a status and a message key.
var chatErrors = errorKeys{
	{chat.ErrEmpty, http.StatusBadRequest, "chat.error.empty"},
	{chat.ErrTooLong, http.StatusRequestEntityTooLarge, "chat.error.toolong"},
	{chat.ErrBadText, http.StatusBadRequest, "chat.error.badtext"},
	{chat.ErrTooFast, http.StatusTooManyRequests, "chat.error.toofast"},
	{chat.ErrMuted, http.StatusForbidden, "chat.error.muted"},
	{chat.ErrArchived, http.StatusForbidden, "chat.error.archived"},
	{chat.ErrNotYours, http.StatusForbidden, "chat.error.notyours"},
	{chat.ErrNoMessage, http.StatusNotFound, "chat.error.nomessage"},
	{errChatOff, http.StatusForbidden, "chat.error.off"},
}

// errChatOff refuses posts while staff have turned the chat off.
var errChatOff = errors.New("web: the chat is off")

func chatError(err error) (int, string) { return chatErrors.lookup(err) }

// wantsJSON reports whether the page's script made the request, so that
// it gets JSON rather than a redirect.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// chatPost posts a message: the form without JavaScript (a redirect back
// to the channel), or the page's script (JSON).
func (s *Server) chatPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if _, ok := s.channelOf(w, r, name); !ok {
		return
	}
	lang := pickLang(r)
	v := s.currentVisitor(r)
	if v == nil {
		if wantsJSON(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": translate(lang, "chat.error.enter")})
			return
		}
		s.renderError(w, r, http.StatusForbidden, "chat.error.enter")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4*chat.MaxText+1024)
	text := r.PostFormValue("text")
	var m chat.Message
	st, err := settings.Load(s.opts.Store)
	switch {
	case err != nil:
	case st.ChatOff:
		err = errChatOff
	default:
		m, err = s.opts.Chat.Post(name, v.Pseudonym(), v.Nickname, text)
	}
	if err != nil {
		status, key := chatError(err)
		if status == http.StatusInternalServerError {
			s.logger.Error("posting a message", "channel", name, "error", err)
		}
		if wantsJSON(r) {
			writeJSON(w, status, map[string]string{"error": translate(lang, key)})
			return
		}
		s.chatPage(w, r, name, status, translate(lang, key), text)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, s.viewMessage(m, lang, v.Pseudonym()))
		return
	}
	http.Redirect(w, r, "/chat/"+url.PathEscape(name)+"#chat-form", http.StatusSeeOther)
}

// chatDelete deletes a visitor's own message.
func (s *Server) chatDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if _, ok := s.channelOf(w, r, name); !ok {
		return
	}
	v := s.currentVisitor(r)
	id := r.PostFormValue("id")
	var err error
	switch {
	case v == nil:
		err = chat.ErrNotYours
	default:
		err = s.opts.Chat.Delete(id, v.Pseudonym())
	}
	if err != nil {
		status, key := chatError(err)
		if wantsJSON(r) {
			writeJSON(w, status, map[string]string{"error": translate(pickLang(r), key)})
			return
		}
		s.renderError(w, r, status, key)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
		return
	}
	http.Redirect(w, r, "/chat/"+url.PathEscape(name), http.StatusSeeOther)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// chatJSON serves a page of history, most recent first, with the cursor
// of the next (older) page: /chat/CHANNEL.json?before=CURSOR&limit=N.
func (s *Server) chatJSON(w http.ResponseWriter, r *http.Request, name string) {
	ch, ok := s.channelOf(w, r, name)
	if !ok {
		return
	}
	limit := 50
	fmt.Sscan(r.URL.Query().Get("limit"), &limit)
	page, err := s.opts.Chat.History(ch.Name, r.URL.Query().Get("before"), limit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	lang, me := pickLang(r), ""
	if v := s.currentVisitor(r); v != nil {
		me = v.Pseudonym()
	}
	out := struct {
		Channel  string        `json:"channel"`
		Archived bool          `json:"archived,omitempty"`
		Messages []chatMessage `json:"messages"`
		Older    string        `json:"older,omitempty"`
	}{Channel: ch.Name, Archived: ch.Archived, Messages: []chatMessage{}, Older: page.Older}
	for _, m := range page.Messages {
		out.Messages = append(out.Messages, s.viewMessage(m, lang, me))
	}
	writeJSON(w, http.StatusOK, out)
}

// chatText serves the whole channel as a plain-text transcript, oldest
// first, in the venue's local time.
func (s *Server) chatText(w http.ResponseWriter, r *http.Request, name string) {
	ch, ok := s.channelOf(w, r, name)
	if !ok {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", ch.Name)
	err := s.opts.Chat.All(ch.Name, func(m chat.Message) error {
		text := strings.ReplaceAll(m.Text, "\n", "\n    ")
		fmt.Fprintf(&b, "[%s] %s: %s\n", m.Time.Wall().Local().Format("2006-01-02 15:04"), m.Nick, text)
		return nil
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+asciiName(ch.Name)+`.txt"; filename*=UTF-8''`+url.PathEscape(ch.Name)+".txt")
	w.Write([]byte(b.String()))
}

// asciiName keeps the ASCII letters, digits, - and _ of a name, for the
// old filename parameter.
func asciiName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// chatHub holds the channels' websockets, one room per open channel.
type chatHub struct {
	mu       sync.Mutex
	channels map[string]*chatRoom
	closed   bool
}

type chatRoom struct {
	conns map[*chatConn]struct{}
	stop  func()
}

type chatConn struct {
	*wsConn
	me   string // the visitor's pseudonym, to mark their own messages
	lang string
}

// chatEvent is what a channel's websocket sends: {"type":"post",
// "message":{…}}, {"type":"remove","id":…} or {"type":"clear"}.
type chatEvent struct {
	Type    string       `json:"type"`
	Message *chatMessage `json:"message,omitempty"`
	ID      string       `json:"id,omitempty"`
}

// chatWS sends a channel's changes as they happen. Visitors post over
// HTTP (the form, or the page's script): the socket only listens.
func (s *Server) chatWS(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if _, ok := s.channelOf(w, r, name); !ok {
		return
	}
	me := ""
	if v := s.currentVisitor(r); v != nil {
		me = v.Pseudonym()
	}
	lang := pickLang(r)
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &chatConn{wsConn: newWSConn(ws, opText), me: me, lang: lang}
	if !s.chatHub.join(s, name, c) {
		c.close(websocket.CloseGoingAway, closeShuttingDown)
		return
	}
	// The socket only listens: the poller reads it for pings, pongs and
	// its end.
	gone := s.presence.connected(me)
	if err := c.readBy(c, 512, func() { s.chatHub.leave(name, c); gone() }); err != nil {
		s.logger.Error("reading a chat websocket", "error", err)
		c.close(websocket.CloseInternalServerErr, "")
	}
}

// frame takes what the visitor's page sends: nothing is expected but
// pings, pongs and the end.
func (c *chatConn) frame(op byte, payload []byte) error {
	_, err := c.control(op, payload)
	return err
}

func (h *chatHub) join(s *Server, channel string, c *chatConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	rm, ok := h.channels[channel]
	if !ok {
		rm = &chatRoom{conns: make(map[*chatConn]struct{})}
		rm.stop = s.opts.Chat.Subscribe(channel, func(e chat.Event) { h.broadcast(s, channel, e) })
		h.channels[channel] = rm
	}
	rm.conns[c] = struct{}{}
	return true
}

func (h *chatHub) leave(channel string, c *chatConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rm, ok := h.channels[channel]
	if !ok {
		return
	}
	delete(rm.conns, c)
	if len(rm.conns) == 0 {
		rm.stop()
		delete(h.channels, channel)
	}
}

// broadcast encodes an event once per language and ownership, and queues
// it on every connection of the channel.
func (h *chatHub) broadcast(s *Server, channel string, e chat.Event) {
	h.mu.Lock()
	rm, ok := h.channels[channel]
	var conns []*chatConn
	if ok {
		conns = make([]*chatConn, 0, len(rm.conns))
		for c := range rm.conns {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	encoded := make(map[[2]string][]byte)
	for _, c := range conns {
		key := [2]string{c.lang, ""}
		if e.Type == "post" && c.me != "" && e.Message.Author == c.me {
			key[1] = "mine"
		}
		msg, ok := encoded[key]
		if !ok {
			ev := chatEvent{Type: e.Type, ID: e.ID}
			if e.Type == "post" {
				m := s.viewMessage(e.Message, c.lang, c.me)
				ev.Message = &m
			}
			msg, _ = json.Marshal(ev)
			encoded[key] = msg
		}
		c.enqueue(msg)
	}
}

// closeAll closes every chat websocket (http.Server.Shutdown does not).
func (h *chatHub) closeAll() {
	h.mu.Lock()
	h.closed = true
	var conns []*chatConn
	for _, rm := range h.channels {
		for c := range rm.conns {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	closeEach(conns, func(c *chatConn) { c.close(websocket.CloseGoingAway, closeShuttingDown) })
}

// staffDone answers a staff action: back to the page it came from, or an
// error page.
func (s *Server) staffDone(w http.ResponseWriter, r *http.Request, err error, back string) {
	switch {
	case errors.Is(err, chat.ErrBadName):
		s.renderError(w, r, http.StatusBadRequest, "error.channelname")
	case errors.Is(err, chat.ErrNoChannel):
		s.renderError(w, r, http.StatusNotFound, "error.nochannel")
	case errors.Is(err, chat.ErrExists):
		s.renderError(w, r, http.StatusConflict, "chat.error.exists")
	case err != nil:
		status, key := chatError(err)
		if status == http.StatusInternalServerError {
			s.logger.Error("a staff action in the chat", "path", r.URL.Path, "error", err)
		}
		s.renderError(w, r, status, key)
	default:
		http.Redirect(w, r, back, http.StatusSeeOther)
	}
}

// staffAuthor signs staff actions in the journal.
const staffAuthor = "staff"

func (s *Server) chatCreate(w http.ResponseWriter, r *http.Request) {
	name, err := chat.CleanName(r.PostFormValue("name"))
	if err == nil {
		err = s.opts.Chat.Create(name, staffAuthor)
	}
	s.staffDone(w, r, err, "/chat/"+url.PathEscape(name))
}

func (s *Server) chatArchive(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	var err error
	if r.PostFormValue("reopen") != "" {
		err = s.opts.Chat.Create(name, staffAuthor)
	} else {
		err = s.opts.Chat.Archive(name, staffAuthor)
	}
	s.staffDone(w, r, err, "/chat")
}

func (s *Server) chatClear(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	s.staffDone(w, r, s.opts.Chat.Clear(name, staffAuthor), "/chat/"+url.PathEscape(name))
}

func (s *Server) chatRemove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	s.staffDone(w, r, s.opts.Chat.Remove(r.PostFormValue("id"), staffAuthor), "/chat/"+url.PathEscape(name))
}

func (s *Server) chatMute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	minutes := -1
	fmt.Sscan(r.PostFormValue("minutes"), &minutes)
	if minutes < 0 || minutes > 7*24*60 {
		minutes = 60
	}
	// 0 lifts a pause: a mute that ends now replaces the one before.
	err := s.opts.Chat.Mute(r.PostFormValue("nick"), staffAuthor, time.Now().Add(time.Duration(minutes)*time.Minute))
	s.staffDone(w, r, err, "/chat/"+url.PathEscape(name))
}

// chatSwitch turns the chat off for the venue, or on again.
func (s *Server) chatSwitch(w http.ResponseWriter, r *http.Request) {
	st, err := settings.Load(s.opts.Store)
	if err == nil {
		st.ChatOff = r.PostFormValue("off") == "1"
		err = settings.Save(s.opts.Store, st)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/chat", http.StatusSeeOther)
}
