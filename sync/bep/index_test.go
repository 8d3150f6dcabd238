package bep

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/store"
)

// The box's own index keeps a short entry per file in memory and the
// whole descriptions in the database: what it announces (since, whole)
// and what the puller reuses (full) carry the blocks committed, before
// and after a restart, and a file changed again between since and whole
// is announced once, at its later sequence number.
func TestLocalIndexReadsWholeFilesFromTheDatabase(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	li, err := openLocal(st, FolderDrive)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name, content string, by protocol.ShortID) protocol.FileInfo {
		data := []byte(content)
		f := protocol.FileInfo{Name: name, Type: protocol.FileInfoTypeFile, Size: int64(len(data)), Permissions: 0o644,
			ModifiedS: 1_700_000_000, Version: protocol.Vector{}.Update(by), ModifiedBy: by, Blocks: blocksOf(data, 128<<10)}
		f.BlocksHash = protocol.BlocksHash(f.Blocks)
		return f
	}
	var committed []protocol.FileInfo
	for i := range 5 {
		committed = append(committed, file(fmt.Sprintf("f%d.txt", i), fmt.Sprintf("content %d", i), 1))
	}
	if err := li.commit(committed...); err != nil {
		t.Fatal(err)
	}

	g, ok := li.get("f2.txt")
	if !ok || g.Blocks != nil || g.Size != committed[2].Size || string(g.BlocksHash) != string(committed[2].BlocksHash) ||
		!g.Version.Equal(committed[2].Version) || g.Sequence != 3 || g.Permissions != 0o644 || g.ModifiedBy != 1 {
		t.Fatalf("get gives %+v", g)
	}
	if _, ok := li.get("missing.txt"); ok {
		t.Fatal("get finds a file never committed")
	}
	f, ok, err := li.full("f2.txt")
	if err != nil || !ok || len(f.Blocks) != 1 || string(f.Blocks[0].Hash) != string(committed[2].Blocks[0].Hash) {
		t.Fatalf("full gives %+v, %v, %v", f, ok, err)
	}
	if _, ok, err := li.full("missing.txt"); ok || err != nil {
		t.Fatalf("full of a missing file: %v, %v", ok, err)
	}

	names, _ := li.since(0)
	// f1 changes after since listed it: whole leaves it out, and since
	// lists it again after the others.
	if err := li.commit(file("f1.txt", "changed", 2)); err != nil {
		t.Fatal(err)
	}
	got, err := li.whole(names)
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, f := range got {
		gotNames = append(gotNames, f.Name)
		if len(f.Blocks) != 1 {
			t.Fatalf("%s announced with %d blocks", f.Name, len(f.Blocks))
		}
	}
	if want := []string{"f0.txt", "f2.txt", "f3.txt", "f4.txt"}; !slices.Equal(gotNames, want) {
		t.Fatalf("whole gave %v, want %v", gotNames, want)
	}
	later, _ := li.since(names[len(names)-1].seq)
	if len(later) != 1 || later[0].name != "f1.txt" || later[0].seq != 6 {
		t.Fatalf("after the batch since gives %v", later)
	}

	// After a restart the entries come from the database.
	st.Close()
	if st, err = store.Open(dir, store.Options{}); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if li, err = openLocal(st, FolderDrive); err != nil {
		t.Fatal(err)
	}
	_, seq, entries := li.snapshot()
	if seq != 6 || len(entries) != 5 || entries["f1.txt"].sequence != 6 || entries["f1.txt"].modifiedBy != 2 {
		t.Fatalf("after a restart: sequence %d, entries %+v", seq, entries)
	}
	all, _ := li.since(0)
	whole, err := li.whole(all)
	if err != nil || len(whole) != 5 || whole[4].Name != "f1.txt" || whole[4].Blocks[0].Size != len("changed") {
		t.Fatalf("after a restart whole gives %+v, %v", whole, err)
	}
}

// indexRecorder is a connection that keeps the Index and IndexUpdate
// messages sent on it; onIndex runs at the first.
type indexRecorder struct {
	protocol.Connection
	mu      sync.Mutex
	msgs    []indexMsg
	onIndex func()
}

type indexMsg struct {
	prev, last int64
	seqs       []int64
}

func (r *indexRecorder) record(prev, last int64, files []protocol.FileInfo) {
	m := indexMsg{prev: prev, last: last}
	for _, f := range files {
		m.seqs = append(m.seqs, f.Sequence)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *indexRecorder) Index(_ context.Context, idx *protocol.Index) error {
	r.record(0, idx.LastSequence, idx.Files)
	if r.onIndex != nil {
		r.onIndex()
	}
	return nil
}

func (r *indexRecorder) IndexUpdate(_ context.Context, u *protocol.IndexUpdate) error {
	r.record(u.PrevSequence, u.LastSequence, u.Files)
	return nil
}

// What sendIndex tells a peer keeps Syncthing's rules: every update
// starts where the previous message ended, ends at its last file's
// sequence number and is never empty; also when the last file of a batch
// is committed again between the listing and the reading.
func TestSendIndexSequences(t *testing.T) {
	li := openTestIndex(t)
	file := func(i int, by protocol.ShortID) protocol.FileInfo {
		return protocol.FileInfo{Name: fmt.Sprintf("f%04d", i), Type: protocol.FileInfoTypeFile, Version: protocol.Vector{}.Update(by)}
	}
	var files []protocol.FileInfo
	for i := range indexBatch + 500 {
		files = append(files, file(i, 1))
	}
	if err := li.commit(files...); err != nil {
		t.Fatal(err)
	}
	rec := &indexRecorder{}
	// While the first batch is sent, the last file listed changes: the
	// second batch is read without it, and it follows at its new number.
	rec.onIndex = func() {
		if err := li.commit(file(indexBatch+499, 2)); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &peer{node: &Node{logger: slog.New(slog.DiscardHandler)}, conn: rec, ctx: ctx}
	done := make(chan struct{})
	go func() { p.sendIndex(FolderDrive, li, 0); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		rec.mu.Lock()
		n := len(rec.msgs)
		rec.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages sent, want 3", n)
		}
	}
	cancel()
	li.commit(file(0, 3)) // wakes sendIndex, which sees the end
	<-done

	total := int64(indexBatch + 501)
	var prevLast, count int64
	for i, m := range rec.msgs {
		if i > 0 && (len(m.seqs) == 0 || m.prev != prevLast) {
			t.Fatalf("message %d: previous %d after a last of %d, %d files", i, m.prev, prevLast, len(m.seqs))
		}
		for j, s := range m.seqs {
			if s <= prevLast || j > 0 && s <= m.seqs[j-1] {
				t.Fatalf("message %d: sequence %d out of order", i, s)
			}
		}
		if len(m.seqs) > 0 && m.last != m.seqs[len(m.seqs)-1] {
			t.Fatalf("message %d: last sequence %d, its last file has %d", i, m.last, m.seqs[len(m.seqs)-1])
		}
		prevLast = m.last
		count += int64(len(m.seqs))
		if prevLast == total {
			break
		}
	}
	if prevLast != total || count != total-1 {
		t.Fatalf("told of %d files up to %d, want %d up to %d", count, prevLast, total-1, total)
	}
}

// A file removed from the drive folder is announced deleted from its
// whole description, as Syncthing does: what a peer said of it (here,
// that it keeps no permissions) stays, its blocks go.
func TestScanDeletesFromTheWholeDescription(t *testing.T) {
	dir := t.TempDir()
	li := openTestIndex(t)
	df := &driveFolder{root: dir, me: 5, idx: li, logger: slog.New(slog.DiscardHandler)}
	p := filepath.Join(dir, "de-windows.txt")
	if err := os.WriteFile(p, []byte("reçu d'un pair"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	// As the puller records a file a peer sent.
	f, err := hashFile(p, "de-windows.txt", info)
	if err != nil {
		t.Fatal(err)
	}
	f.NoPermissions, f.Permissions, f.Version, f.ModifiedBy = true, 0, protocol.Vector{}.Update(9), 9
	if err := li.commit(f); err != nil {
		t.Fatal(err)
	}
	if err := df.scan(); err != nil {
		t.Fatal(err)
	}
	if g, _, _ := li.full("de-windows.txt"); g.Sequence != 1 {
		t.Fatalf("an unchanged file was announced again (sequence %d)", g.Sequence)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := df.scan(); err != nil {
		t.Fatal(err)
	}
	g, ok, err := li.full("de-windows.txt")
	if err != nil || !ok || !g.IsDeleted() || !g.NoPermissions || len(g.Blocks) != 0 || g.Size != 0 ||
		g.ModifiedBy != 5 || g.Version.Counter(9) != f.Version.Counter(9) || g.Version.Counter(5) == 0 {
		t.Fatalf("announced deleted as %+v (%v, %v)", g, ok, err)
	}
}

// openTestIndex opens the drive folder's index in a new database.
func openTestIndex(t *testing.T) *localIndex {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	li, err := openLocal(st, FolderDrive)
	if err != nil {
		t.Fatal(err)
	}
	return li
}
