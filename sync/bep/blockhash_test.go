package bep

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/journal"
)

// A file hashed piece by piece as it grows has the blocks of the same
// bytes hashed at once, whatever the pieces, and asking for the blocks on
// the way does not change the result.
func TestBlockHasherMatchesWholeFile(t *testing.T) {
	const bs = 1 << 10
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, bs - 1, bs, bs + 1, 3 * bs, 5*bs + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		h := newBlockHasher(bs)
		for rest := data; len(rest) > 0; {
			n := min(1+rng.IntN(bs*2), len(rest))
			h.write(rest[:n])
			rest = rest[n:]
			_ = h.blocks()
		}
		got := h.blocks()
		// Blocks computed here independently of blockHasher.
		var want []protocol.BlockInfo
		for off := 0; off < size || (size == 0 && off == 0); off += bs {
			end := min(off+bs, size)
			sum := sha256.Sum256(data[off:end])
			want = append(want, protocol.BlockInfo{Offset: int64(off), Size: end - off, Hash: sum[:]})
			if size == 0 {
				break
			}
		}
		if len(got) != len(want) {
			t.Fatalf("size %d: %d blocks, want %d", size, len(got), len(want))
		}
		for i := range want {
			if got[i].Offset != want[i].Offset || got[i].Size != want[i].Size || !bytes.Equal(got[i].Hash, want[i].Hash) {
				t.Fatalf("size %d block %d: %+v, want %+v", size, i, got[i], want[i])
			}
		}
	}
}

// The journal folder follows a growing segment with running hashes; what
// it announces after many small refreshes is what reading each segment
// whole gives.
func TestGrowingSegmentsAnnouncedAsRead(t *testing.T) {
	b := newTestBox(t, "a")
	jf := b.node.jf
	o := journal.Origin(b.id.DeviceID)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 400 {
		text := fmt.Sprintf("%d %s", i, bytes.Repeat([]byte{'x'}, rng.IntN(12000)))
		if _, err := b.j.Append(journalDraft(text)); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			if err := jf.refresh(o, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := jf.refresh(o, 0); err != nil {
		t.Fatal(err)
	}
	jf.mu.Lock()
	defer jf.mu.Unlock()
	segs := jf.segs[o]
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	for _, s := range segs {
		name := segmentName(o, s.first)
		got, ok := jf.idx.get(name)
		if !ok {
			t.Fatalf("%s not announced", name)
		}
		data, err := jf.read(o, s)
		if err != nil {
			t.Fatal(err)
		}
		want := blocksOf(data, protocol.BlockSize(int64(len(data))))
		if got.Size != int64(len(data)) || string(got.BlocksHash) != string(protocol.BlocksHash(want)) {
			t.Fatalf("%s announced with size %d and blocks %x, read gives %d and %x",
				name, got.Size, got.BlocksHash, len(data), protocol.BlocksHash(want))
		}
	}
}
