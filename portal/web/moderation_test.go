package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/chat"
	"tiersbox/box/journal"
	"tiersbox/box/moderation"
	"tiersbox/box/pad"
	"tiersbox/box/store"
	"tiersbox/box/wal"
	"tiersbox/box/ydoc"
)

// closedWith reads until the connection closes and returns its close
// code and reason.
func (c *yclient) closedWith() (int, string) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok {
				c.t.Fatalf("the connection ended without a close frame: %v", err)
			}
			return ce.Code, ce.Text
		}
	}
}

// roundTrip sends a sync step 1 and waits for its answer: the box has
// handled everything sent before.
func (c *yclient) roundTrip() {
	c.t.Helper()
	c.send(encodeSync(syncStep1, c.doc.EncodeStateVector()))
	for {
		if m := c.read(); m.kind == msgSync && m.sub == syncStep2 {
			return
		}
	}
}

// TestPadLockWebsocket: locking a pad closes its editors' connections with
// the code the editor understands; a connection to a locked pad reads the
// pad and every later update, while what it sends is dropped and stored
// nowhere; an editor asking to edit a locked pad, or to read an unlocked
// one, is told at once.
func TestPadLockWebsocket(t *testing.T) {
	hs, pads, st := newPadServerStore(t)
	a := dial(t, hs, "atelier?mode=edit", 11)
	a.sync()
	a.typeAt(0, "avant")
	a.roundTrip()
	p, _ := pads.Open("atelier")
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}

	if err := pads.Lock("atelier", true, "staff", ""); err != nil {
		t.Fatal(err)
	}
	if code, reason := a.closedWith(); code != closeCodeLocked || reason != closeLocked {
		t.Fatalf("an editor of the pad being locked: closed with %d %q", code, reason)
	}
	if code, _ := dial(t, hs, "atelier?mode=edit", 12).closedWith(); code != closeCodeLocked {
		t.Fatalf("an editor asking to edit the locked pad: closed with %d", code)
	}

	// A stock client (no mode) and a reading editor are read-only.
	ro := dial(t, hs, "atelier", 13)
	ro.sync()
	reader := dial(t, hs, "atelier?mode=read", 14)
	reader.sync()
	if got := ro.doc.Text(pad.ContentName).String(); got != "avant" {
		t.Fatalf("a reader got %q", got)
	}
	history, _ := pads.History("atelier")
	ro.typeAt(5, " et pendant")
	ro.send(encodeSync(syncStep2, ro.doc.EncodeStateAsUpdate(nil)))
	ro.roundTrip()
	if got := p.Text(); got != "avant" {
		t.Fatalf("the locked pad took an edit: %q", got)
	}
	p.Flush()
	if after, _ := pads.History("atelier"); len(after) != len(history) {
		t.Fatalf("the journal grew from %d to %d versions", len(history), len(after))
	}
	waiting, err := wal.Read(filepath.Join(st.Dir(), "pad-wal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range waiting {
		if bytes.Contains(r.Data, []byte("pendant")) {
			t.Fatalf("the refused edit is in the write-ahead log")
		}
	}

	// Unlocked: readers are told, and editing works again.
	if err := pads.Lock("atelier", false, "staff", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*yclient{ro, reader} {
		if code, reason := c.closedWith(); code != closeCodeUnlocked || reason != closeUnlocked {
			t.Fatalf("a reader of the pad being unlocked: closed with %d %q", code, reason)
		}
	}
	if code, _ := dial(t, hs, "atelier?mode=read", 15).closedWith(); code != closeCodeUnlocked {
		t.Fatalf("an editor asking to read the unlocked pad: closed with %d", code)
	}
	b := dial(t, hs, "atelier?mode=edit", 16)
	b.sync()
	b.typeAt(5, " et après")
	b.roundTrip()
	if got := p.Text(); got != "avant et après" {
		t.Fatalf("after unlocking: %q", got)
	}
}

func mustEdit(t *testing.T, p *pad.Pad, text string) {
	t.Helper()
	if err := p.Edit("v", func(d *ydoc.Doc) error { return d.Text(pad.ContentName).Insert(0, text) }); err != nil {
		t.Fatal(err)
	}
}

// modBox is a box with pads, chat and the moderation log, and a staff
// password.
func modBox(t *testing.T) (*testBox, *pad.Service, *chat.Service) {
	t.Helper()
	var pads *pad.Service
	var chats *chat.Service
	b, _ := newStaffBox(t, staffPassword, func(o *Options) {
		j, err := journal.Open(o.Store, journal.Origin{1}, journal.Options{Logged: moderation.Kinds})
		if err != nil {
			t.Fatal(err)
		}
		if pads, err = pad.New(o.Store, j, pad.Options{Window: 20 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pads.Close() })
		if chats, err = chat.New(o.Store, j, chat.Options{}); err != nil {
			t.Fatal(err)
		}
		o.Pads, o.Chat, o.Moderation = pads, chats, moderation.New(j)
	})
	return b, pads, chats
}

// TestModerationStaffOnly: only logged-in staff reach the moderation log
// and the lock, archive and mute forms, and only from the box's own
// pages; visitors change nothing.
func TestModerationStaffOnly(t *testing.T) {
	b, pads, chats := modBox(t)
	_, _, c := b.login(staffPassword)
	staff := []*http.Cookie{c}
	cross := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}

	res, _ := b.do(req{target: "/admin/moderation"})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin?next=") {
		t.Errorf("a visitor asks for the moderation log: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	posts := []struct {
		path string
		form url.Values
	}{
		{"/pads/atelier/lock", url.Values{"locked": {"1"}}},
		{"/pads/atelier/archive", url.Values{"archived": {"1"}}},
		{"/admin/moderation/mute", url.Values{"nick": {"Ana"}, "minutes": {"60"}}},
	}
	for _, p := range posts {
		if res, _ := b.do(req{method: "POST", target: p.path, form: p.form}); res.StatusCode != http.StatusForbidden {
			t.Errorf("a visitor posts to %s: %d", p.path, res.StatusCode)
		}
		if res, _ := b.do(req{method: "POST", target: p.path, form: p.form, cookies: staff, header: cross}); res.StatusCode != http.StatusForbidden {
			t.Errorf("a cross-origin post to %s with the staff's cookie: %d", p.path, res.StatusCode)
		}
	}
	if pads.Flags("atelier") != (pad.Flags{}) {
		t.Errorf("the pad changed: %+v", pads.Flags("atelier"))
	}
	if until, _ := chats.MutedUntil("Ana"); !until.IsZero() {
		t.Errorf("Ana is muted until %v", until)
	}
	if res, body := b.do(req{target: "/admin/moderation", cookies: staff}); res.StatusCode != http.StatusOK || !strings.Contains(body, "Aucune action") {
		t.Errorf("the staff's empty log: %d", res.StatusCode)
	}
	if res, _ := b.do(req{method: "POST", target: "/pads/atelier/lock", form: url.Values{"locked": {"oui"}}, cookies: staff}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a lock with a nonsense value: %d", res.StatusCode)
	}
	if res, _ := b.do(req{target: "/admin/moderation?before=nimporte", cookies: staff}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a nonsense page of the log: %d", res.StatusCode)
	}
}

// TestModerationPages: staff lock and archive a pad from its page and
// mute a nickname from the moderation page; visitors see a locked pad
// read-only with a notice and cannot restore a version, archived pads
// leave the list (staff find them under a filter), and the log lists
// every action, newest first, with its reason and a link.
func TestModerationPages(t *testing.T) {
	b, pads, chats := modBox(t)
	_, _, c := b.login(staffPassword)
	staff := []*http.Cookie{c}
	p, _ := pads.Open("atelier")
	mustEdit(t, p, "Notes")
	p.Flush()
	versions, _ := pads.History("atelier")

	if _, body := b.do(req{target: "/pads/atelier"}); strings.Contains(body, "/pads/atelier/lock") || !strings.Contains(body, `data-locked="0"`) {
		t.Error("a visitor's pad page has staff buttons, or says the pad is locked")
	}
	if _, body := b.do(req{target: "/pads/atelier", cookies: staff}); !strings.Contains(body, "Verrouiller le pad") || !strings.Contains(body, "Archiver le pad") {
		t.Error("the staff's pad page lacks the lock and archive buttons")
	}
	if res, _ := b.do(req{method: "POST", target: "/pads/atelier/lock", form: url.Values{"locked": {"1"}, "note": {"on relit avant l’impression"}}, cookies: staff}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("lock: %d", res.StatusCode)
	}
	_, body := b.do(req{target: "/pads/atelier"})
	if !strings.Contains(body, `data-locked="1"`) || !strings.Contains(body, "verrouillé par l’équipe") {
		t.Error("the locked pad's page does not say so")
	}
	if res, body := b.do(req{method: "POST", target: "/pads/atelier/restore", form: url.Values{"version": {versions[0].ID}}}); res.StatusCode != http.StatusLocked || !strings.Contains(body, "verrouillé") {
		t.Errorf("restoring a version of the locked pad: %d", res.StatusCode)
	}
	if _, body := b.do(req{target: "/pads/atelier/history/" + versions[0].ID}); strings.Contains(body, "/restore") {
		t.Error("a version of the locked pad offers to restore it")
	}
	if _, body := b.do(req{target: "/pads/atelier.txt"}); body != "Notes" {
		t.Errorf("the locked pad's export: %q", body)
	}

	if res, _ := b.do(req{method: "POST", target: "/pads/atelier/archive", form: url.Values{"archived": {"1"}}, cookies: staff}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("archive: %d", res.StatusCode)
	}
	if _, body := b.do(req{target: "/pads"}); strings.Contains(body, "/pads/atelier") {
		t.Error("the archived pad is listed for visitors")
	}
	if _, body := b.do(req{target: "/pads?archived=1"}); strings.Contains(body, "/pads/atelier\"") {
		t.Error("a visitor lists archived pads")
	}
	if _, body := b.do(req{target: "/pads?archived=1", cookies: staff}); !strings.Contains(body, `href="/pads/atelier"`) {
		t.Error("staff do not find the archived pad under the filter")
	}
	if res, body := b.do(req{target: "/pads/atelier"}); res.StatusCode != http.StatusOK || !strings.Contains(body, "Notes") {
		t.Error("the archived pad's address does not read")
	}

	if res, _ := b.do(req{method: "POST", target: "/admin/moderation/mute", form: url.Values{"nick": {"Ana"}, "minutes": {"60"}, "note": {"insultes"}}, cookies: staff}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("mute: %d", res.StatusCode)
	}
	if until, _ := chats.MutedUntil("ana"); !until.After(time.Now()) {
		t.Error("Ana is not muted")
	}
	if _, err := chats.Post(chat.Default, "v", "Ana", "coucou"); err != chat.ErrMuted {
		t.Errorf("Ana posts while muted: %v", err)
	}

	_, body = b.do(req{target: "/admin/moderation", cookies: []*http.Cookie{c, {Name: langCookie, Value: "fr"}}})
	i1, i2, i3 := strings.Index(body, "Pseudo mis en pause"), strings.Index(body, "Pad archivé"), strings.Index(body, "Pad verrouillé")
	if i1 < 0 || i2 < i1 || i3 < i2 {
		t.Errorf("the log does not list the three actions newest first:\n%s", body)
	}
	for _, want := range []string{"on relit avant l’impression", "insultes", `href="/pads/atelier"`, "cette box"} {
		if !strings.Contains(body, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if _, body := b.do(req{target: "/admin", cookies: staff}); !strings.Contains(body, `href="/admin/moderation"`) {
		t.Error("the staff home does not link to the moderation log")
	}
}

// TestPadLockFromLinkedBox: a lock decided at a linked box reaches this
// box through sync (the journal's Ingest, then the pads' Apply), and the
// editors open here are closed at once with the code that makes them
// read-only.
func TestPadLockFromLinkedBox(t *testing.T) {
	hs, pads, st := newPadServerStore(t)
	c := dial(t, hs, "atelier?mode=edit", 11)
	c.sync()

	// The other box, with a journal of its own.
	otherStore, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer otherStore.Close()
	otherJournal, err := journal.Open(otherStore, journal.Origin{2}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherPads, err := pad.New(otherStore, otherJournal, pad.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer otherPads.Close()
	if err := otherPads.Lock("atelier", true, "staff", "à relire"); err != nil {
		t.Fatal(err)
	}
	var entries []journal.Entry
	otherJournal.Since(journal.Origin{2}, 0, func(e journal.Entry) error { entries = append(entries, e); return nil })

	// This box's journal, as sync writes to it.
	here, err := journal.Open(st, journal.Origin{1}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := here.Ingest(entries...); err != nil {
		t.Fatal(err)
	}
	if err := pads.Apply(entries...); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.closedWith(); code != closeCodeLocked {
		t.Fatalf("an editor here when the lock arrives: closed with %d", code)
	}
	if !pads.Flags("atelier").Locked {
		t.Fatal("the pad is not locked here")
	}
}

// TestModerationLogPages: the log shows modPageSize actions a page, and
// links to the older ones and back.
func TestModerationLogPages(t *testing.T) {
	b, _, chats := modBox(t)
	_, _, c := b.login(staffPassword)
	staff := []*http.Cookie{c}
	for i := range modPageSize + 5 {
		if err := chats.Mute(fmt.Sprintf("nick%02d", i), "staff", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	_, body := b.do(req{target: "/admin/moderation", cookies: staff})
	if n := strings.Count(body, "<tr><td>"); n != modPageSize {
		t.Fatalf("the first page has %d actions", n)
	}
	if !strings.Contains(body, "nick54") || strings.Contains(body, "nick04") {
		t.Error("the first page does not hold the newest actions")
	}
	m := regexp.MustCompile(`href="/admin/moderation\?before=([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no link to older actions")
	}
	_, body = b.do(req{target: "/admin/moderation?before=" + m[1], cookies: staff})
	if n := strings.Count(body, "<tr><td>"); n != 5 || !strings.Contains(body, "nick00") || strings.Contains(body, "before=") ||
		!strings.Contains(body, `href="/admin/moderation"`) {
		t.Errorf("the second page has %d actions, or the wrong links", n)
	}
}

// The log names a linked box by the name staff gave it.
func TestModerationLogNamesLinkedBoxes(t *testing.T) {
	var j *journal.Journal
	b, _ := newStaffBox(t, staffPassword, func(o *Options) {
		var err error
		if j, err = journal.Open(o.Store, journal.Origin{1}, journal.Options{Logged: moderation.Kinds}); err != nil {
			t.Fatal(err)
		}
		o.Moderation = moderation.New(j)
		o.Peers = &fakePeers{linked: []PeerLinked{{DeviceID: otherID, Name: "Café des Possibles"}}}
	})
	other, err := protocol.DeviceIDFromString(otherID)
	if err != nil {
		t.Fatal(err)
	}
	mute := journal.Entry{Origin: journal.Origin(other), Seq: 1, Time: 1 << 20, Kind: chat.KindMute, Target: "chat", Author: "staff",
		Payload: []byte(`{"nick":"Zed","until":4102444800000}`)}
	if _, err := j.Ingest(mute); err != nil {
		t.Fatal(err)
	}
	_, _, c := b.login(staffPassword)
	_, body := b.do(req{target: "/admin/moderation", cookies: []*http.Cookie{c}})
	if !strings.Contains(body, "box Café des Possibles") {
		t.Fatalf("the log does not name the linked box:\n%s", body)
	}
}
