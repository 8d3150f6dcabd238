package pad

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/box/ydoc"
)

type testBox struct {
	st  *store.Store
	j   *journal.Journal
	svc *Service
}

func openBox(t *testing.T, dir string, window time.Duration) *testBox {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(st, journal.Origin{7}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(st, j, Options{Window: window})
	if err != nil {
		t.Fatal(err)
	}
	return &testBox{st, j, svc}
}

// client is a browser's Yjs document.
type client struct {
	doc     *ydoc.Doc
	updates [][]byte
}

func newClient(id uint64) *client {
	c := &client{doc: ydoc.NewDoc(ydoc.Options{ClientID: id})}
	c.doc.OnUpdate(func(u []byte) { c.updates = append(c.updates, bytes.Clone(u)) })
	return c
}

func (c *client) typeAt(pos int, s string) []byte {
	c.updates = nil
	c.doc.Text(ContentName).Insert(pos, s)
	return c.updates[0]
}

func TestCoalescingAndReload(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, 50*time.Millisecond)
	p, err := b.svc.Open("atelier-1")
	if err != nil {
		t.Fatal(err)
	}
	var seen [][]byte
	var mu sync.Mutex
	id, stop := p.Listen(func(u []byte) { mu.Lock(); seen = append(seen, u); mu.Unlock() })
	defer stop()
	c := newClient(100)
	for i, ch := range "Bonjour 👋" {
		_ = i
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), string(ch)), "ana", -1); err != nil {
			t.Fatal(err)
		}
	}
	if p.Text() != "Bonjour 👋" {
		t.Fatalf("text %q", p.Text())
	}
	mu.Lock()
	if len(seen) != 9 {
		t.Errorf("listener saw %d updates, want 9", len(seen))
	}
	mu.Unlock()
	// The sender is not echoed its own update.
	p.Apply(c.typeAt(0, ">"), "ana", id)
	mu.Lock()
	if len(seen) != 9 {
		t.Errorf("the sender got its own update back")
	}
	mu.Unlock()

	// After the window, the edits are one journal entry.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		b.j.Target(TargetPrefix+"atelier-1", func(journal.Entry) error { n++; return nil })
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d journal entries, want 1 coalesced", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	b.st.Close()

	// Reopened: from the cache, and from the journal alone.
	b = openBox(t, dir, time.Hour)
	defer b.st.Close()
	p, _ = b.svc.Open("atelier-1")
	if p.Text() != ">Bonjour 👋" {
		t.Fatalf("reloaded %q", p.Text())
	}
	d, err := b.svc.Rebuild("atelier-1")
	if err != nil || d.Text(ContentName).String() != ">Bonjour 👋" {
		t.Fatalf("rebuilt %q %v", d.Text(ContentName).String(), err)
	}
}

// TestCrashKeepsAcknowledgedEdits: edits that Apply accepted survive a
// stop before they reached the journal.
func TestCrashKeepsAcknowledgedEdits(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, time.Hour) // never flushed by the timer
	p, _ := b.svc.Open("notes")
	c := newClient(5)
	for _, s := range []string{"un ", "deux ", "trois"} {
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), s), "tom", -1); err != nil {
			t.Fatal(err)
		}
	}
	// No Close: as after a power cut.
	b.st.Close()
	b = openBox(t, dir, time.Hour)
	defer b.st.Close()
	var entries []journal.Entry
	b.j.Target(TargetPrefix+"notes", func(e journal.Entry) error { entries = append(entries, e); return nil })
	if len(entries) != 1 || entries[0].Author != "tom" {
		t.Fatalf("recovered entries %+v", entries)
	}
	p, _ = b.svc.Open("notes")
	if p.Text() != "un deux trois" {
		t.Fatalf("recovered text %q", p.Text())
	}
}

func TestBadInput(t *testing.T) {
	b := openBox(t, t.TempDir(), time.Hour)
	defer b.st.Close()
	for _, name := range []string{"", "../etc", "a b", "é", string(make([]byte, 65))} {
		if _, err := b.svc.Open(name); !errors.Is(err, ErrName) {
			t.Errorf("Open(%q): %v", name, err)
		}
	}
	p, _ := b.svc.Open("x")
	if err := p.Apply([]byte{0xff, 0xff}, "", -1); !errors.Is(err, ydoc.ErrMalformed) {
		t.Fatalf("malformed update: %v", err)
	}
	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	b.j.Target(TargetPrefix+"x", func(journal.Entry) error { n++; return nil })
	if n != 0 {
		t.Fatal("a malformed update reached the journal")
	}
}
