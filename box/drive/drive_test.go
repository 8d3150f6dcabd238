package drive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"tiersbox/box/journal"
)

func TestUploadListOpen(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	pdf := "%PDF-1.7\n" + strings.Repeat("x", 1000)
	f1 := b.upload(t, "", "rapport.pdf", pdf)
	f2 := b.upload(t, "2025/atelier vélo", "notes.txt", "des notes\n")
	f3 := b.upload(t, "2025", "Le\u0301a.md", "# Léa\n")

	if f1.Path != "rapport.pdf" || f1.Folder != "" || f1.Name != "rapport.pdf" || f1.Size != int64(len(pdf)) ||
		f1.SHA256 != sum(pdf) || f1.ContentType != "application/pdf" || f1.Author != "v-ana" || f1.Nickname != "Ana" ||
		f1.Licence != "CC BY-SA 4.0" || f1.Origin != ownOrigin || f1.Time.IsZero() {
		t.Errorf("uploaded %+v", f1)
	}
	if f2.Path != "2025/atelier vélo/notes.txt" || f2.ContentType != "text/plain; charset=utf-8" {
		t.Errorf("uploaded %+v", f2)
	}
	if f3.Path != "2025/Léa.md" {
		t.Errorf("uploaded %q", f3.Path)
	}

	all, err := b.svc.ListAll(ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(all), []string{f3.Path, f2.Path, f1.Path}; !slices.Equal(got, want) {
		t.Errorf("ListAll = %q, want newest first %q", got, want)
	}
	top, _ := b.svc.List("")
	if got := paths(top); !slices.Equal(got, []string{"rapport.pdf"}) {
		t.Errorf("List(\"\") = %q", got)
	}
	in2025, _ := b.svc.List("2025")
	if got := paths(in2025); !slices.Equal(got, []string{f3.Path}) {
		t.Errorf("List(2025) = %q", got)
	}
	folders, _ := b.svc.Folders()
	if !slices.Equal(folders, []string{"2025", "2025/atelier vélo"}) {
		t.Errorf("Folders = %q", folders)
	}
	if st, err := b.svc.Stat(f2.Path); err != nil || st != f2 {
		t.Errorf("Stat = %+v, %v; want %+v", st, err, f2)
	}
	if _, err := b.svc.Stat("nope.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat of an unknown path: %v", err)
	}
	fh, f, err := b.svc.Open(f1.Path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(fh)
	fh.Close()
	if string(data) != pdf || f != f1 {
		t.Errorf("Open read %d bytes, file %+v", len(data), f)
	}
	b.checkConsistent(t)

	// The journal entry's payload, as other boxes will read it.
	var raw map[string]any
	b.j.Target(TargetPrefix+f1.Path, func(e journal.Entry) error {
		if e.Kind != KindFile || e.Author != "v-ana" {
			t.Errorf("entry %s by %q", e.Kind, e.Author)
		}
		return json.Unmarshal(e.Payload, &raw)
	})
	want := map[string]any{"path": "rapport.pdf", "size": float64(len(pdf)), "sha256": sum(pdf),
		"content_type": "application/pdf", "licence": "CC BY-SA 4.0", "nickname": "Ana"}
	if fmt.Sprint(raw) != fmt.Sprint(want) {
		t.Errorf("payload %v, want %v", raw, want)
	}

	// After a restart, the same drive.
	before := b.records(t, true)
	b = b.reopen(t)
	if after := b.records(t, true); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("state changed across a restart")
	}
	b.checkConsistent(t)
}

func TestUploadSameName(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	var got []string
	for i, name := range []string{"rapport.pdf", "rapport.pdf", "Rapport.PDF", "rapport.pdf"} {
		got = append(got, b.upload(t, "docs", name, fmt.Sprint("version ", i)).Path)
	}
	want := []string{"docs/rapport.pdf", "docs/rapport (2).pdf", "docs/Rapport (3).PDF", "docs/rapport (4).pdf"}
	if !slices.Equal(got, want) {
		t.Errorf("paths %q, want %q", got, want)
	}
	// A folder differing only in case is the existing one.
	if f := b.upload(t, "DOCS", "autre.txt", "x"); f.Path != "docs/autre.txt" {
		t.Errorf("upload to DOCS went to %q", f.Path)
	}
	// A file on disk without metadata (sync brought it first) is never
	// replaced.
	os.WriteFile(filepath.Join(b.dir(), "docs", "arrived.txt"), []byte("from sync"), 0o600)
	if f := b.upload(t, "docs", "arrived.txt", "mine"); f.Path != "docs/arrived (2).txt" {
		t.Errorf("upload over a file from sync went to %q", f.Path)
	}
	data, _ := os.ReadFile(filepath.Join(b.dir(), "docs", "arrived.txt"))
	if string(data) != "from sync" {
		t.Errorf("the file from sync was replaced")
	}
	// Once a file is removed, its name is free again.
	if err := b.svc.Remove("docs/rapport.pdf", "staff"); err != nil {
		t.Fatal(err)
	}
	if f := b.upload(t, "docs", "rapport.pdf", "new"); f.Path != "docs/rapport.pdf" {
		t.Errorf("upload after removal went to %q", f.Path)
	}
}

func TestConcurrentUploadsSameName(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	const n = 12
	var wg sync.WaitGroup
	files := make([]File, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			content := fmt.Sprintf("photo %d %s", i, strings.Repeat("·", i*1000))
			files[i], errs[i] = b.svc.Upload(context.Background(), UploadRequest{Folder: "photos", Name: "photo.jpg", Author: "v"},
				iotest.HalfReader(strings.NewReader(content)))
		})
	}
	close(start)
	wg.Wait()
	seen := make(map[string]bool)
	for i, f := range files {
		if errs[i] != nil {
			t.Fatalf("upload %d: %v", i, errs[i])
		}
		if seen[f.Path] {
			t.Fatalf("two uploads got %s", f.Path)
		}
		seen[f.Path] = true
		data, err := os.ReadFile(filepath.Join(b.dir(), filepath.FromSlash(f.Path)))
		if err != nil || sum(string(data)) != f.SHA256 || !strings.HasPrefix(string(data), fmt.Sprintf("photo %d ", i)) {
			t.Errorf("%s holds the wrong content (%v)", f.Path, err)
		}
	}
	if !seen["photos/photo.jpg"] || !seen[fmt.Sprintf("photos/photo (%d).jpg", n)] {
		t.Errorf("paths %v", seen)
	}
	b.checkConsistent(t)
}

func TestUploadLimits(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		before  int // bytes uploaded first
		r       io.Reader
		wantErr error
	}{
		{"too large", Options{MaxFileSize: 100 << 10}, 0, endless{}, ErrTooLarge},
		{"one byte too large", Options{MaxFileSize: 1000}, 0, strings.NewReader(strings.Repeat("a", 1001)), ErrTooLarge},
		{"quota", Options{Quota: 1 << 20}, 0, endless{}, ErrQuota},
		{"quota with files", Options{Quota: 10000}, 6000, strings.NewReader(strings.Repeat("b", 5000)), ErrQuota},
		{"read error", Options{}, 0, iotest.TimeoutReader(strings.NewReader(strings.Repeat("c", 100<<10))), iotest.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBox(t, t.TempDir(), tt.opts)
			if tt.before > 0 {
				b.upload(t, "", "first.bin", strings.Repeat("z", tt.before))
			}
			_, err := b.svc.Upload(context.Background(), UploadRequest{Name: "big.bin"}, tt.r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			b.checkConsistent(t)
			if files := b.diskFiles(t); len(files) != min(tt.before, 1) {
				t.Errorf("drive folder holds %v", files)
			}
			// The limit passed, the drive still takes what fits.
			b.upload(t, "", "small.txt", "small")
			b.checkConsistent(t)
		})
	}
	t.Run("exactly the limits", func(t *testing.T) {
		b := openBox(t, t.TempDir(), Options{MaxFileSize: 1000, Quota: 1500})
		b.upload(t, "", "a", strings.Repeat("a", 1000))
		b.upload(t, "", "b", strings.Repeat("b", 500))
		if _, err := b.svc.Upload(context.Background(), UploadRequest{Name: "c"}, strings.NewReader("c")); !errors.Is(err, ErrQuota) {
			t.Fatalf("error %v, want ErrQuota", err)
		}
		// Removing frees space.
		if err := b.svc.Remove("a", "staff"); err != nil {
			t.Fatal(err)
		}
		b.upload(t, "", "c", strings.Repeat("c", 1000))
		b.checkConsistent(t)
	})
}

// TestQuotaConcurrent checks that uploads under way count against the
// quota together: two that each fit alone cannot both pass.
func TestQuotaConcurrent(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{Quota: 100 << 10})
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	res := make(chan error, 2)
	go func() {
		_, err := b.svc.Upload(context.Background(), UploadRequest{Name: "one"}, r1)
		res <- err
	}()
	go func() {
		_, err := b.svc.Upload(context.Background(), UploadRequest{Name: "two"}, r2)
		res <- err
	}()
	chunk := bytes.Repeat([]byte("q"), 30<<10)
	w1.Write(chunk)
	w2.Write(chunk)
	w1.Write(chunk)
	// 90 KiB are pending: 30 more cannot fit.
	if _, err := w2.Write(chunk); err == nil {
		w2.Close()
	}
	w1.Close()
	var errs []error
	for range 2 {
		errs = append(errs, <-res)
	}
	w2.CloseWithError(io.ErrClosedPipe)
	if !(errs[0] == nil && errors.Is(errs[1], ErrQuota) || errs[1] == nil && errors.Is(errs[0], ErrQuota)) {
		t.Fatalf("errors %v, want one ErrQuota and one success", errs)
	}
	b.checkConsistent(t)
	if s := b.svc; s.pending != 0 {
		t.Errorf("%d bytes still pending", s.pending)
	}
}

func TestUploadCanceled(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error)
	go func() {
		_, err := b.svc.Upload(ctx, UploadRequest{Name: "x"}, r)
		done <- err
	}()
	w.Write([]byte("some"))
	cancel()
	// The upload sees the cancellation before its next read, or after it.
	go w.Write([]byte("more"))
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	r.Close()
	b.checkConsistent(t)
}

func TestUploadRefusals(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	tests := []struct {
		req  UploadRequest
		want error
	}{
		{UploadRequest{Name: "../../etc/passwd"}, ErrBadName},
		{UploadRequest{Name: "ok.txt", Folder: "../x"}, ErrBadName},
		{UploadRequest{Name: "ok.txt", Folder: "a/b/c/d"}, ErrBadName},
		{UploadRequest{Name: ""}, ErrBadName},
		{UploadRequest{Name: "ok.txt", Description: strings.Repeat("d", MaxDescription+1)}, ErrInvalid},
		{UploadRequest{Name: "ok.txt", Licence: "CC\x00"}, ErrInvalid},
		{UploadRequest{Name: "ok.txt", Nickname: "a\u202eb"}, ErrInvalid},
		{UploadRequest{Name: "ok.txt", Nickname: "a\nb"}, ErrInvalid},
	}
	for _, tt := range tests {
		if _, err := b.svc.Upload(context.Background(), tt.req, strings.NewReader("x")); !errors.Is(err, tt.want) {
			t.Errorf("%+v: error %v, want %v", tt.req, err, tt.want)
		}
	}
	f, err := b.svc.Upload(context.Background(), UploadRequest{Name: "ok.txt", Description: " deux\r\nlignes\t!\n"}, strings.NewReader("x"))
	if err != nil || f.Description != "deux\nlignes\t!" {
		t.Errorf("description %q, %v", f.Description, err)
	}
	b.checkConsistent(t)
}

// TestCrash stops an upload at each stage as a hard kill would (without
// any cleaning up), restarts the box, and checks that the drive is
// consistent: the upload is either whole and listed, or gone without a
// trace.
func TestCrash(t *testing.T) {
	for _, tt := range []struct {
		stage  string
		listed bool
	}{
		{"streamed", false},
		{"intent", false},
		{"renamed", false},
		{"journaled", true},
	} {
		t.Run(tt.stage, func(t *testing.T) {
			b := openBox(t, t.TempDir(), Options{})
			kept := b.upload(t, "photos", "kept.txt", "kept")
			b.svc.crashAt = func(stage string) bool { return stage == tt.stage }
			_, err := b.svc.Upload(context.Background(), UploadRequest{Folder: "photos", Name: "new.txt", Author: "v"}, strings.NewReader("new"))
			if !errors.Is(err, errCrash) {
				t.Fatalf("error %v", err)
			}
			if tt.stage == "renamed" {
				if _, err := os.Stat(filepath.Join(b.dir(), "photos", "new.txt")); err != nil {
					t.Fatalf("the crash came before the rename: %v", err)
				}
				if n := b.intents(t); n != 1 {
					t.Fatalf("%d intents recorded", n)
				}
			}
			if tt.stage != "journaled" && len(dirEntries(t, b.tmp())) == 0 && tt.stage != "renamed" {
				t.Fatalf("no temporary file left to clean")
			}

			b = b.reopen(t)
			b.checkConsistent(t)
			all, _ := b.svc.ListAll(ListOptions{})
			want := []string{kept.Path}
			if tt.listed {
				want = []string{"photos/new.txt", kept.Path}
			}
			if got := paths(all); !slices.Equal(got, want) {
				t.Errorf("listed %q, want %q", got, want)
			}
			// The name is free (or taken) as it should be.
			f := b.upload(t, "photos", "new.txt", "again")
			if wantPath := map[bool]string{false: "photos/new.txt", true: "photos/new (2).txt"}[tt.listed]; f.Path != wantPath {
				t.Errorf("next upload went to %q, want %q", f.Path, wantPath)
			}
		})
	}
}

// TestCrashKeepsJournaledContent: an intent left next to a journal entry
// naming the same content (which the single transaction makes impossible,
// but a restored backup could show) keeps the file.
func TestCrashKeepsJournaledContent(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	f := b.upload(t, "", "a.txt", "content")
	in, _ := json.Marshal(intent{Tmp: filepath.Join(b.tmp(), "upload-1"), Path: f.Path, Size: f.Size, SHA256: f.SHA256})
	b.st.Update(func(tx *bbTx) error { return tx.Bucket(bucketUploads).Put([]byte(f.Path), in) })
	b = b.reopen(t)
	b.checkConsistent(t)
	if _, err := b.svc.Stat(f.Path); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveHideShow(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	a := b.upload(t, "docs", "a.txt", "aaa")
	c := b.upload(t, "docs", "c.txt", "ccc")
	other := b.upload(t, "other", "o.txt", "ooo")

	// Hide: gone from the visitors' lists and folders, kept for staff.
	if err := b.svc.Hide(other.Path, "staff"); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.Hide(other.Path, "staff"); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.svc.List("other"); len(l) != 0 {
		t.Errorf("hidden file listed: %v", paths(l))
	}
	if l, _ := b.svc.ListIn("other", ListOptions{Hidden: true}); len(l) != 1 || !l[0].Hidden {
		t.Errorf("staff list %+v", l)
	}
	if f, _ := b.svc.Folders(); !slices.Equal(f, []string{"docs"}) {
		t.Errorf("folders %q", f)
	}
	if st, err := b.svc.Stat(other.Path); err != nil || !st.Hidden {
		t.Errorf("Stat of a hidden file: %+v, %v", st, err)
	}
	if err := b.svc.Show(other.Path, "staff"); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.svc.List("other"); len(l) != 1 || l[0].Hidden {
		t.Errorf("shown file: %+v", l)
	}
	var kinds []journal.Kind
	b.j.Target(TargetPrefix+other.Path, func(e journal.Entry) error { kinds = append(kinds, e.Kind); return nil })
	if !slices.Equal(kinds, []journal.Kind{KindFile, KindHide, KindShow}) {
		t.Errorf("entries %v: a hide of a hidden file should add none", kinds)
	}

	// Remove: gone from lists and disk.
	if _, err := b.svc.Thumbnail(a.Path); !errors.Is(err, ErrNoThumbnail) {
		t.Errorf("thumbnail of text: %v", err)
	}
	if err := b.svc.Remove(a.Path, "staff"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Stat(a.Path); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after removal: %v", err)
	}
	if _, _, err := b.svc.Open(a.Path); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open after removal: %v", err)
	}
	if err := b.svc.Remove(a.Path, "staff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second removal: %v", err)
	}
	for _, op := range []func(string, string) error{b.svc.Hide, b.svc.Show, b.svc.RemoveOwn} {
		if err := op(a.Path, "v-ana"); !errors.Is(err, ErrNotFound) {
			t.Errorf("action on a removed file: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(b.dir(), "docs", "a.txt")); !os.IsNotExist(err) {
		t.Errorf("removed file still on disk: %v", err)
	}

	// A visitor removes only their own files.
	if err := b.svc.RemoveOwn(c.Path, "v-someone"); !errors.Is(err, ErrNotYours) {
		t.Errorf("RemoveOwn of another's file: %v", err)
	}
	if err := b.svc.RemoveOwn(c.Path, ""); !errors.Is(err, ErrNotYours) {
		t.Errorf("RemoveOwn without an author: %v", err)
	}
	if err := b.svc.RemoveOwn(c.Path, "v-ana"); err != nil {
		t.Errorf("RemoveOwn: %v", err)
	}
	if l, _ := b.svc.ListAll(ListOptions{Hidden: true}); !slices.Equal(paths(l), []string{other.Path}) {
		t.Errorf("left %q", paths(l))
	}
	b.checkConsistent(t)
	if _, err := b.svc.Stat("../../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat outside: %v", err)
	}
	if err := b.svc.Remove("../../etc/passwd", "staff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove outside: %v", err)
	}
}

// TestRemovalSweptAtStart: a crash between a removal's entry and the
// deletion leaves the content on disk; the next start deletes it, but
// not other content sync may have put at that path.
func TestRemovalSweptAtStart(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	a := b.upload(t, "", "a.txt", "aaa")
	c := b.upload(t, "", "c.txt", "ccc")
	for _, f := range []File{a, c} {
		if err := b.svc.Remove(f.Path, "staff"); err != nil {
			t.Fatal(err)
		}
	}
	// As if the deletion had not happened.
	os.WriteFile(filepath.Join(b.dir(), "a.txt"), []byte("aaa"), 0o600)
	// Different content at the other path: a newer file from sync.
	os.WriteFile(filepath.Join(b.dir(), "c.txt"), []byte("newer"), 0o600)
	b = b.reopen(t)
	files := b.diskFiles(t)
	if _, ok := files["a.txt"]; ok {
		t.Errorf("removed content left on disk")
	}
	if files["c.txt"] != sum("newer") {
		t.Errorf("other content at a removed path was deleted")
	}
}

func TestApplyRemote(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	r := &remote{origin: journal.Origin{9}, time: journal.Time(1) << 40}
	entries := []journal.Entry{
		r.file("doc/a.txt", "from afar"),
		r.file("doc/b.txt", "bbb"),
		r.op(KindHide, "doc/b.txt"),
		r.file("doc/c.txt", "ccc"),
	}
	if _, err := b.j.Ingest(entries...); err != nil {
		t.Fatal(err)
	}
	if err := b.svc.Apply(entries...); err != nil {
		t.Fatal(err)
	}
	l, _ := b.svc.ListAll(ListOptions{Hidden: true})
	if got := sortedPaths(l); !slices.Equal(got, []string{"doc/a.txt", "doc/b.txt", "doc/c.txt"}) {
		t.Fatalf("listed %q", got)
	}
	if l, _ := b.svc.List("doc"); len(l) != 2 {
		t.Errorf("visible %q", paths(l))
	}
	f, _ := b.svc.Stat("doc/a.txt")
	if f.Origin != r.origin || f.Author != "v-remote" || f.Nickname != "Bo" || f.Size != 9 {
		t.Errorf("remote file %+v", f)
	}
	// The content has not come yet.
	if _, _, err := b.svc.Open("doc/a.txt"); !errors.Is(err, ErrMissing) {
		t.Errorf("Open before the content: %v", err)
	}
	// Sync brings it.
	os.MkdirAll(filepath.Join(b.dir(), "doc"), 0o750)
	for name, content := range map[string]string{"a.txt": "from afar", "c.txt": "ccc"} {
		os.WriteFile(filepath.Join(b.dir(), "doc", name), []byte(content), 0o600)
	}
	fh, _, err := b.svc.Open("doc/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if u, _ := b.svc.Usage(); u != 9+3+3 {
		t.Errorf("usage %d", u)
	}

	// A removal from afar deletes the content here.
	rm := r.op(KindRemove, "doc/c.txt")
	b.j.Ingest(rm)
	if err := b.svc.Apply(rm); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.dir(), "doc", "c.txt")); !os.IsNotExist(err) {
		t.Errorf("content of a file removed elsewhere is still here: %v", err)
	}
	// Applying again changes nothing.
	before := b.records(t, true)
	if err := b.svc.Apply(append(entries, rm)...); err != nil {
		t.Fatal(err)
	}
	if after := b.records(t, true); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("applying twice changed the state")
	}
}

// TestApplyHostile: entries from another box that name paths outside the
// drive, or whose payload does not match their target, are skipped, and
// nothing outside the drive folder is touched.
func TestApplyHostile(t *testing.T) {
	data := t.TempDir()
	b := openBox(t, data, Options{})
	victim := filepath.Join(data, "victim.txt")
	os.WriteFile(victim, []byte("precious"), 0o600)
	r := &remote{origin: journal.Origin{6}, time: 1 << 40}
	good := r.file("ok.txt", "ok")
	bad := []journal.Entry{
		r.file("../victim.txt", "precious"),
		r.op(KindRemove, "../victim.txt"),
		r.op(KindRemove, "../drive-thumbs"),
		r.file(".stignore", "*"),
		r.file("a/b/c/d/e.txt", "deep"),
		r.entry(KindFile, "x.txt", "v", FilePayload{Path: "y.txt", Size: 1, SHA256: sum("y"), ContentType: "text/plain"}),
		r.entry(KindFile, "x.txt", "v", FilePayload{Path: "x.txt", Size: 1, SHA256: "not hex", ContentType: "text/plain"}),
		r.entry(KindFile, "x.txt", "v", FilePayload{Path: "x.txt", Size: -1, SHA256: sum("x"), ContentType: "text/plain"}),
		r.entry(KindFile, "x.txt", "v", FilePayload{Path: "x.txt", Size: 1, SHA256: sum("x")}),
		r.entry(KindRemove, "ok.txt", "v", PathPayload{Path: "other.txt"}),
		{Origin: r.origin, Seq: 99, Time: r.time, Kind: KindHide, Target: "drive/ok.txt", Payload: []byte("{not json")},
		{Origin: r.origin, Seq: 100, Time: r.time, Kind: KindFile, Target: "pad/ok.txt", Payload: good.Payload},
	}
	if err := b.svc.Apply(append([]journal.Entry{good}, bad...)...); err != nil {
		t.Fatal(err)
	}
	l, _ := b.svc.ListAll(ListOptions{Hidden: true})
	if got := paths(l); !slices.Equal(got, []string{"ok.txt"}) || l[0].Hidden {
		t.Errorf("listed %q", got)
	}
	if data, err := os.ReadFile(victim); err != nil || string(data) != "precious" {
		t.Errorf("a file outside the drive was touched: %q, %v", data, err)
	}
	if _, err := os.Stat(b.thumb()); err != nil {
		t.Errorf("thumbnail folder: %v", err)
	}
}

// TestCatchUp: entries ingested from another box that a crash kept from
// reaching the drive (Apply never called) are applied at the next start;
// so are those of a box ingested while the drive was not looking.
func TestCatchUp(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}
	if _, err := b.j.Ingest(r.file("a.txt", "a"), r.file("b.txt", "b")); err != nil {
		t.Fatal(err)
	}
	b = b.reopen(t)
	if l, _ := b.svc.ListAll(ListOptions{}); !slices.Equal(sortedPaths(l), []string{"a.txt", "b.txt"}) {
		t.Fatalf("after restart %q", sortedPaths(l))
	}
	// Apply of a later entry brings the earlier ones missed.
	missed, later := r.op(KindRemove, "a.txt"), r.file("c.txt", "c")
	b.j.Ingest(missed, later)
	if err := b.svc.Apply(later); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.svc.ListAll(ListOptions{}); !slices.Equal(sortedPaths(l), []string{"b.txt", "c.txt"}) {
		t.Fatalf("after Apply %q", sortedPaths(l))
	}
}

// TestRebuildEqualsIncremental: the state built entry by entry, as the
// box runs, is the state built from the journal alone.
func TestRebuildEqualsIncremental(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}
	b.upload(t, "", "a.txt", "a")
	b.upload(t, "", "a.txt", "a2")
	f := b.upload(t, "x", "b.txt", "b")
	b.svc.Hide(f.Path, "staff")
	b.svc.Remove("a.txt", "staff")
	remote := []journal.Entry{r.file("x/b.txt", "remote b"), r.file("r.txt", "r"), r.op(KindHide, "r.txt"), r.op(KindRemove, "a (2).txt")}
	b.j.Ingest(remote...)
	b.svc.Apply(remote...)
	b.upload(t, "", "a.txt", "a3")
	b.svc.Show("r.txt", "staff")

	incremental := b.records(t, true)
	used, _ := b.svc.Usage()
	if err := b.svc.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if rebuilt := b.records(t, true); fmt.Sprint(rebuilt) != fmt.Sprint(incremental) {
		t.Errorf("rebuilt state differs:\n%v\nincremental:\n%v", rebuilt, incremental)
	}
	if u, _ := b.svc.Usage(); u != used {
		t.Errorf("usage %d after rebuild, %d before", u, used)
	}
	// An unknown meta version rebuilds at start.
	b.st.Update(func(tx *bbTx) error { return tx.Bucket(bucketDrive).Put(metaKey, []byte(`{"v":0}`)) })
	b.st.Update(func(tx *bbTx) error { return tx.Bucket(bucketDrive).Put([]byte("stale.txt"), []byte(`{}`)) })
	b = b.reopen(t)
	if again := b.records(t, true); fmt.Sprint(again) != fmt.Sprint(incremental) {
		t.Errorf("state after a rebuild at start differs")
	}
}

func TestNewOptions(t *testing.T) {
	st := openBox(t, t.TempDir(), Options{})
	if _, err := New(st.st, st.j, Options{Dir: "x"}); err == nil {
		t.Error("New without TmpDir")
	}
	if _, err := New(st.st, st.j, Options{Dir: "x", TmpDir: "y", ThumbDir: "z", Quota: -1}); err == nil {
		t.Error("New with a negative quota")
	}
	if st.svc.maxFile != DefaultMaxFileSize {
		t.Errorf("default max file size %d", st.svc.maxFile)
	}
	// A leftover in TmpDir is removed at start.
	os.WriteFile(filepath.Join(st.tmp(), "upload-123"), []byte("partial"), 0o600)
	os.MkdirAll(filepath.Join(st.tmp(), "dir", "sub"), 0o750)
	st = st.reopen(t)
	st.checkConsistent(t)
}

func TestSymlinkInDrive(t *testing.T) {
	data := t.TempDir()
	b := openBox(t, data, Options{})
	outside := filepath.Join(data, "outside")
	os.MkdirAll(outside, 0o750)
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o600)
	// Sync could bring a symbolic link into the drive folder.
	if err := os.Symlink(outside, filepath.Join(b.dir(), "link")); err != nil {
		t.Skip(err)
	}
	_, err := b.svc.Upload(context.Background(), UploadRequest{Folder: "link", Name: "x.txt"}, strings.NewReader("x"))
	if err == nil {
		t.Fatal("upload through a symbolic link succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "x.txt")); !os.IsNotExist(err) {
		t.Errorf("a file was written outside the drive")
	}
	// Metadata naming a file behind the link cannot open it.
	r := &remote{origin: journal.Origin{9}, time: 1 << 40}
	b.svc.Apply(r.file("link/secret.txt", "secret"))
	if fh, _, err := b.svc.Open("link/secret.txt"); err == nil {
		fh.Close()
		t.Error("opened a file outside the drive")
	}
	r2 := r.op(KindRemove, "link/secret.txt")
	b.svc.Apply(r2)
	if _, err := os.Stat(filepath.Join(outside, "secret.txt")); err != nil {
		t.Errorf("a file outside the drive was removed: %v", err)
	}
	if n := b.intents(t); n != 0 {
		t.Errorf("%d intents left", n)
	}
	if left := dirEntries(t, b.tmp()); len(left) != 0 {
		t.Errorf("temporary folder holds %v", left)
	}
}

// TestLateDeletionSparesNewUpload: the deletion of a removed file's
// content runs after the removal commits; by then an upload may have
// taken the name again, with the same content. It must not be deleted.
func TestLateDeletionSparesNewUpload(t *testing.T) {
	b := openBox(t, t.TempDir(), Options{})
	f := b.upload(t, "", "a.txt", "same")
	if err := b.svc.Remove(f.Path, "staff"); err != nil {
		t.Fatal(err)
	}
	again := b.upload(t, "", "a.txt", "same")
	if again.Path != f.Path {
		t.Fatalf("re-upload went to %s", again.Path)
	}
	// The removal's deletion, late.
	if err := b.svc.removeIfContent(f.Path, f.Size, f.SHA256); err != nil {
		t.Fatal(err)
	}
	b.checkConsistent(t)

	// An upload under way has reserved the name, not yet committed.
	g := b.upload(t, "", "b.txt", "bbb")
	b.svc.Remove(g.Path, "staff")
	p, release, err := b.svc.reserveName("", "b.txt")
	if err != nil || p != "b.txt" {
		t.Fatal(p, err)
	}
	os.WriteFile(filepath.Join(b.dir(), "b.txt"), []byte("bbb"), 0o600) // its content, placed
	if err := b.svc.removeIfContent(g.Path, g.Size, g.SHA256); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.dir(), "b.txt")); err != nil {
		t.Errorf("content of an upload under way deleted: %v", err)
	}
	release()
}
