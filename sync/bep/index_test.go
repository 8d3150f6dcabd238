package bep

import (
	"fmt"
	"slices"
	"testing"

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
