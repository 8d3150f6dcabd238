package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// testBox is a box's data folder opened as the daemon opens it.
type testBox struct {
	data  string
	id    *identity.Identity
	st    *store.Store
	j     *journal.Journal
	chats *chat.Service
	files *drive.Service
}

// openTestBox opens the box in data, with its identity (created when the
// folder has none).
func openTestBox(t *testing.T, data string) *testBox {
	t.Helper()
	id, _, err := identity.LoadOrCreate(data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(st, journal.Origin(id.DeviceID), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	chats, err := chat.New(st, j, chat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := drive.New(st, j, drive.Options{
		Dir: filepath.Join(data, "drive"), TmpDir: filepath.Join(data, "drive-tmp"), ThumbDir: filepath.Join(data, "drive-thumbs"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBox{data: data, id: id, st: st, j: j, chats: chats, files: files}
	t.Cleanup(b.close)
	return b
}

func (b *testBox) close() {
	if b.files != nil {
		b.files.Close()
		b.files = nil
	}
	if b.st != nil {
		b.st.Close()
		b.st = nil
	}
}

// sourceBox is a box with chat messages and drive files.
func sourceBox(t *testing.T) *testBox {
	t.Helper()
	b := openTestBox(t, filepath.Join(t.TempDir(), "source"))
	b.chats.Create("atelier", "staff")
	for _, text := range []string{"Bonjour !", "Le fablab ouvre à 14 h."} {
		if _, err := b.chats.Post("atelier", "v1", "Ana", text); err != nil {
			t.Fatal(err)
		}
	}
	b.upload(t, "", "notes.txt", "des notes\n")
	b.upload(t, "Photos", "plan.bin", strings.Repeat("\x00\x01binaire", 5000))
	return b
}

func (b *testBox) upload(t *testing.T, folder, name, content string) drive.File {
	t.Helper()
	f, err := b.files.Upload(context.Background(), drive.UploadRequest{Folder: folder, Name: name, Author: "v1", Nickname: "Ana"}, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (b *testBox) backup(t *testing.T) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := Write(&buf, Source{Store: b.st, DataDir: b.data, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// chatTexts is a channel's messages, oldest first.
func (b *testBox) chatTexts(t *testing.T, channel string) []string {
	t.Helper()
	var out []string
	err := b.chats.All(channel, func(m chat.Message) error {
		out = append(out, m.Nick+": "+m.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// driveContent maps each listed file to its content, read through the
// drive.
func (b *testBox) driveContent(t *testing.T) map[string]string {
	t.Helper()
	files, err := b.files.ListAll(drive.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, f := range files {
		fh, _, err := b.files.Open(f.Path)
		if err != nil {
			t.Fatalf("open %s: %v", f.Path, err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(fh)
		fh.Close()
		out[f.Path] = buf.String()
	}
	return out
}

// tree is every file under dir with its content, and every folder, to
// check that a refused restore changed nothing.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, _ := os.ReadFile(p)
		out[rel] = string(b)
		return nil
	})
	return out
}

// entry is one entry of a hand-made archive.
type entry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o644, ModTime: time.Unix(1700000000, 0)}, body: body}
}

// handArchive makes an archive of the entries and a manifest that lists
// them (changed by edit, when not nil), with the identity of id's files.
func handArchive(t testing.TB, certPEM, keyPEM []byte, deviceID string, entries []entry, edit func(*Manifest)) []byte {
	t.Helper()
	all := append([]entry{reg(NameCert, string(certPEM)), reg(NameKey, string(keyPEM))}, entries...)
	m := Manifest{Format: FormatVersion, BoxVersion: "test", DeviceID: deviceID, Created: time.Unix(1700000000, 0).UTC()}
	for _, e := range all {
		sum := sha256.Sum256([]byte(e.body))
		m.Files = append(m.Files, File{Name: e.hdr.Name, Size: e.hdr.Size, SHA256: hex.EncodeToString(sum[:])})
	}
	if edit != nil {
		edit(&m)
	}
	mj, _ := json.Marshal(m)
	all = append(all, reg(NameManifest, string(mj)))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range all {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
		tw.Flush()
	}
	tw.Close()
	return buf.Bytes()
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
