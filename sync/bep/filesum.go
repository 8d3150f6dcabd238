package bep

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"sync"

	"github.com/syncthing/syncthing/lib/protocol"
)

// fileSum computes the SHA-256 of a file being received, for the drive,
// as its blocks are written: blocks come in parallel and a little out of
// order, so a block written ahead of its turn is read back from the file
// (from the page cache) when its turn comes. The drive then need not read
// the whole file again once it is in place. It is safe for concurrent use.
type fileSum struct {
	r      io.ReaderAt
	blocks []protocol.BlockInfo

	mu   sync.Mutex
	h    hash.Hash
	done []bool
	next int   // the first block not hashed yet
	err  error // reading a block back failed: no sum
}

// newFileSum returns a fileSum for f's blocks, read back from r, or nil
// when the blocks do not lay the file out end to end (a peer's index can
// say anything; the drive then reads the file itself).
func newFileSum(f protocol.FileInfo, r io.ReaderAt) *fileSum {
	var off int64
	for _, b := range f.Blocks {
		if b.Offset != off || b.Size <= 0 {
			return nil
		}
		off += int64(b.Size)
	}
	if off != f.Size || len(f.Blocks) == 0 {
		return nil
	}
	return &fileSum{r: r, blocks: f.Blocks, h: sha256.New(), done: make([]bool, len(f.Blocks))}
}

// written says block i holds data in the file now.
func (s *fileSum) written(i int, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done[i] = true
	if s.err != nil || i != s.next {
		return
	}
	if len(s.blocks) == 1 {
		s.next = 1 // its checked hash is the file's: see sum
		return
	}
	s.h.Write(data)
	s.next++
	for s.next < len(s.blocks) && s.done[s.next] {
		b := s.blocks[s.next]
		buf := protocol.BufferPool.Get(b.Size)
		_, err := s.r.ReadAt(buf, b.Offset)
		if err == nil {
			s.h.Write(buf)
		}
		recycle(buf)
		if err != nil {
			s.err = err
			return
		}
		s.next++
	}
}

// sum returns the file's SHA-256 in hex, or "" when some block was not
// hashed.
func (s *fileSum) sum() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.next != len(s.blocks) {
		return ""
	}
	if len(s.blocks) == 1 {
		// A block is written only once its data matches its hash.
		return hex.EncodeToString(s.blocks[0].Hash)
	}
	return hex.EncodeToString(s.h.Sum(nil))
}
