package pad

import (
	"slices"
	"sync"
	"testing"
	"time"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/box/ydoc"
)

// openBoxAs opens the box of origin in dir, as openBox does for this
// package's usual origin.
func openBoxAs(t *testing.T, dir string, origin journal.Origin, window time.Duration) *testBox {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(st, origin, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(st, j, Options{Window: window})
	if err != nil {
		t.Fatal(err)
	}
	return &testBox{st, j, svc}
}

// syncJournal copies to box to the entries of from's journal that it lacks, as
// box-to-box sync does, and returns them. It does not call Apply.
func syncJournal(t *testing.T, from, to *testBox) []journal.Entry {
	t.Helper()
	heads, err := to.j.Heads()
	if err != nil {
		t.Fatal(err)
	}
	var es []journal.Entry
	from.j.Since(from.j.Origin(), heads[from.j.Origin()], func(e journal.Entry) error { es = append(es, e); return nil })
	if _, err := to.j.Ingest(es...); err != nil {
		t.Fatal(err)
	}
	return es
}

// recorder keeps what a pad's listener receives.
type recorder struct {
	mu      sync.Mutex
	updates [][]byte
	origins []any
}

func (r *recorder) listen(u []byte, origin any) {
	r.mu.Lock()
	r.updates = append(r.updates, u)
	r.origins = append(r.origins, origin)
	r.mu.Unlock()
}

func (r *recorder) take() ([][]byte, []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, o := r.updates, r.origins
	r.updates, r.origins = nil, nil
	return u, o
}

func ownEntries(t *testing.T, b *testBox) int {
	t.Helper()
	n := 0
	b.j.Since(b.j.Origin(), 0, func(journal.Entry) error { n++; return nil })
	return n
}

func listed(t *testing.T, b *testBox) map[string]Info {
	t.Helper()
	list, err := b.svc.List()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]Info)
	for _, i := range list {
		out[i.Name] = i
	}
	return out
}

// TestApplyFromAnotherBox: box B takes in box A's pad edits. A browser
// with the pad open at B receives them; the pad is listed at B with its
// title; B's journal gains nothing of its own; all of it survives a
// restart.
func TestApplyFromAnotherBox(t *testing.T) {
	a := openBoxAs(t, t.TempDir(), journal.Origin{1}, time.Hour)
	defer a.st.Close()
	dirB := t.TempDir()
	b := openBoxAs(t, dirB, journal.Origin{2}, time.Hour)

	pa, _ := a.svc.Open("atelier")
	ca := newClient(100)
	if err := pa.Apply(ca.typeAt(0, "Bonjour de A. "), "ana", nil); err != nil {
		t.Fatal(err)
	}
	pa.Edit("staff", func(d *ydoc.Doc) error { return d.Map(MetaName).Set("title", "Atelier vélo") })
	if err := pa.Flush(); err != nil {
		t.Fatal(err)
	}

	// A browser at B has the pad open, empty so far.
	pb, _ := b.svc.Open("atelier")
	browser := ydoc.NewDoc(ydoc.Options{ClientID: 200})
	var rec recorder
	stop := pb.Listen(rec.listen)
	defer stop()

	es := syncJournal(t, a, b)
	if err := b.svc.Apply(es...); err != nil {
		t.Fatal(err)
	}
	if pb.Text() != pa.Text() || pb.Title() != "Atelier vélo" {
		t.Fatalf("B has %q titled %q, A has %q", pb.Text(), pb.Title(), pa.Text())
	}
	updates, origins := rec.take()
	if len(updates) != len(es) {
		t.Errorf("the listener got %d updates for %d entries", len(updates), len(es))
	}
	for i, u := range updates {
		if origins[i] != nil {
			t.Errorf("update %d passed with origin %v, want nil", i, origins[i])
		}
		if err := browser.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if got := browser.Text(ContentName).String(); got != pa.Text() {
		t.Errorf("the browser at B shows %q", got)
	}
	if info, ok := listed(t, b)["atelier"]; !ok || info.Title != "Atelier vélo" || !info.Updated.Equal(es[len(es)-1].Time.Wall()) {
		t.Errorf("B lists %+v", listed(t, b))
	}

	// Again: nothing changes, nothing is passed on.
	if err := b.svc.Apply(es...); err != nil {
		t.Fatal(err)
	}
	if u, _ := rec.take(); len(u) != 0 {
		t.Errorf("applying again passed %d updates", len(u))
	}
	if n := ownEntries(t, b); n != 0 {
		t.Errorf("B appended %d entries", n)
	}

	// A pad written only at A, never opened at B, is listed at B.
	pa2, _ := a.svc.Open("compte-rendu")
	pa2.Edit("staff", func(d *ydoc.Doc) error {
		d.Map(MetaName).Set("title", "Compte rendu")
		return d.Text(ContentName).Insert(0, "Présents : 12")
	})
	pa2.Flush()
	// Entries of other kinds and of B's own origin are ignored.
	b.svc.Apply(journal.Entry{Origin: journal.Origin{2}, Seq: 1, Kind: KindUpdate, Target: TargetPrefix + "x"})
	es = syncJournal(t, a, b)
	if err := b.svc.Apply(es...); err != nil {
		t.Fatal(err)
	}
	if info, ok := listed(t, b)["compte-rendu"]; !ok || info.Title != "Compte rendu" {
		t.Errorf("B lists %+v", listed(t, b))
	}

	if err := b.svc.Close(); err != nil {
		t.Fatal(err)
	}
	b.st.Close()
	b = openBoxAs(t, dirB, journal.Origin{2}, time.Hour)
	defer b.st.Close()
	for name, want := range map[string]string{"atelier": "Bonjour de A. ", "compte-rendu": "Présents : 12"} {
		p, _ := b.svc.Open(name)
		if p.Text() != want {
			t.Errorf("after a restart B's %s holds %q", name, p.Text())
		}
	}
	if n := ownEntries(t, b); n != 0 {
		t.Errorf("B appended %d entries", n)
	}
}

// TestApplyKeepsLocalEdits: edits from another box arriving during the
// coalescing window of local edits are merged in memory, while the local
// edits still become one entry of this box; after a restart, from the
// cache or from the journal alone, the pad holds both.
func TestApplyKeepsLocalEdits(t *testing.T) {
	a := openBoxAs(t, t.TempDir(), journal.Origin{1}, time.Hour)
	defer a.st.Close()
	dirB := t.TempDir()
	b := openBoxAs(t, dirB, journal.Origin{2}, time.Hour)

	pa, _ := a.svc.Open("notes")
	ca := newClient(100)
	pa.Apply(ca.typeAt(0, "AAA"), "ana", nil)
	pa.Flush()
	es := syncJournal(t, a, b)
	b.svc.Apply(es...)

	pb, _ := b.svc.Open("notes")
	cb := newClient(300)
	cb.doc.ApplyUpdate(pb.doc.EncodeStateAsUpdate(nil))
	if err := pb.Apply(cb.typeAt(3, "bbb"), "bob", nil); err != nil { // pending in B's window
		t.Fatal(err)
	}
	ca.doc.Text(ContentName).Insert(0, ">")
	pa.Apply(ca.updates[len(ca.updates)-1], "ana", nil)
	pa.Flush()
	es = syncJournal(t, a, b)
	// Only the last entry is passed: the missed ones are read too.
	if err := b.svc.Apply(es[len(es)-1]); err != nil {
		t.Fatal(err)
	}
	if pb.Text() != ">AAAbbb" {
		t.Fatalf("B holds %q", pb.Text())
	}
	if n := ownEntries(t, b); n != 0 {
		t.Fatalf("the remote edit flushed B's window: %d entries", n)
	}
	if err := pb.Flush(); err != nil {
		t.Fatal(err)
	}
	var authors []string
	b.j.Since(b.j.Origin(), 0, func(e journal.Entry) error { authors = append(authors, e.Author); return nil })
	if !slices.Equal(authors, []string{"bob"}) {
		t.Errorf("B's own entries by %q, want one by bob", authors)
	}

	// More from A, then a stop before B's next flush.
	ca.doc.Text(ContentName).Insert(ca.doc.Text(ContentName).Len(), "!")
	pa.Apply(ca.updates[len(ca.updates)-1], "ana", nil)
	pa.Flush()
	b.svc.Apply(syncJournal(t, a, b)...)
	want := pb.Text() // "!" goes where Yjs puts concurrent inserts
	if len(want) != len(">AAAbbb!") {
		t.Fatalf("B holds %q", want)
	}
	b.svc.Close()
	b.st.Close()
	b = openBoxAs(t, dirB, journal.Origin{2}, time.Hour)
	defer b.st.Close()
	p, _ := b.svc.Open("notes")
	d, _ := b.svc.Rebuild("notes")
	if p.Text() != want || d.Text(ContentName).String() != want {
		t.Errorf("after a restart %q, from the journal alone %q", p.Text(), d.Text(ContentName).String())
	}
}

// TestCatchUpAtStart: a stop between Ingest and Apply loses nothing: the
// next start lists the pad, and an open pad reads what it lacks.
func TestCatchUpAtStart(t *testing.T) {
	a := openBoxAs(t, t.TempDir(), journal.Origin{1}, time.Hour)
	defer a.st.Close()
	dirB := t.TempDir()
	b := openBoxAs(t, dirB, journal.Origin{2}, time.Hour)
	pa, _ := a.svc.Open("programme")
	pa.Edit("", func(d *ydoc.Doc) error { return d.Text(ContentName).Insert(0, "10h : accueil") })
	pa.Flush()
	syncJournal(t, a, b) // no Apply
	b.st.Close()
	b = openBoxAs(t, dirB, journal.Origin{2}, time.Hour)
	defer b.st.Close()
	if info, ok := listed(t, b)["programme"]; !ok || info.Title != "programme" {
		t.Fatalf("B lists %+v", listed(t, b))
	}
	p, _ := b.svc.Open("programme")
	if p.Text() != "10h : accueil" {
		t.Errorf("B holds %q", p.Text())
	}
}

// TestPendingEditSurvivesACatchUpAndACrash: another box's entry arrives
// while an edit of this box waits for its journal entry; the pad's cache
// written then must not hold that edit, or recovery after a crash would
// find it covered and never journal it.
func TestPendingEditSurvivesACatchUpAndACrash(t *testing.T) {
	dirA := t.TempDir()
	a := openBoxAs(t, dirA, journal.Origin{1}, time.Hour)
	b := openBoxAs(t, t.TempDir(), journal.Origin{2}, time.Hour)
	defer b.st.Close()
	pa, _ := a.svc.Open("partage")
	pb, _ := b.svc.Open("partage")
	here, there := newClient(31), newClient(32)
	if err := pb.Apply(there.typeAt(0, "de là-bas "), "", nil); err != nil {
		t.Fatal(err)
	}
	if err := pb.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := pa.Apply(here.typeAt(0, "d'ici "), "", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.svc.Apply(syncJournal(t, b, a)...); err != nil {
		t.Fatal(err)
	}
	want := pa.Text()
	a.st.Close() // a crash: the edit of this box is not journaled

	a = openBoxAs(t, dirA, journal.Origin{1}, time.Hour)
	defer a.st.Close()
	journaled, err := a.svc.Rebuild("partage")
	if err != nil {
		t.Fatal(err)
	}
	if got := journaled.Text(ContentName).String(); got != want {
		t.Fatalf("the journal holds %q after recovery, the pad held %q", got, want)
	}
}
