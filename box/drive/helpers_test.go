package drive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// testBox is a drive over a store in a temporary data folder.
type testBox struct {
	data string
	st   *store.Store
	j    *journal.Journal
	svc  *Service
	opts Options
}

var ownOrigin = journal.Origin{7}

func (b *testBox) dir() string   { return filepath.Join(b.data, "drive") }
func (b *testBox) tmp() string   { return filepath.Join(b.data, "drive-tmp") }
func (b *testBox) thumb() string { return filepath.Join(b.data, "drive-thumbs") }

// openBox opens (or reopens) the box in data. Options left zero get the
// data folder's subfolders.
func openBox(t *testing.T, data string, opts Options) *testBox {
	t.Helper()
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(st, ownOrigin, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBox{data: data, st: st, j: j}
	if opts.Dir == "" {
		opts.Dir, opts.TmpDir, opts.ThumbDir = b.dir(), b.tmp(), b.thumb()
	}
	b.opts = opts
	svc, err := New(st, j, opts)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	b.svc = svc
	t.Cleanup(func() { b.close() })
	return b
}

// close closes the service and the store; closing twice does nothing.
func (b *testBox) close() {
	if b.svc != nil {
		b.svc.Close()
		b.svc = nil
	}
	if b.st != nil {
		b.st.Close()
		b.st = nil
	}
}

func (b *testBox) reopen(t *testing.T) *testBox {
	t.Helper()
	b.close()
	return openBox(t, b.data, b.opts)
}

func (b *testBox) upload(t *testing.T, folder, name, content string) File {
	t.Helper()
	f, err := b.svc.Upload(context.Background(), UploadRequest{Folder: folder, Name: name, Author: "v-ana", Nickname: "Ana",
		Licence: "CC BY-SA 4.0"}, bytes.NewReader([]byte(content)))
	if err != nil {
		t.Fatalf("upload %s/%s: %v", folder, name, err)
	}
	return f
}

// records returns the derived state: every path's raw record, and the
// meta record under "meta" if meta is set.
func (b *testBox) records(t *testing.T, withMeta bool) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := b.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketDrive).ForEach(func(k, v []byte) error {
			if bytes.Equal(k, metaKey) {
				if withMeta {
					out["meta"] = string(v)
				}
				return nil
			}
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *testBox) intents(t *testing.T) int {
	t.Helper()
	n := 0
	b.st.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(store.BucketDriveUploads).Stats().KeyN
		return nil
	})
	return n
}

// diskFiles returns the regular files in the drive folder, by path, with
// their content's hash.
func (b *testBox) diskFiles(t *testing.T) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(b.dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.dir(), p)
		out[filepath.ToSlash(rel)] = sum(string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// checkConsistent fails t unless the drive folder holds exactly the
// listed files with their content, no upload is pending and TmpDir is
// empty: what must hold after any crash and restart.
func (b *testBox) checkConsistent(t *testing.T) {
	t.Helper()
	all, err := b.svc.ListAll(ListOptions{Hidden: true})
	if err != nil {
		t.Fatal(err)
	}
	disk := b.diskFiles(t)
	var used int64
	for _, f := range all {
		used += f.Size
		if disk[f.Path] != f.SHA256 {
			t.Errorf("%s is listed with %s, the disk has %q", f.Path, f.SHA256[:8], disk[f.Path])
		}
		delete(disk, f.Path)
	}
	for p := range disk {
		t.Errorf("%s is on disk but not listed", p)
	}
	if n := b.intents(t); n != 0 {
		t.Errorf("%d upload intents left", n)
	}
	if left := dirEntries(t, b.tmp()); len(left) != 0 {
		t.Errorf("temporary folder holds %v", left)
	}
	if got, _ := b.svc.Usage(); got != used {
		t.Errorf("usage %d, listed files take %d", got, used)
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func paths(fs []File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Path
	}
	return out
}

func sortedPaths(fs []File) []string {
	out := paths(fs)
	sort.Strings(out)
	return out
}

// remote builds the entries of another box's journal.
type remote struct {
	origin journal.Origin
	seq    uint64
	time   journal.Time
}

func (r *remote) entry(kind journal.Kind, path, author string, payload any) journal.Entry {
	r.seq++
	r.time += 1 << 16
	p, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return journal.Entry{Origin: r.origin, Seq: r.seq, Time: r.time, Kind: kind, Target: TargetPrefix + path, Author: author, Payload: p}
}

func (r *remote) file(path, content string) journal.Entry {
	return r.entry(KindFile, path, "v-remote", FilePayload{Path: path, Size: int64(len(content)), SHA256: sum(content),
		ContentType: "text/plain; charset=utf-8", Nickname: "Bo"})
}

func (r *remote) op(kind journal.Kind, path string) journal.Entry {
	return r.entry(kind, path, "staff", PathPayload{Path: path})
}

// endless reads zeros without end.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

var _ io.Reader = endless{}

// Short names for the store's buckets in tests that write them directly.
type bbTx = bolt.Tx

var (
	bucketDrive   = store.BucketDrive
	bucketUploads = store.BucketDriveUploads
)
