package drive

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersbox/box/journal"
)

// place puts a file at path in the drive folder as sync does: written
// aside, then renamed into place, with the given modification time.
func (b *testBox) place(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	final := filepath.Join(b.dir(), filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(final), ".syncthing."+filepath.Base(final)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		t.Fatal(err)
	}
}

// changes records what OnChange tells.
type changes struct {
	mu    sync.Mutex
	paths []string
}

func (c *changes) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.paths
	c.paths = nil
	return p
}

func (c *changes) watch(b *testBox) {
	b.svc.OnChange(func(p string) {
		c.mu.Lock()
		c.paths = append(c.paths, p)
		c.mu.Unlock()
	})
}

var pdf = "%PDF-1.4\n" + strings.Repeat("p", 600)

// arrived tells the drive that sync placed files at paths, with nothing
// more known of them.
func (b *testBox) arrived(paths ...string) error {
	files := make([]Arrival, len(paths))
	for i, p := range paths {
		files[i] = Arrival{Path: p}
	}
	return b.svc.Received(files...)
}

func TestArrived(t *testing.T) {
	when := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	tests := []struct {
		name    string
		journal func(r *remote) []journal.Entry // applied first
		path    string                          // placed, unless missing
		content string
		missing bool
		// want is what Stat(path) gives; nil: not listed.
		want func(t *testing.T, f File)
	}{
		{
			name: "no record", path: "docs/compte rendu.pdf", content: pdf,
			want: func(t *testing.T, f File) {
				if !f.Arrived || f.Size != int64(len(pdf)) || f.SHA256 != sum(pdf) || f.ContentType != "application/pdf" ||
					!f.Time.Equal(when) || f.Author != "" || f.Nickname != "" || f.Licence != "" || f.Origin != (journal.Origin{}) ||
					f.Folder != "docs" || f.Name != "compte rendu.pdf" {
					t.Errorf("listed %+v", f)
				}
			},
		},
		{
			name: "type from the name when the content says nothing", path: "notes.md", content: "# Notes\n",
			want: func(t *testing.T, f File) {
				if !f.Arrived || f.ContentType != "text/markdown; charset=utf-8" {
					t.Errorf("listed %+v", f)
				}
			},
		},
		{
			name:    "record with that content",
			journal: func(r *remote) []journal.Entry { return []journal.Entry{r.file("a.txt", "from afar")} },
			path:    "a.txt", content: "from afar",
			want: func(t *testing.T, f File) {
				if f.Arrived || f.Nickname != "Bo" || f.Author != "v-remote" {
					t.Errorf("listed %+v", f)
				}
			},
		},
		{
			name:    "record with other content",
			journal: func(r *remote) []journal.Entry { return []journal.Entry{r.file("a.txt", "old")} },
			path:    "a.txt", content: "a newer version",
			want: func(t *testing.T, f File) {
				if !f.Arrived || f.SHA256 != sum("a newer version") || f.Nickname != "" {
					t.Errorf("listed %+v", f)
				}
			},
		},
		{
			name: "content of a removed file, brought again",
			journal: func(r *remote) []journal.Entry {
				return []journal.Entry{r.file("a.txt", "again"), r.op(KindRemove, "a.txt")}
			},
			path: "a.txt", content: "again",
			want: func(t *testing.T, f File) {
				if !f.Arrived {
					t.Errorf("listed %+v", f)
				}
			},
		},
		{name: "hidden name", path: ".stignore", content: "*"},
		{name: "too deep", path: "a/b/c/d/e.txt", content: "deep"},
		{name: "name the drive would change", path: "con.txt", content: "x"},
		{name: "nothing there", path: "gone.txt", missing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBox(t, t.TempDir(), Options{})
			var ch changes
			ch.watch(b)
			if tt.journal != nil {
				es := tt.journal(&remote{origin: journal.Origin{9}, time: 1 << 40})
				b.j.Ingest(es...)
				if err := b.svc.Apply(es...); err != nil {
					t.Fatal(err)
				}
			}
			if !tt.missing {
				b.place(t, tt.path, tt.content, when)
			}
			if err := b.arrived(tt.path); err != nil {
				t.Fatal(err)
			}
			f, err := b.svc.Stat(tt.path)
			if tt.want == nil {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("Stat: %+v, %v; want not listed", f, err)
				}
				if all, _ := b.svc.ListAll(ListOptions{Hidden: true}); len(all) != 0 {
					t.Errorf("listed %q", paths(all))
				}
				if _, err := os.Stat(filepath.Join(b.dir(), filepath.FromSlash(tt.path))); !tt.missing && err != nil {
					t.Errorf("the file was deleted: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want(t, f)
			if l, _ := b.svc.List(f.Folder); !slices.Equal(paths(l), []string{tt.path}) {
				t.Errorf("List(%q) = %q", f.Folder, paths(l))
			}
			fh, _, err := b.svc.Open(tt.path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			fh.Close()
			b.checkConsistent(t)
			// Again: nothing changes.
			before := b.records(t, true)
			if err := b.arrived(tt.path); err != nil {
				t.Fatal(err)
			}
			if after := b.records(t, true); !mapsEqual(before, after) {
				t.Errorf("Arrived twice changed the state")
			}
			if got := ch.take(); len(got) != 0 {
				t.Errorf("OnChange told %q: the drive changed nothing", got)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestJournalAfterArrived: the file's journal entry, coming after the
// file, gives it its details; an entry for other content does not.
func TestJournalAfterArrived(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}
	b.place(t, "photos/a.txt", "content A", time.Now())
	b.place(t, "photos/b.txt", "content B", time.Now())
	for _, p := range []string{"photos/a.txt", "photos/b.txt"} {
		if err := b.arrived(p); err != nil {
			t.Fatal(err)
		}
	}
	es := []journal.Entry{r.file("photos/a.txt", "content A"), r.file("photos/b.txt", "another B")}
	b.j.Ingest(es...)
	if err := b.svc.Apply(es...); err != nil {
		t.Fatal(err)
	}
	a, _ := b.svc.Stat("photos/a.txt")
	if a.Arrived || a.Nickname != "Bo" || a.Origin != r.origin {
		t.Errorf("a.txt listed %+v", a)
	}
	bb, _ := b.svc.Stat("photos/b.txt")
	if !bb.Arrived || bb.SHA256 != sum("content B") {
		t.Errorf("b.txt listed %+v", bb)
	}
	b.checkConsistent(t)
	// The content of b's entry arrives.
	b.place(t, "photos/b.txt", "another B", time.Now())
	b.arrived("photos/b.txt")
	if bb, _ := b.svc.Stat("photos/b.txt"); bb.Arrived || bb.SHA256 != sum("another B") {
		t.Errorf("b.txt listed %+v", bb)
	}
	b.checkConsistent(t)

	// The same, rebuilt from the journal and the folder.
	before := b.records(t, true)
	if err := b.svc.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if after := b.records(t, true); !mapsEqual(before, after) {
		t.Errorf("rebuilt:\n%v\nbefore:\n%v", after, before)
	}
}

// TestArrivedKept: the listing of files without details survives a
// restart and Rebuild; a file placed while the box was stopped (or before
// Arrived) is listed at the next start, and one deleted is forgotten.
func TestArrivedKept(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	b.place(t, "kept.txt", "kept", time.Now())
	b.place(t, "deleted.txt", "deleted", time.Now())
	b.arrived("kept.txt")
	b.arrived("deleted.txt")
	b.upload(t, "", "upload.txt", "mine")
	before := b.records(t, true)

	b = b.reopen(t)
	if after := b.records(t, true); !mapsEqual(before, after) {
		t.Errorf("state changed across a restart")
	}
	if err := b.svc.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if after := b.records(t, true); !mapsEqual(before, after) {
		t.Errorf("state changed by Rebuild")
	}

	// The derived state lost (as after a rebuild at start from an older
	// layout): the scan finds the files again.
	b.st.Update(func(tx *bbTx) error { return tx.Bucket(bucketDrive).Put(metaKey, []byte(`{"v":0}`)) })
	b.st.Update(func(tx *bbTx) error { return tx.Bucket(bucketDrive).Delete([]byte("kept.txt")) })
	b = b.reopen(t)
	if f, err := b.svc.Stat("kept.txt"); err != nil || !f.Arrived {
		t.Errorf("after a rebuild at start: %+v, %v", f, err)
	}

	// While stopped, sync placed one file and deleted another.
	b.close()
	b.place(t, "while stopped.txt", "new", time.Now())
	os.Remove(filepath.Join(b.dir(), "deleted.txt"))
	b = b.reopen(t)
	if l, _ := b.svc.ListAll(ListOptions{}); !slices.Equal(sortedPaths(l), []string{"kept.txt", "upload.txt", "while stopped.txt"}) {
		t.Errorf("after a restart %q", sortedPaths(l))
	}
	b.checkConsistent(t)
}

func TestDeparted(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, b *testBox, r *remote) // leaves a file at "x.txt"
		again     bool                                      // a file is at x.txt again when Departed comes
		wantEntry bool                                      // this box appends a removal
	}{
		{
			name: "file from another box's journal",
			setup: func(t *testing.T, b *testBox, r *remote) {
				e := r.file("x.txt", "remote")
				b.j.Ingest(e)
				b.svc.Apply(e)
				b.place(t, "x.txt", "remote", time.Now())
				b.arrived("x.txt")
			},
			wantEntry: true,
		},
		{
			name:      "file uploaded here",
			setup:     func(t *testing.T, b *testBox, r *remote) { b.upload(t, "", "x.txt", "mine") },
			wantEntry: true,
		},
		{
			name: "file listed without details",
			setup: func(t *testing.T, b *testBox, r *remote) {
				b.place(t, "x.txt", "stock syncthing", time.Now())
				b.arrived("x.txt")
			},
		},
		{
			name: "newer file than the journal's",
			setup: func(t *testing.T, b *testBox, r *remote) {
				e := r.file("x.txt", "old")
				b.j.Ingest(e)
				b.svc.Apply(e)
				b.place(t, "x.txt", "newer", time.Now())
				b.arrived("x.txt")
			},
			wantEntry: true,
		},
		{
			name:  "a file there again",
			setup: func(t *testing.T, b *testBox, r *remote) { b.upload(t, "", "x.txt", "mine") },
			again: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBox(t, t.TempDir(), Options{})
			tt.setup(t, b, &remote{origin: journal.Origin{9}, time: 1 << 40})
			before, _ := b.svc.Stat("x.txt")
			if !tt.again {
				os.Remove(filepath.Join(b.dir(), "x.txt")) // what sync does
			}
			if err := b.svc.Departed("x.txt"); err != nil {
				t.Fatal(err)
			}
			var removals []journal.Entry
			b.j.Since(ownOrigin, 0, func(e journal.Entry) error {
				if e.Kind == KindRemove {
					removals = append(removals, e)
				}
				return nil
			})
			if tt.again {
				if f, err := b.svc.Stat("x.txt"); err != nil || f != before {
					t.Errorf("listed %+v, %v; want %+v", f, err, before)
				}
				if len(removals) != 0 {
					t.Errorf("removal appended")
				}
				return
			}
			if _, err := b.svc.Stat("x.txt"); !errors.Is(err, ErrNotFound) {
				t.Errorf("Stat after Departed: %v", err)
			}
			if l, _ := b.svc.ListAll(ListOptions{Hidden: true}); len(l) != 0 {
				t.Errorf("listed %q", paths(l))
			}
			if tt.wantEntry != (len(removals) == 1) || len(removals) > 1 {
				t.Fatalf("removals appended: %+v", removals)
			}
			if tt.wantEntry && (removals[0].Author != "" || removals[0].Target != TargetPrefix+"x.txt") {
				t.Errorf("removal %+v", removals[0])
			}
			b.checkConsistent(t)
			// Again: nothing more.
			if err := b.svc.Departed("x.txt"); err != nil {
				t.Fatal(err)
			}
			n := 0
			b.j.Since(ownOrigin, 0, func(e journal.Entry) error {
				if e.Kind == KindRemove {
					n++
				}
				return nil
			})
			if n != len(removals) {
				t.Errorf("a second Departed appended again")
			}
		})
	}
	b := openBox(t, t.TempDir(), Options{})
	if err := b.svc.Departed("../outside.txt"); err != nil {
		t.Errorf("Departed of a path the drive never lists: %v", err)
	}
}

// TestUploadBesideArrived: an upload never replaces a file that sync
// placed, whether it is already there or comes while the upload is
// placed.
func TestUploadBesideArrived(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	b.place(t, "docs/photo.jpg", "from sync", time.Now())
	if err := b.arrived("docs/photo.jpg"); err != nil {
		t.Fatal(err)
	}
	if f := b.upload(t, "docs", "photo.jpg", "mine"); f.Path != "docs/photo (2).jpg" {
		t.Errorf("upload went to %q", f.Path)
	}
	// Sync puts a file at the very name chosen, after the choice.
	b.svc.crashAt = func(stage string) bool {
		if stage == "intent" {
			b.place(t, "docs/race.txt", "from sync", time.Now())
		}
		return false
	}
	f, err := b.svc.Upload(context.Background(), UploadRequest{Folder: "docs", Name: "race.txt"}, strings.NewReader("mine"))
	b.svc.crashAt = nil
	if err != nil || f.Path != "docs/race (2).txt" {
		t.Fatalf("upload went to %q, %v", f.Path, err)
	}
	if data, _ := os.ReadFile(filepath.Join(b.dir(), "docs", "race.txt")); string(data) != "from sync" {
		t.Errorf("the file from sync was replaced: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(b.dir(), "docs", "photo.jpg")); string(data) != "from sync" {
		t.Errorf("the file from sync was replaced: %q", data)
	}
	b.arrived("docs/race.txt")
	b.checkConsistent(t)
}

// TestOnChange: every file the drive adds to or deletes from the folder
// is told, outside the drive's locks (the callback may call the drive).
func TestOnChange(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	var ch, ch2 changes
	ch.watch(b)
	ch2.watch(b)
	b.svc.OnChange(func(p string) {
		// Would deadlock if called under a lock of the drive.
		b.svc.Usage()
		b.arrived(p)
	})
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}

	f := b.upload(t, "a", "up.txt", "uploaded")
	g := b.upload(t, "", "other.txt", "other")
	if err := b.svc.Remove(f.Path, "staff"); err != nil {
		t.Fatal(err)
	}
	// A removal from another box's journal deletes the content here.
	e := r.file("remote.txt", "remote")
	b.j.Ingest(e)
	b.svc.Apply(e)
	b.place(t, "remote.txt", "remote", time.Now())
	b.arrived("remote.txt")
	rm := r.op(KindRemove, "remote.txt")
	b.j.Ingest(rm)
	b.svc.Apply(rm)
	// A file from sync without details, removed by staff.
	b.place(t, "stock.txt", "stock", time.Now())
	b.arrived("stock.txt")
	if err := b.svc.Remove("stock.txt", "staff"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.dir(), "stock.txt")); !os.IsNotExist(err) {
		t.Errorf("stock.txt still on disk: %v", err)
	}
	// Departed: sync deleted it, the drive did not.
	os.Remove(filepath.Join(b.dir(), g.Path))
	b.svc.Departed(g.Path)

	want := []string{"a/up.txt", "other.txt", "a/up.txt", "remote.txt", "stock.txt"}
	for _, c := range []*changes{&ch, &ch2} {
		if got := c.take(); !slices.Equal(got, want) {
			t.Errorf("told %q, want %q", got, want)
		}
	}
	b.checkConsistent(t)
}

// TestRemovalSparesArrival: a journal removal deletes the content it
// removed, not the same content that sync brought again after it; a
// newer entry for that content then lists it with its details.
func TestRemovalSparesArrival(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}
	first, rm := r.file("a.txt", "same"), r.op(KindRemove, "a.txt")
	b.j.Ingest(first, rm)
	b.svc.Apply(first, rm)
	// The box that removed it added the same content again; sync brings
	// it before the entry.
	b.place(t, "a.txt", "same", time.Now())
	b.arrived("a.txt")
	b = b.reopen(t) // sweepRemoved runs
	if f, err := b.svc.Stat("a.txt"); err != nil || !f.Arrived {
		t.Fatalf("Stat %+v, %v", f, err)
	}
	again := r.file("a.txt", "same")
	b.j.Ingest(again)
	b.svc.Apply(again)
	if f, err := b.svc.Stat("a.txt"); err != nil || f.Arrived || f.Nickname != "Bo" {
		t.Fatalf("Stat %+v, %v", f, err)
	}
	// Now a removal of it deletes it.
	rm2 := r.op(KindRemove, "a.txt")
	b.j.Ingest(rm2)
	b.svc.Apply(rm2)
	if _, err := os.Stat(filepath.Join(b.dir(), "a.txt")); !os.IsNotExist(err) {
		t.Errorf("removed content still on disk: %v", err)
	}
	b.checkConsistent(t)
}

// TestArrivedStaffActions: staff remove a file without details (it is
// deleted from the disk); hiding needs a journal entry to hide.
func TestArrivedStaffActions(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	b.place(t, "x.txt", "x", time.Now())
	b.arrived("x.txt")
	if err := b.svc.Hide("x.txt", "staff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Hide: %v", err)
	}
	if err := b.svc.RemoveOwn("x.txt", "v-ana"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveOwn: %v", err)
	}
	if err := b.svc.Remove("x.txt", "staff"); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.Remove("x.txt", "staff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	var n int
	b.j.Since(ownOrigin, 0, func(journal.Entry) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d entries appended for a file no entry describes", n)
	}
	b.checkConsistent(t)
}

// A sum sync tells with a file is taken when the file at its path is
// still the one sync placed (same inode, size and time): the drive then
// reads only its first bytes, for the type. Otherwise it reads the file.
func TestReceivedTakesTheSumSyncKnows(t *testing.T) {
	when := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	b := openBox(t, t.TempDir(), Options{})
	lstat := func(path string) fs.FileInfo {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(b.dir(), path))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	b.place(t, "told.pdf", pdf, when)
	told := lstat("told.pdf")
	b.place(t, "touched.pdf", pdf, when)
	touched := lstat("touched.pdf")
	if err := os.Chtimes(filepath.Join(b.dir(), "touched.pdf"), when, when.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	b.place(t, "replaced.pdf", pdf, when)
	replaced := lstat("replaced.pdf")
	b.place(t, "replaced.pdf", pdf, when) // same size and time, another file
	// The sum told is not the content's: only a drive that takes it
	// without reading the file lists it.
	computed := sum("what sync computed")
	err := b.svc.Received(
		Arrival{Path: "told.pdf", SHA256: computed, Placed: told},
		Arrival{Path: "touched.pdf", SHA256: computed, Placed: touched},
		Arrival{Path: "replaced.pdf", SHA256: computed, Placed: replaced},
	)
	if err != nil {
		t.Fatal(err)
	}
	f, err := b.svc.Stat("told.pdf")
	if err != nil || f.SHA256 != computed || f.ContentType != "application/pdf" || f.Size != int64(len(pdf)) {
		t.Fatalf("told.pdf listed as %+v (%v)", f, err)
	}
	for _, p := range []string{"touched.pdf", "replaced.pdf"} {
		if f, err := b.svc.Stat(p); err != nil || f.SHA256 != sum(pdf) {
			t.Fatalf("%s, no longer the file sync placed, listed as %+v (%v)", p, f, err)
		}
	}
}

// A removal whose deletion a crash kept from the disk is carried out at
// the next start (sweepRemoved).
func TestStartDeletesWhatARemovalLeft(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}
	first, rm := r.file("a.txt", "same"), r.op(KindRemove, "a.txt")
	b.j.Ingest(first)
	b.svc.Apply(first)
	b.place(t, "a.txt", "same", time.Now())
	b.arrived("a.txt")
	kept := r.file("b.txt", "kept")
	b.j.Ingest(kept)
	b.svc.Apply(kept)
	b.place(t, "b.txt", "kept", time.Now())
	b.arrived("b.txt")
	b.j.Ingest(rm)
	b.svc.Apply(rm)
	// As if the box had stopped between the removal and the deletion.
	b.place(t, "a.txt", "same", time.Now())
	b = b.reopen(t)
	if _, err := os.Stat(filepath.Join(b.dir(), "a.txt")); !os.IsNotExist(err) {
		t.Errorf("removed content still on disk after a start: %v", err)
	}
	if _, err := b.svc.Stat("a.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat of the removed file: %v", err)
	}
	if f, err := b.svc.Stat("b.txt"); err != nil || f.Size != 4 {
		t.Errorf("Stat of the kept file: %+v, %v", f, err)
	}
	b.checkConsistent(t)
}
