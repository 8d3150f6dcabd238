package bep

import (
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
)

// What a box keeps in memory of a peer's file decides as the whole
// description would: same version key (what refused remembers), same
// rank, same state, same outcome against this box's own version.
func TestFileEntryDecidesAsTheWholeFile(t *testing.T) {
	data := []byte("content of a file a peer announced")
	base := protocol.FileInfo{Name: "docs/a.txt", Type: protocol.FileInfoTypeFile, Size: int64(len(data)),
		ModifiedS: 1_700_000_000, ModifiedNs: 42, Sequence: 7, Permissions: 0o644,
		Version: protocol.Vector{}.Update(1).Update(2), Blocks: blocksOf(data, 128<<10)}
	base.BlocksHash = protocol.BlocksHash(base.Blocks)
	deleted := base
	deleted.Version = base.Version.Copy().Update(3)
	deleted.SetDeleted(3)
	invalid := base
	invalid.RawInvalid = true
	dir := protocol.FileInfo{Name: "docs", Type: protocol.FileInfoTypeDirectory, Version: base.Version}
	mine := base
	mine.Version = protocol.Vector{}.Update(1)
	for name, f := range map[string]protocol.FileInfo{"file": base, "deleted": deleted, "invalid": invalid, "folder": dir} {
		got := entryOf(f).info(f.Name)
		if versionKey(got) != versionKey(f) {
			t.Errorf("%s: version key differs", name)
		}
		if wantRank(got) != wantRank(f) || got.IsDeleted() != f.IsDeleted() || got.IsInvalid() != f.IsInvalid() ||
			got.IsDirectory() != f.IsDirectory() || !got.ModTime().Equal(f.ModTime()) || got.Size != f.Size || got.Sequence != f.Sequence {
			t.Errorf("%s: %+v does not describe %+v", name, got, f)
		}
		for _, have := range []bool{false, true} {
			ok1, c1 := wantDriveFile(mine, have, f)
			ok2, c2 := wantDriveFile(mine, have, got)
			if ok1 != ok2 || c1 != c2 {
				t.Errorf("%s (have %v): wanted %v/%v, from memory %v/%v", name, have, ok1, c1, ok2, c2)
			}
		}
	}
}
