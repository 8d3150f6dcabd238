package privacy

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/journal"
	"tiersbox/box/store"
)

type testBox struct {
	j     *journal.Journal
	chat  *chat.Service
	drive *drive.Service
	priv  *Service
	now   time.Time
}

func newBox(t *testing.T, origin journal.Origin) *testBox {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &testBox{now: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return b.now }
	b.j, err = journal.Open(st, origin, journal.Options{Now: clock, Erasable: []journal.Kind{chat.KindPost, drive.KindFile}})
	if err != nil {
		t.Fatal(err)
	}
	if b.chat, err = chat.New(st, b.j, chat.Options{Now: clock}); err != nil {
		t.Fatal(err)
	}
	b.drive, err = drive.New(st, b.j, drive.Options{Dir: filepath.Join(dir, "drive"), TmpDir: filepath.Join(dir, "tmp"), ThumbDir: filepath.Join(dir, "thumbs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.drive.Close() })
	b.priv = New(b.j, b.chat, b.drive, nil)
	return b
}

func (b *testBox) post(t *testing.T, author, nick, text string) chat.Message {
	t.Helper()
	b.now = b.now.Add(time.Minute)
	m, err := b.chat.Post(chat.Default, author, nick, text)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (b *testBox) texts(t *testing.T) string {
	t.Helper()
	var out []string
	b.chat.All(chat.Default, func(m chat.Message) error { out = append(out, m.Text); return nil })
	return strings.Join(out, "|")
}

// A visitor downloads what they made, erases it, and it is gone from
// what visitors read and from the journal, while others' words stay.
func TestCollectAndErase(t *testing.T) {
	b := newBox(t, journal.Origin{1})
	b.post(t, "ana-id", "Ana", "bonjour, mon numéro est le 0612")
	b.post(t, "tom-id", "Tom", "salut Ana")
	b.post(t, "ana-id", "Ana", "à demain")
	f, err := b.drive.Upload(context.Background(), drive.UploadRequest{Name: "cv-ana.pdf", Author: "ana-id", Nickname: "Ana"}, strings.NewReader("%PDF-1.4 ana"))
	if err != nil {
		t.Fatal(err)
	}

	c, err := b.priv.Collect("ana-id")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 2 || c.Messages[0].Text != "bonjour, mon numéro est le 0612" || !c.Messages[0].Shown || c.Messages[0].Nickname != "Ana" {
		t.Fatalf("messages %+v", c.Messages)
	}
	if len(c.Files) != 1 || c.Files[0].Path != f.Path || !c.Files[0].InDrive || c.Files[0].SHA256 != f.SHA256 {
		t.Fatalf("files %+v", c.Files)
	}
	if other, _ := b.priv.Collect("nobody"); len(other.Messages)+len(other.Files) != 0 {
		t.Fatalf("a stranger's download holds %+v", other)
	}

	got, err := b.priv.Erase("ana-id")
	if err != nil {
		t.Fatal(err)
	}
	if got.Messages != 2 || got.Files != 1 {
		t.Fatalf("erased %+v", got)
	}
	if txt := b.texts(t); txt != "salut Ana" {
		t.Fatalf("channel after erasure: %q", txt)
	}
	if _, err := b.drive.Stat(f.Path); err == nil {
		t.Fatal("the file is still in the drive")
	}
	b.j.Since(b.j.Origin(), 0, func(e journal.Entry) error {
		if bytes.Contains(e.Encode(), []byte("0612")) || bytes.Contains(e.Encode(), []byte("%PDF")) {
			t.Errorf("entry %d still holds the words: %+v", e.Seq, e)
		}
		return nil
	})
	after, _ := b.priv.Collect("ana-id")
	if len(after.Messages) != 0 || len(after.Files) != 0 || len(after.Erasures) != 1 {
		t.Fatalf("after erasure: %+v", after)
	}
	// A rebuild from the journal alone gives the same channel.
	if err := b.chat.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if txt := b.texts(t); txt != "salut Ana" {
		t.Fatalf("channel after rebuild: %q", txt)
	}
}

// An erasure asked at another box hides the visitor's messages at once
// and, when it reaches the messages' box, erases them there; it cannot
// touch anyone else's.
func TestEraseFromAnotherBox(t *testing.T) {
	a, b := newBox(t, journal.Origin{1}), newBox(t, journal.Origin{2})
	a.post(t, "ana-id", "Ana", "secret d'Ana")
	a.post(t, "tom-id", "Tom", "message de Tom")
	copyAll := func(from, to *testBox) {
		t.Helper()
		var es []journal.Entry
		from.j.Since(from.j.Origin(), 0, func(e journal.Entry) error { es = append(es, e); return nil })
		if _, err := to.j.Ingest(es...); err != nil {
			t.Fatal(err)
		}
		if err := to.chat.Apply(es...); err != nil {
			t.Fatal(err)
		}
	}
	copyAll(a, b)
	if txt := b.texts(t); txt != "secret d'Ana|message de Tom" {
		t.Fatalf("b reads %q", txt)
	}
	// A forged request at b in Ana's name for Tom's message: Tom's stays.
	var tomRef journal.Ref
	a.j.Since(a.j.Origin(), 0, func(e journal.Entry) error {
		if e.Author == "tom-id" {
			tomRef = journal.Ref{Origin: e.Origin, Seq: e.Seq}
		}
		return nil
	})
	if _, err := b.priv.Erase("ana-id"); err != nil {
		t.Fatal(err)
	}
	forged, _ := b.j.Append(journal.EraseDrafts("ana-id", []journal.Ref{tomRef})...)
	b.chat.Apply(forged...)
	if txt := b.texts(t); txt != "message de Tom" {
		t.Fatalf("b after erasure: %q", txt)
	}
	copyAll(b, a)
	if txt := a.texts(t); txt != "message de Tom" {
		t.Fatalf("a after erasure: %q", txt)
	}
	a.j.Since(a.j.Origin(), 0, func(e journal.Entry) error {
		if e.Kind == chat.KindPost && e.Erased != (e.Seq == 1) {
			t.Errorf("entry %d erased=%v", e.Seq, e.Erased)
		}
		return nil
	})
}

// Retention erases this box's messages older than the limit, and only
// those.
func TestExpire(t *testing.T) {
	b := newBox(t, journal.Origin{1})
	b.post(t, "ana-id", "Ana", "vieux")
	b.now = b.now.Add(48 * time.Hour)
	b.post(t, "tom-id", "Tom", "récent")
	n, err := b.priv.Expire(b.now.Add(-24 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v", n, err)
	}
	if txt := b.texts(t); txt != "récent" {
		t.Fatalf("after retention: %q", txt)
	}
	if n, _ := b.priv.Expire(b.now.Add(-24 * time.Hour)); n != 0 {
		t.Fatalf("expired again: %d", n)
	}
}
