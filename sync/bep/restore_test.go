package bep

import (
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// After a restore the box's own index keeps its files and sequence under
// a new index ID; what peers announced is kept only for the same device.
func TestAfterRestore(t *testing.T) {
	for _, same := range []bool{false, true} {
		st, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		li, err := openLocal(st, "drive")
		if err != nil {
			t.Fatal(err)
		}
		f := protocol.FileInfo{Name: "a.txt", Type: protocol.FileInfoTypeFile, Size: 3, Version: protocol.Vector{}.Update(protocol.ShortID(42))}
		if err := li.commit(f); err != nil {
			t.Fatal(err)
		}
		oldID, oldSeq := li.head()
		peer := protocol.DeviceID{9}
		if err := saveRemote(st, peer, "drive", &remoteIndex{IndexID: 77, MaxSeq: 5}, []protocol.FileInfo{f}, true); err != nil {
			t.Fatal(err)
		}

		if err := st.Update(func(tx *bolt.Tx) error { return AfterRestore(tx, same) }); err != nil {
			t.Fatal(err)
		}
		li, err = openLocal(st, "drive")
		if err != nil {
			t.Fatal(err)
		}
		id, seq := li.head()
		got, ok := li.get("a.txt")
		if id == oldID || seq != oldSeq || !ok || !got.Version.Equal(f.Version) {
			t.Errorf("same device %v: index %v seq %d (was %v %d), file %v %v", same, id, seq, oldID, oldSeq, ok, got.Version)
		}
		ri, err := loadRemote(st, peer, "drive")
		if err != nil {
			t.Fatal(err)
		}
		if kept := ri.IndexID == 77 && len(ri.files) == 1; kept != same {
			t.Errorf("same device %v: the peer's index kept: %v", same, kept)
		}
	}
}
