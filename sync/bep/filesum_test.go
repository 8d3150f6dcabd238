package bep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
)

// The sum of a file written block by block in any order is its SHA-256;
// blocks that do not lay the file out end to end give no sum, nor does a
// block that cannot be read back.
func TestFileSum(t *testing.T) {
	content := make([]byte, 1_000_003)
	rand.NewChaCha8([32]byte{1}).Read(content)
	want := sha256.Sum256(content)
	f := protocol.FileInfo{Name: "f", Size: int64(len(content)), Blocks: blocksOf(content, 128<<10)}
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 0))
		s := newFileSum(f, bytes.NewReader(content))
		if s == nil {
			t.Fatal("no fileSum for well-formed blocks")
		}
		for _, i := range r.Perm(len(f.Blocks)) {
			b := f.Blocks[i]
			if got := s.sum(); got != "" {
				t.Fatalf("seed %d: a sum %q before every block was written", seed, got)
			}
			s.written(i, content[b.Offset:b.Offset+int64(b.Size)])
		}
		if got := s.sum(); got != hex.EncodeToString(want[:]) {
			t.Fatalf("seed %d: sum %s, want %x", seed, got, want)
		}
	}

	// Blocks written at once by as many goroutines, as the puller does.
	for seed := range uint64(20) {
		s := newFileSum(f, bytes.NewReader(content))
		var wg sync.WaitGroup
		for _, i := range rand.New(rand.NewPCG(seed, 1)).Perm(len(f.Blocks)) {
			b := f.Blocks[i]
			wg.Go(func() { s.written(i, content[b.Offset:b.Offset+int64(b.Size)]) })
		}
		wg.Wait()
		if got := s.sum(); got != hex.EncodeToString(want[:]) {
			t.Fatalf("concurrent, seed %d: sum %s, want %x", seed, got, want)
		}
	}

	one := []byte("a small file")
	single := protocol.FileInfo{Name: "s", Size: int64(len(one)), Blocks: blocksOf(one, 128<<10)}
	s := newFileSum(single, bytes.NewReader(one))
	s.written(0, one)
	if got, want := s.sum(), sha256.Sum256(one); got != hex.EncodeToString(want[:]) {
		t.Fatalf("single block: sum %s, want %x", got, want)
	}

	for name, blocks := range map[string][]protocol.BlockInfo{
		"gap":      {{Offset: 0, Size: 10}, {Offset: 20, Size: 10}},
		"overlap":  {{Offset: 0, Size: 10}, {Offset: 5, Size: 25}},
		"short":    {{Offset: 0, Size: 10}},
		"empty":    {{Offset: 0, Size: 0}, {Offset: 0, Size: 30}},
		"no block": nil,
	} {
		if newFileSum(protocol.FileInfo{Size: 30, Blocks: blocks}, bytes.NewReader(make([]byte, 30))) != nil {
			t.Errorf("%s: a fileSum for blocks that do not lay out the file", name)
		}
	}

	broken := newFileSum(f, readerAt(func([]byte, int64) (int, error) { return 0, errors.New("disk gone") }))
	for i := len(f.Blocks) - 1; i >= 0; i-- {
		b := f.Blocks[i]
		broken.written(i, content[b.Offset:b.Offset+int64(b.Size)])
	}
	if got := broken.sum(); got != "" {
		t.Fatalf("a sum %q although blocks could not be read back", got)
	}
}

type readerAt func(p []byte, off int64) (int, error)

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r(p, off) }
