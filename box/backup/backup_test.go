package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/box/pad"
	"tiersbox/box/store"
)

// restoreInto stages the archive in a new data folder and applies it, as
// `tiersbox restore` does.
func restoreInto(t *testing.T, archive []byte, takeIdentity bool) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "restored")
	if _, err := Stage(data, bytes.NewReader(archive), takeIdentity); err != nil {
		t.Fatal(err)
	}
	applied, err := ApplyPending(data, ApplyOptions{})
	if err != nil || applied == nil {
		t.Fatalf("apply: %v %v", applied, err)
	}
	if _, err := os.Stat(filepath.Join(data, PendingDir)); !os.IsNotExist(err) {
		t.Fatalf("the pending folder is still there: %v", err)
	}
	return data
}

func TestRoundTripKeepsOwnIdentity(t *testing.T) {
	src := sourceBox(t)
	archive, m := src.backup(t)
	if m.DeviceID != src.id.DeviceID.String() {
		t.Errorf("manifest device %s, want %s", m.DeviceID, src.id.DeviceID)
	}
	if n, _ := m.DriveFiles(); n != 2 {
		t.Errorf("manifest lists %d drive files, want 2: %+v", n, m.Files)
	}
	wantChat := src.chatTexts(t, "atelier")
	wantDrive := src.driveContent(t)

	got := openTestBox(t, restoreInto(t, archive, false))
	if got.id.DeviceID == src.id.DeviceID {
		t.Fatal("the restored box took the source's identity without being asked")
	}
	if texts := got.chatTexts(t, "atelier"); !reflect.DeepEqual(texts, wantChat) {
		t.Errorf("chat %q, want %q", texts, wantChat)
	}
	if files := got.driveContent(t); !reflect.DeepEqual(files, wantDrive) {
		t.Errorf("drive %v, want %v", sortedKeys(files), sortedKeys(wantDrive))
	}

	// The source's entries are now another box's: this box appends
	// under its own origin, from sequence 1, and the source's entries
	// coming again by sync are taken as known, not refused as its own.
	msg, err := got.chats.Post("atelier", "v2", "Bo", "Après la restauration")
	if err != nil {
		t.Fatal(err)
	}
	heads, _ := got.j.Heads()
	oldOrigin, newOrigin := journal.Origin(src.id.DeviceID), journal.Origin(got.id.DeviceID)
	srcHeads, _ := src.j.Heads()
	if heads[newOrigin] != 1 || heads[oldOrigin] != srcHeads[oldOrigin] {
		t.Errorf("heads %v; want the new origin at 1 and the old at %d", heads, srcHeads[oldOrigin])
	}
	var again []journal.Entry
	src.j.Since(oldOrigin, 0, func(e journal.Entry) error { again = append(again, e); return nil })
	if n, err := got.j.Ingest(again...); err != nil || n != 0 {
		t.Errorf("ingesting the source's entries again: %d new, %v", n, err)
	}
	if texts := got.chatTexts(t, "atelier"); len(texts) != 3 || texts[2] != "Bo: "+msg.Text {
		t.Errorf("chat after a new message: %q", texts)
	}
	// And a reopen (the next start) still shows everything.
	data := got.data
	got.close()
	again2 := openTestBox(t, data)
	if files := again2.driveContent(t); !reflect.DeepEqual(files, wantDrive) {
		t.Errorf("drive after a restart: %v", sortedKeys(files))
	}
}

func TestRoundTripTakeIdentity(t *testing.T) {
	src := sourceBox(t)
	archive, _ := src.backup(t)
	got := openTestBox(t, restoreInto(t, archive, true))
	if got.id.DeviceID != src.id.DeviceID {
		t.Fatalf("device %s, want the source's %s", got.id.DeviceID, src.id.DeviceID)
	}
	if _, err := got.chats.Post("atelier", "v2", "Bo", "suite"); err != nil {
		t.Fatal(err)
	}
	heads, _ := got.j.Heads()
	srcHeads, _ := src.j.Heads()
	o := journal.Origin(src.id.DeviceID)
	if len(heads) != 1 || heads[o] != srcHeads[o]+1 {
		t.Errorf("heads %v, want the source's journal continued", heads)
	}
}

// A restore over a box replaces its database and drive, and keeps what
// it replaced aside, with the pads' write-ahead log of the old database:
// the restored one must not take edits of the box it replaces.
func TestApplyReplacesAndKeepsAside(t *testing.T) {
	src := sourceBox(t)
	archive, _ := src.backup(t)
	other := openTestBox(t, filepath.Join(t.TempDir(), "other"))
	other.upload(t, "", "ancien.txt", "ancien")
	otherID := other.id.DeviceID
	other.close()
	segment := filepath.Join(pad.WALFolder, "0000000000000001.wal")
	os.MkdirAll(filepath.Join(other.data, pad.WALFolder), 0o700)
	if err := os.WriteFile(filepath.Join(other.data, segment), []byte("edits of the old box"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Stage(other.data, bytes.NewReader(archive), false); err != nil {
		t.Fatal(err)
	}
	applied, err := ApplyPending(other.data, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if applied.Aside == "" {
		t.Fatal("nothing kept aside")
	}
	if b, err := os.ReadFile(filepath.Join(applied.Aside, "drive", "ancien.txt")); string(b) != "ancien" {
		t.Errorf("the old drive file aside: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(applied.Aside, store.FileName)); err != nil {
		t.Errorf("the old database aside: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(applied.Aside, segment)); string(b) != "edits of the old box" {
		t.Errorf("the old write-ahead log aside: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(other.data, pad.WALFolder)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a write-ahead log is left in the restored box: %v", err)
	}
	got := openTestBox(t, other.data)
	if got.id.DeviceID != otherID {
		t.Error("the box lost its own identity")
	}
	if files := got.driveContent(t); len(files) != 2 || files["notes.txt"] != "des notes\n" {
		t.Errorf("drive after restore: %v", sortedKeys(files))
	}
}

// A drive file deleted between the snapshot and its copy is left out of
// the archive, which still verifies: it never lists what it lacks.
func TestWriteSkipsFileRemovedMeanwhile(t *testing.T) {
	src := sourceBox(t)
	os.Remove(filepath.Join(src.data, "drive", "notes.txt"))
	archive, m := src.backup(t)
	for _, f := range m.Files {
		if f.Name == DrivePrefix+"notes.txt" {
			t.Fatal("the manifest lists a file the archive cannot hold")
		}
	}
	if _, err := Verify(bytes.NewReader(archive), 0); err != nil {
		t.Fatal(err)
	}
}

func TestGzipArchive(t *testing.T) {
	src := sourceBox(t)
	archive, _ := src.backup(t)
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	zw.Write(archive)
	zw.Close()
	got := openTestBox(t, restoreInto(t, zbuf.Bytes(), false))
	if files := got.driveContent(t); len(files) != 2 {
		t.Errorf("drive: %v", sortedKeys(files))
	}
}

// Every bad archive is refused with ErrArchive (or ErrBadDatabase), and
// the data folder it was restored into is left exactly as it was.
func TestBadArchivesChangeNothing(t *testing.T) {
	src := sourceBox(t)
	good, m := src.backup(t)
	certPEM, _ := os.ReadFile(filepath.Join(src.data, identity.CertFile))
	keyPEM, _ := os.ReadFile(filepath.Join(src.data, identity.KeyFile))
	dev := src.id.DeviceID.String()
	hand := func(entries []entry, edit func(*Manifest)) []byte {
		return handArchive(t, certPEM, keyPEM, dev, entries, edit)
	}
	db := reg(NameDatabase, "not a database, but hashed")
	// Where the second drive file's content starts, to damage it.
	plan := bytes.Index(good, []byte("\x00\x01binaire"))
	corrupt := bytes.Clone(good)
	corrupt[plan+3] ^= 0xff

	symlink := entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "drive/lien", Linkname: "/etc/passwd", ModTime: db.hdr.ModTime}}
	hardlink := entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "drive/lien", Linkname: "tiersbox.db", ModTime: db.hdr.ModTime}}
	folder := entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "drive/dossier/", Mode: 0o755, ModTime: db.hdr.ModTime}}

	// A header that declares a terabyte, then a few bytes.
	var huge bytes.Buffer
	{
		tw := tar.NewWriter(&huge)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: NameCert, Size: int64(len(certPEM)), Mode: 0o644})
		tw.Write(certPEM)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "drive/énorme", Size: 1 << 40, Mode: 0o644})
		tw.Write([]byte("un début"))
		tw.Flush()
	}

	cases := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"empty", nil, "empty"},
		{"not tar", []byte(strings.Repeat("bonjour ", 200)), "tar"},
		{"cut in the middle", good[:len(good)/2], "cut short"},
		{"cut before the manifest", good[:bytes.Index(good, []byte(`"format"`))-600], ""},
		{"cut in the manifest", good[:bytes.Index(good, []byte(`"format"`))+20], ""},
		{"one byte flipped in a drive file", corrupt, "differs from the manifest"},
		{"parent in a name", hand([]entry{db, reg("drive/../../etc/passwd", "x")}, nil), "unexpected entry name"},
		{"parent at the top", hand([]entry{db, reg("../tiersbox.db", "x")}, nil), "unexpected entry name"},
		{"absolute name", hand([]entry{db, reg("/etc/passwd", "x")}, nil), "unexpected entry name"},
		{"absolute in the drive", hand([]entry{db, reg("drive//etc/passwd", "x")}, nil), "unexpected entry name"},
		{"unknown name", hand([]entry{db, reg("settings.toml", "x")}, nil), "unexpected entry name"},
		{"backslash", hand([]entry{db, reg(`drive/..\..\x`, "x")}, nil), "unexpected entry name"},
		{"symlink", hand([]entry{db, symlink}, nil), "not a regular file"},
		{"hard link", hand([]entry{db, hardlink}, nil), "not a regular file"},
		{"folder", hand([]entry{db, folder}, nil), "not a regular file"},
		{"huge declared size", huge.Bytes(), "free on the disk"},
		{"twice the same name", hand([]entry{db, reg("drive/a", "1"), reg("drive/a", "2")}, nil), "appears twice"},
		{"no database", hand([]entry{reg("drive/a", "1")}, nil), "no database"},
		{"manifest lists more", hand([]entry{db}, func(m *Manifest) {
			m.Files = append(m.Files, File{Name: "drive/absent", Size: 1, SHA256: strings.Repeat("0", 64)})
		}), "lists 4 files"},
		{"manifest wrong hash", hand([]entry{db}, func(m *Manifest) { m.Files[2].SHA256 = strings.Repeat("a", 64) }), "differs from the manifest"},
		{"newer format", hand([]entry{db}, func(m *Manifest) { m.Format = 99 }), "format 99"},
		{"other device", hand([]entry{db}, func(m *Manifest) { m.DeviceID = strings.Repeat("A", 56) }), ""},
		{"not a bbolt database", hand([]entry{db}, nil), "database"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A box that is set up: its identity and an empty folder.
			data := filepath.Join(t.TempDir(), "box")
			if _, err := identity.Create(data); err != nil {
				t.Fatal(err)
			}
			before := tree(t, data)
			_, err := Stage(data, bytes.NewReader(c.archive), false)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrArchive) && !errors.Is(err, ErrBadDatabase) {
				t.Errorf("error %v is not ErrArchive", err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if after := tree(t, data); !reflect.DeepEqual(before, after) {
				t.Errorf("the data folder changed: %v, was %v", sortedKeys(after), sortedKeys(before))
			}
			if applied, err := ApplyPending(data, ApplyOptions{}); applied != nil || err != nil {
				t.Errorf("something was left to apply: %v %v", applied, err)
			}
		})
	}
	_ = m
}

// Two restores in the same second keep both sets of replaced data.
func TestTwoRestoresKeepBothAside(t *testing.T) {
	src := sourceBox(t)
	archive, _ := src.backup(t)
	data := filepath.Join(t.TempDir(), "box")
	st, _ := store.Open(data, store.Options{})
	st.Close()
	now := func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }
	var asides []string
	for range 2 {
		if _, err := Stage(data, bytes.NewReader(archive), false); err != nil {
			t.Fatal(err)
		}
		applied, err := ApplyPending(data, ApplyOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		asides = append(asides, applied.Aside)
	}
	if asides[0] == asides[1] {
		t.Fatalf("both restores set aside into %s", asides[0])
	}
	for _, a := range asides {
		if _, err := os.Stat(filepath.Join(a, store.FileName)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
}

func TestCheckFresh(t *testing.T) {
	data := t.TempDir()
	if err := CheckFresh(data); err != nil {
		t.Errorf("an empty folder: %v", err)
	}
	identity.Create(data)
	os.Mkdir(filepath.Join(data, "drive"), 0o750)
	if err := CheckFresh(data); err != nil {
		t.Errorf("an identity and an empty drive: %v", err)
	}
	os.WriteFile(filepath.Join(data, "drive", "x"), nil, 0o600)
	if err := CheckFresh(data); !errors.Is(err, ErrNotFresh) {
		t.Errorf("a drive file: %v", err)
	}
	os.Remove(filepath.Join(data, "drive", "x"))
	st, _ := store.Open(data, store.Options{})
	st.Close()
	if err := CheckFresh(data); !errors.Is(err, ErrNotFresh) {
		t.Errorf("a database: %v", err)
	}
}

// An apply stopped halfway (here after the drive went in place, before
// the database) finishes at the next run, without replacing the restored
// drive by an empty one.
func TestApplyResumesAfterInterruption(t *testing.T) {
	src := sourceBox(t)
	archive, _ := src.backup(t)
	wantDrive := src.driveContent(t)
	data := filepath.Join(t.TempDir(), "box")
	if _, err := Stage(data, bytes.NewReader(archive), false); err != nil {
		t.Fatal(err)
	}
	pending := filepath.Join(data, PendingDir)
	if err := prepare(pending, pendingOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(pending, "drive"), filepath.Join(data, "drive")); err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyPending(data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := openTestBox(t, data)
	if files := got.driveContent(t); !reflect.DeepEqual(files, wantDrive) {
		t.Errorf("drive after a resumed apply: %v", sortedKeys(files))
	}
}
