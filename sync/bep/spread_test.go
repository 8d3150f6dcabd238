package bep

import (
	"slices"
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
)

// Files pulled together land in different folders; folders still come
// first and deletions last, and nothing is lost or repeated.
func TestSpreadFolders(t *testing.T) {
	f := func(name string, typ protocol.FileInfoType, deleted bool) pick {
		return pick{name: name, rank: wantRank(protocol.FileInfo{Name: name, Type: typ, Deleted: deleted})}
	}
	file := protocol.FileInfoTypeFile
	dir := protocol.FileInfoTypeDirectory
	in := []pick{
		f("a", dir, false), f("b", dir, false),
		f("a/1", file, false), f("a/2", file, false), f("a/3", file, false),
		f("b/1", file, false), f("top", file, false),
		f("old", file, true),
	}
	var got []string
	for _, w := range spreadFolders(slices.Clone(in)) {
		got = append(got, w.name)
	}
	want := []string{"a", "b", "a/1", "b/1", "top", "a/2", "a/3", "old"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if got := spreadFolders(nil); len(got) != 0 {
		t.Fatalf("empty list: %v", got)
	}
}
