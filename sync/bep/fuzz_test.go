package bep

import (
	"path/filepath"
	"strings"
	"testing"

	"tiersbox/box/journal"
)

// FuzzCheckName: a name checkName accepts never leads outside the folder.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a.txt", "photos/atelier.jpg", "../x", "/etc/passwd", "a/./b", "a//b", `a\b`, "é/ü.txt", ".stfolder", "a/..", strings.Repeat("a/", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		root := "/srv/tiersbox/drive"
		p := filepath.Join(root, filepath.FromSlash(name))
		if !strings.HasPrefix(p, root+"/") {
			t.Fatalf("%q accepted but leads to %q", name, p)
		}
		for _, part := range strings.Split(name, "/") {
			if part == ".." || part == "." || part == "" {
				t.Fatalf("%q accepted with component %q", name, part)
			}
		}
	})
}

// FuzzParseSegment: whatever bytes a peer sends as a segment, parsing
// never panics, and what it accepts is a dense run of the segment's
// origin starting at its first sequence number.
func FuzzParseSegment(f *testing.F) {
	var o journal.Origin
	o[0] = 7
	good := journal.Entry{Origin: o, Seq: 3, Time: 1 << 20, Kind: "chat.post", Target: "chat/x", Payload: []byte("hello")}
	next := good
	next.Seq = 4
	f.Add(append(good.Encode(), next.Encode()...))
	f.Add(good.Encode()[:10])
	f.Add([]byte("TJ\x01\xff\xff\xff\xff\x0f"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseSegment("x", o, 3, data)
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.Origin != o || e.Seq != uint64(3+i) {
				t.Fatalf("accepted entry %v/%d at position %d", e.Origin, e.Seq, i)
			}
		}
	})
}
