package pad

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/box/wal"
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
	b := openBox(t, dir, time.Hour)
	p, err := b.svc.Open("atelier-1")
	if err != nil {
		t.Fatal(err)
	}
	var seen [][]byte
	var mu sync.Mutex
	stop := p.Listen(func(u []byte, origin any) {
		if origin == "self" {
			return // what a connection does with its own edits
		}
		mu.Lock()
		seen = append(seen, u)
		mu.Unlock()
	})
	defer stop()
	c := newClient(100)
	for i, ch := range "Bonjour 👋" {
		_ = i
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), string(ch)), "ana", nil); err != nil {
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
	p.Apply(c.typeAt(0, ">"), "ana", "self")
	mu.Lock()
	if len(seen) != 9 {
		t.Errorf("the sender got its own update back")
	}
	mu.Unlock()

	// The window's edits become one journal entry.
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var n int
	b.j.Target(TargetPrefix+"atelier-1", func(journal.Entry) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d journal entries, want 1 coalesced", n)
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
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), s), "tom", nil); err != nil {
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
	if err := p.Apply([]byte{0xff, 0xff}, "", nil); !errors.Is(err, ydoc.ErrMalformed) {
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

// TestWindowFlushes: without an explicit flush, the timer writes the
// edits to the journal.
func TestWindowFlushes(t *testing.T) {
	b := openBox(t, t.TempDir(), 10*time.Millisecond)
	defer b.st.Close()
	p, _ := b.svc.Open("timer")
	c := newClient(3)
	if err := p.Apply(c.typeAt(0, "x"), "", nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		b.j.Target(TargetPrefix+"timer", func(journal.Entry) error { n++; return nil })
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the window never flushed")
		}
	}
	list, err := b.svc.List()
	if err != nil || len(list) != 1 || list[0].Name != "timer" || list[0].Title != "timer" {
		t.Fatalf("list %+v %v", list, err)
	}
}

func TestTitleAndServerEdits(t *testing.T) {
	b := openBox(t, t.TempDir(), time.Hour)
	defer b.st.Close()
	p, _ := b.svc.Open("soiree")
	err := p.Edit("staff", func(d *ydoc.Doc) error {
		if err := d.Map(MetaName).Set("title", "Soirée jeux"); err != nil {
			return err
		}
		return d.Text(ContentName).Insert(0, "# Soirée jeux\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Title() != "Soirée jeux" || p.Text() != "# Soirée jeux\n" {
		t.Fatalf("title %q text %q", p.Title(), p.Text())
	}
	b.svc.Close()
	list, _ := b.svc.List()
	if len(list) != 1 || list[0].Title != "Soirée jeux" {
		t.Fatalf("list %+v", list)
	}
	d, _ := b.svc.Rebuild("soiree")
	if d.Text(ContentName).String() != "# Soirée jeux\n" {
		t.Fatal("server edit not in the journal")
	}
}

func TestHistoryAndRestore(t *testing.T) {
	b := openBox(t, t.TempDir(), time.Hour)
	defer b.st.Close()
	p, _ := b.svc.Open("hist")
	c := newClient(9)
	steps := []string{"Première version. ", "Deuxième 😀. ", "Troisième."}
	for i, s := range steps {
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), s), fmt.Sprintf("author%d", i), nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	c.doc.Text(ContentName).Delete(0, 18)
	p.Apply(c.updates[len(c.updates)-1], "author3", nil)
	p.Flush()
	h, err := b.svc.History("hist")
	if err != nil || len(h) != 4 || h[0].Author != "author3" || h[3].Author != "author0" {
		t.Fatalf("history %+v %v", h, err)
	}
	text, v, err := b.svc.At("hist", h[2].ID)
	if err != nil || text != "Première version. Deuxième 😀. " || v.Author != "author1" {
		t.Fatalf("version 2: %q %+v %v", text, v, err)
	}
	if _, _, err := b.svc.At("hist", "nope-1"); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("unknown version: %v", err)
	}
	// Restore the second version: a new edit, and nothing erased.
	if err := b.svc.Restore("hist", h[2].ID, "staff"); err != nil {
		t.Fatal(err)
	}
	if p.Text() != "Première version. Deuxième 😀. " {
		t.Fatalf("restored %q", p.Text())
	}
	p.Flush()
	h2, _ := b.svc.History("hist")
	if len(h2) != 5 || h2[0].Author != "staff" {
		t.Fatalf("history after restore %+v", h2)
	}
	if text, _, _ := b.svc.At("hist", h[0].ID); text != "Deuxième 😀. Troisième." {
		t.Fatalf("the latest version before the restore is %q", text)
	}
}

func TestPadFull(t *testing.T) {
	b := openBox(t, t.TempDir(), time.Hour)
	defer b.st.Close()
	p, _ := b.svc.Open("big")
	c := newClient(4)
	chunk := strings.Repeat("x", 1<<20)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), chunk), "", nil)
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	if n := len(p.Text()); n >= MaxBytes || n < MaxBytes-2<<20 {
		t.Fatalf("pad holds %d bytes", n)
	}
}

// TestLargePastesFlushAndRestart: a second of large pastes fits one
// journal entry, and a box stopped before the flush starts again.
func TestLargePastesFlushAndRestart(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, time.Hour)
	p, _ := b.svc.Open("paste")
	c := newClient(12)
	chunk := strings.Repeat("y", 1<<20)
	for range 5 {
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), chunk), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	b.st.Close() // stopped before the flush
	b = openBox(t, dir, time.Hour)
	defer b.st.Close()
	p, err := b.svc.Open("paste")
	if err != nil || len(p.Text()) != 5<<20 {
		t.Fatalf("after restart: %d bytes, %v", len(p.Text()), err)
	}
}

// TestRefusedEditLeavesNoTrace: a box edit the pad refuses (it is full)
// changes nothing, in memory or on disk.
func TestRefusedEditLeavesNoTrace(t *testing.T) {
	b := openBox(t, t.TempDir(), time.Hour)
	defer b.st.Close()
	p, _ := b.svc.Open("full")
	c := newClient(13)
	chunk := strings.Repeat("z", 1<<20)
	for p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), chunk), "", nil) == nil {
	}
	before := p.Text()
	err := p.Edit("staff", func(d *ydoc.Doc) error {
		return d.Text(ContentName).Insert(0, strings.Repeat("!", 1<<20))
	})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	if p.Text() != before {
		t.Fatal("a refused edit changed the pad")
	}
}

// TestEditAppliedDuringAFlush: an edit applied while a flush writes stays
// pending, and the next flush journals it.
func TestEditAppliedDuringAFlush(t *testing.T) {
	b := openBox(t, t.TempDir(), time.Hour)
	p, _ := b.svc.Open("pendant")
	c := newClient(9)
	if err := p.Apply(c.typeAt(0, "avant "), "", nil); err != nil {
		t.Fatal(err)
	}
	testHookFlushing = func(p *Pad) {
		testHookFlushing = nil
		if err := p.Apply(c.typeAt(c.doc.Text(ContentName).Len(), "pendant"), "", nil); err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookFlushing = nil }()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if p.Text() != "avant pendant" {
		t.Fatalf("text %q", p.Text())
	}
	journaled, _ := b.svc.Rebuild("pendant")
	if got := journaled.Text(ContentName).String(); got != "avant " {
		t.Fatalf("after the first flush the journal holds %q", got)
	}
	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	journaled, _ = b.svc.Rebuild("pendant")
	if got := journaled.Text(ContentName).String(); got != "avant pendant" {
		t.Fatalf("after a clean stop the journal holds %q", got)
	}
	if n := walCount(t, b.st); n != 0 {
		t.Fatalf("%d write-ahead records left after a clean stop", n)
	}
	b.st.Close()
}

// walCount counts the write-ahead records a start would read: in the
// log's files, and in the bucket of earlier versions.
func walCount(t *testing.T, st *store.Store) int {
	t.Helper()
	recs, err := wal.Read(filepath.Join(st.Dir(), "pad-wal"))
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs)
	st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketPadWAL).ForEach(func(k, v []byte) error { n++; return nil })
	})
	return n
}

// TestEditsWhileFlushing: edits keep coming from four clients while the
// timer flushes (every millisecond here); after a clean stop the journal
// alone holds every one of them, and the write-ahead log is empty. Run
// with -race, it also checks the flush's locking.
func TestEditsWhileFlushing(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, time.Millisecond)
	p, _ := b.svc.Open("busy")
	var mu sync.Mutex
	var all [][]byte
	var wg sync.WaitGroup
	for id := range 4 {
		wg.Go(func() {
			c := newClient(uint64(100 + id))
			for i := range 60 {
				u := c.typeAt(0, fmt.Sprintf("%d.%d ", id, i))
				if err := p.Apply(u, fmt.Sprint("author", id), nil); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, u)
				mu.Unlock()
				if i%10 == 0 {
					time.Sleep(time.Millisecond) // let a flush start
				}
			}
		})
	}
	wg.Wait()
	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	want := ydoc.NewDoc(ydoc.Options{ClientID: 1})
	for _, u := range all {
		if err := want.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.svc.Rebuild("busy")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := got.Text(ContentName).String(), want.Text(ContentName).String(); g != w {
		t.Fatalf("the journal holds %d characters, %d were typed", len(g), len(w))
	}
	var entries int
	b.j.Target(TargetPrefix+"busy", func(journal.Entry) error { entries++; return nil })
	if wal := walCount(t, b.st); wal != 0 || entries < 2 {
		t.Fatalf("%d journal entries (want several), %d write-ahead records left (want none)", entries, wal)
	}
	b.st.Close()
}

// TestUnreadableWriteAheadRecordIsDropped: a write-ahead update that does
// not apply, or a record that does not decode (written by a damaged disk,
// say), is dropped at start-up, with the readable ones of the same pad
// journaled, and is not read again at the next start.
func TestUnreadableWriteAheadRecordIsDropped(t *testing.T) {
	dir := t.TempDir()
	c := newClient(4)
	good := c.typeAt(0, "lisible")
	l, _, err := wal.Open(filepath.Join(dir, "pad-wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range [][]byte{
		encodeWAL("abimee", "", []byte{0xff, 0x01, 0x02}),
		encodeWAL("seule", "", []byte{0xff}),
		{0xff, 0xff},                  // no name
		encodeWAL("../etc", "", good), // not a pad's name
		encodeWAL("abimee", "", good),
	} {
		if _, err := l.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	// Not closed, as after a crash.

	b := openBox(t, dir, time.Hour)
	p, _ := b.svc.Open("abimee")
	if p.Text() != "lisible" {
		t.Fatalf("recovered text %q", p.Text())
	}
	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if n := walCount(t, b.st); n != 0 {
		t.Fatalf("%d write-ahead records left after start-up and a clean stop", n)
	}
	b.st.Close()
}

// TestRecoveryJournalsEachEditOnce: after a crash the log still holds
// records already journaled (a segment goes only once all its records
// are); recovery journals only the edits the journal lacks, and none
// twice.
func TestRecoveryJournalsEachEditOnce(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, time.Hour)
	p, _ := b.svc.Open("relance")
	c := newClient(21)
	d := newClient(22)
	entries := func(b *testBox) int {
		n := 0
		b.j.Target(TargetPrefix+"relance", func(journal.Entry) error { n++; return nil })
		return n
	}
	for _, s := range []string{"un ", "deux "} {
		if err := p.Apply(c.typeAt(0, s), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	// A deletion only, and another client's insertion: neither journaled.
	c.updates = nil
	c.doc.Text(ContentName).Delete(0, 3)
	if err := p.Apply(c.updates[0], "", nil); err != nil {
		t.Fatal(err)
	}
	d.doc.ApplyUpdate(c.doc.EncodeStateAsUpdate(nil))
	if err := p.Apply(d.typeAt(0, "trois "), "", nil); err != nil {
		t.Fatal(err)
	}
	want := p.Text()
	if n, err := Waiting(dir); n != 4 || err != nil {
		t.Fatalf("%d records in the log (%v), want the 4 of its one segment", n, err)
	}
	b.st.Close() // a crash: no flush, the log left open

	b = openBox(t, dir, time.Hour)
	p, _ = b.svc.Open("relance")
	if p.Text() != want {
		t.Fatalf("recovered %q, want %q", p.Text(), want)
	}
	if n := entries(b); n != 2 {
		t.Fatalf("%d journal entries, want the flush's and the recovery's", n)
	}
	// The recovery's entry holds only what the first lacks: the other
	// client's text, not the first two edits again.
	var last []byte
	b.j.Target(TargetPrefix+"relance", func(e journal.Entry) error { last = e.Payload; return nil })
	if !bytes.Contains(last, []byte("trois")) || bytes.Contains(last, []byte("deux")) {
		t.Fatalf("the recovery's entry: %q", last)
	}

	// A crash right after the recovery: every record is journaled by
	// then, their segment gone, and the next start adds nothing.
	b.st.Close()
	b = openBox(t, dir, time.Hour)
	p, _ = b.svc.Open("relance")
	if p.Text() != want || entries(b) != 2 {
		t.Fatalf("after a second start: %q, %d entries", p.Text(), entries(b))
	}
	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if n := walCount(t, b.st); n != 0 {
		t.Fatalf("%d records left after a clean stop", n)
	}
	if n, err := Waiting(dir); n != 0 || err != nil {
		t.Fatalf("Waiting after a clean stop: %d, %v", n, err)
	}
	b.st.Close()
	if n, err := Waiting(t.TempDir()); n != 0 || err != nil {
		t.Fatalf("Waiting in a data folder without a log: %d, %v", n, err)
	}
}

// TestJournaledRecordsAreLetGo: a crash after a flush leaves its records
// in the segment appends still go to; the next start finds the pad holds
// them and journals nothing.
func TestJournaledRecordsAreLetGo(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, time.Hour)
	p, _ := b.svc.Open("fait")
	c := newClient(23)
	for _, s := range []string{"un ", "deux "} {
		if err := p.Apply(c.typeAt(0, s), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	want := p.Text()
	b.st.Close() // a crash
	if n, err := Waiting(dir); n != 2 || err != nil {
		t.Fatalf("%d records in the log (%v), want the 2 journaled", n, err)
	}

	b = openBox(t, dir, time.Hour)
	defer b.st.Close()
	p, _ = b.svc.Open("fait")
	n := 0
	b.j.Target(TargetPrefix+"fait", func(journal.Entry) error { n++; return nil })
	if p.Text() != want || n != 1 {
		t.Fatalf("after the start: %q, %d journal entries (want the flush's only)", p.Text(), n)
	}
}

// TestEarlierWriteAheadBucketIsRecovered: edits that an earlier version of
// the box kept in the database's pad_wal bucket when it crashed are
// journaled at the next start, and the bucket emptied, even when that
// version's cache held them already (it wrote pending edits there).
func TestEarlierWriteAheadBucketIsRecovered(t *testing.T) {
	dir := t.TempDir()
	b := openBox(t, dir, time.Hour)
	c := newClient(5)
	update := c.typeAt(0, "d'avant")
	err := b.st.Update(func(tx *bolt.Tx) error {
		v := binary.AppendUvarint(nil, uint64(len("ancienne")))
		v = append(append(v, "ancienne"...), update...)
		k := binary.BigEndian.AppendUint64([]byte("vieux\x00"), 3)
		if err := tx.Bucket(store.BucketPadWAL).Put(k, v); err != nil {
			return err
		}
		return writeCache(tx, "vieux", c.doc.EncodeStateAsUpdate(nil), "vieux", nil, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	b.svc.Close()
	b.st.Close()

	b = openBox(t, dir, time.Hour)
	defer b.st.Close()
	p, _ := b.svc.Open("vieux")
	if p.Text() != "d'avant" {
		t.Fatalf("recovered %q", p.Text())
	}
	var authors []string
	b.j.Target(TargetPrefix+"vieux", func(e journal.Entry) error { authors = append(authors, e.Author); return nil })
	if fmt.Sprint(authors) != "[ancienne]" {
		t.Fatalf("journal entries by %q", authors)
	}
	if n := walCount(t, b.st); n != 0 {
		t.Fatalf("%d records left", n)
	}
}

// FuzzDecodeWAL: whatever a record holds, decoding it gives an error or a
// valid pad name, never a panic; what encodeWAL writes decodes back.
func FuzzDecodeWAL(f *testing.F) {
	f.Add("atelier", "Zoé", []byte{0, 0})
	f.Add("", "", []byte(nil))
	f.Fuzz(func(t *testing.T, name, author string, update []byte) {
		if n, _, err := decodeWAL(update); err == nil && !ValidName(n) {
			t.Fatalf("decoded the name %q", n)
		}
		n, r, err := decodeWAL(encodeWAL(name, author, update))
		if ValidName(name) != (err == nil) {
			t.Fatalf("name %q: %v", name, err)
		}
		if err == nil && (n != name || r.Author != author || !bytes.Equal(r.Update, update)) {
			t.Fatalf("read back %q %q %x", n, r.Author, r.Update)
		}
	})
}
