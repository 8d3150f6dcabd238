package bep

import (
	"fmt"
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
	"pgregory.net/rapid"
)

// The tallies kept name by name always equal a count of both indexes
// whole, whatever the order of this box's commits and the peer's index
// messages; so do the sums of what this box holds.
func TestTallyFollowsBothIndexes(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		li := openTestIndex(t)
		li.wants = func(name string, le fileEntry, have bool, re fileEntry) bool {
			ok, _ := wantDriveFile(le.info(name), have, re.info(name))
			return ok
		}
		ri := &remoteIndex{files: map[string]fileEntry{}}
		li.track(ri)
		other := &remoteIndex{files: map[string]fileEntry{}} // a peer gone
		li.track(other)
		li.untrack(other)
		gen := fileGen()
		for i := range rapid.IntRange(1, 30).Draw(rt, "steps") {
			files := rapid.SliceOfN(gen, 1, 4).Draw(rt, fmt.Sprint("files ", i))
			switch rapid.IntRange(0, 2).Draw(rt, fmt.Sprint("op ", i)) {
			case 0:
				if err := li.commit(files...); err != nil {
					rt.Fatal(err)
				}
			case 1:
				li.takeRemote(ri, files, false)
			case 2:
				li.takeRemote(ri, files, true)
			}
			if got, want := li.state(ri), countWhole(li, ri); got != want {
				rt.Fatalf("step %d: tally %+v, counted whole %+v", i, got, want)
			}
			n, size := heldWhole(li)
			if li.heldFiles != n || li.heldBytes != size {
				rt.Fatalf("step %d: holds %d files, %d bytes; counted whole %d, %d", i, li.heldFiles, li.heldBytes, n, size)
			}
		}
	})
}

// fileGen draws files among a few names, with versions from two devices
// that can be equal, ordered or concurrent.
func fileGen() *rapid.Generator[protocol.FileInfo] {
	return rapid.Custom(func(t *rapid.T) protocol.FileInfo {
		f := protocol.FileInfo{
			Name:      rapid.SampledFrom([]string{"a", "b", "c", "d/e", "d"}).Draw(t, "name"),
			Size:      rapid.Int64Range(0, 1000).Draw(t, "size"),
			ModifiedS: rapid.Int64Range(0, 3).Draw(t, "modified"),
			Deleted:   rapid.Bool().Draw(t, "deleted"),
		}
		if rapid.IntRange(0, 4).Draw(t, "kind") == 0 {
			f.Type = protocol.FileInfoTypeDirectory
		}
		for _, id := range []protocol.ShortID{1, 2} {
			if v := rapid.Uint64Range(0, 3).Draw(t, "counter"); v > 0 {
				f.Version = f.Version.Update(id)
				for range v - 1 {
					f.Version = f.Version.Update(id)
				}
			}
		}
		f.ModifiedBy = rapid.SampledFrom([]protocol.ShortID{1, 2}).Draw(t, "by")
		return f
	})
}

// countWhole is what the status counted before tallies: every name of
// both indexes, one by one.
func countWhole(li *localIndex, ri *remoteIndex) FolderState {
	li.mu.Lock()
	defer li.mu.Unlock()
	st := FolderState{ID: li.folder}
	for name, e := range ri.files {
		le, have := li.files[name]
		wanted, _ := wantDriveFile(le.info(name), have, e.info(name))
		if wanted && !e.deleted {
			st.NeedFiles++
			st.NeedBytes += e.size
		}
	}
	for name, le := range li.files {
		e, have := ri.files[name]
		if le.deleted || le.typ == protocol.FileInfoTypeDirectory {
			continue
		}
		if !have || le.version.Compare(e.version) == protocol.Greater {
			st.TheyNeedFiles++
			st.TheyNeedBytes += le.size
		}
	}
	return st
}

// heldWhole sums the files this box holds, one by one.
func heldWhole(li *localIndex) (files int, bytes int64) {
	li.mu.Lock()
	defer li.mu.Unlock()
	for _, e := range li.files {
		if !e.deleted && e.typ == protocol.FileInfoTypeFile {
			files++
			bytes += e.size
		}
	}
	return files, bytes
}
