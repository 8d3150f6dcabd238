package moderation

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/journal"
	"tiersbox/box/pad"
	"tiersbox/box/store"
)

// TestLogListsActionsNewestFirst: staff actions made here through the
// services, and one made at a linked box, read back newest first and
// paged; visitors' own messages and edits are not in the log.
func TestLogListsActionsNewestFirst(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := journal.Open(st, journal.Origin{1}, journal.Options{Logged: Kinds})
	if err != nil {
		t.Fatal(err)
	}
	chats, err := chat.New(st, j, chat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pads, err := pad.New(st, j, pad.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pads.Close()
	m, err := chats.Post(chat.Default, "v1", "Ana", "bonjour")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return chats.Remove(m.ID, "staff") },
		func() error { return chats.MuteNote("Ana", "staff", time.Now().Add(time.Hour), "insultes") },
		func() error { return pads.Lock("atelier", true, "staff", "on relit") },
		func() error { return chats.Mute("Ana", "staff", time.Now().Add(-time.Minute)) },
		func() error { return pads.Archive("atelier", true, "staff", "") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// A linked box hid a file, later than all of it.
	p, _ := json.Marshal(drive.PathPayload{Path: "photos/a.jpg"})
	far := journal.Time(time.Now().Add(time.Minute).UnixMilli()) << 16
	if _, err := j.Ingest(journal.Entry{Origin: journal.Origin{2}, Seq: 1, Time: far, Kind: drive.KindHide, Target: drive.TargetPrefix + "photos/a.jpg", Author: "staff", Payload: p}); err != nil {
		t.Fatal(err)
	}

	l := New(j)
	var got []string
	var pos journal.LogPos
	for range 10 {
		page, more, err := l.Page(pos, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			got = append(got, fmt.Sprintf("%s %s%s %q", a.Verb, a.Target, a.Nick, a.Note))
			pos = a.Pos
		}
		// The position survives a URL.
		if back, ok := ParseCursor(Cursor(pos)); !ok || back != pos {
			t.Fatalf("cursor %q reads back as %+v", Cursor(pos), back)
		}
		if !more {
			break
		}
	}
	want := []string{
		`drive.hide photos/a.jpg ""`,
		`pad.archive atelier ""`,
		`chat.unmute ana ""`,
		`pad.lock atelier "on relit"`,
		`chat.mute ana "insultes"`,
		`chat.remove général ""`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("log\n%q\nwant\n%q", got, want)
	}
}

func TestParseCursorRefusesNonsense(t *testing.T) {
	for _, s := range []string{"x", "1-2-3", "1-" + fmt.Sprintf("%064x", 0) + "-x", "-1-2"} {
		if _, ok := ParseCursor(s); ok {
			t.Errorf("ParseCursor(%q) accepted", s)
		}
	}
}
