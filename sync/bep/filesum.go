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
	h      hash.Hash // written only by the goroutine that is hashing

	mu      sync.Mutex
	done    []bool
	next    int   // the first block not hashed yet
	hashing bool  // a goroutine is hashing block next and those after it
	err     error // reading a block back failed: no sum
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

// written says block i, data, is in the file now. The goroutine whose
// block is next in turn hashes it, then the blocks already written after
// it, reading them back; it does so without holding the lock, so that
// the others, whose blocks are ahead, only mark them and go on fetching
// (a block late by a minute could otherwise leave the whole backlog to be
// read back while every other fetch of the file waited).
func (s *fileSum) written(i int, data []byte) {
	s.mu.Lock()
	s.done[i] = true
	if s.hashing || s.err != nil || i != s.next {
		s.mu.Unlock()
		return
	}
	if len(s.blocks) == 1 {
		s.next = 1 // its checked hash is the file's: see sum
		s.mu.Unlock()
		return
	}
	s.hashing = true
	s.mu.Unlock()
	s.h.Write(data)
	var err error
	for {
		s.mu.Lock()
		if err != nil {
			s.err = err
		} else {
			s.next++
		}
		if s.err != nil || s.next == len(s.blocks) || !s.done[s.next] {
			s.hashing = false
			s.mu.Unlock()
			return
		}
		b := s.blocks[s.next]
		s.mu.Unlock()
		err = s.readBack(b)
	}
}

// readBack hashes block b as it is in the file.
func (s *fileSum) readBack(b protocol.BlockInfo) error {
	buf := protocol.BufferPool.Get(b.Size)
	defer recycle(buf)
	if _, err := s.r.ReadAt(buf, b.Offset); err != nil {
		return err
	}
	s.h.Write(buf)
	return nil
}

// sum returns the file's SHA-256 in hex, or "" when some block was not
// hashed. It is called once every block is written.
func (s *fileSum) sum() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.hashing || s.next != len(s.blocks) {
		return ""
	}
	if len(s.blocks) == 1 {
		// A block is written only once its data matches its hash.
		return hex.EncodeToString(s.blocks[0].Hash)
	}
	return hex.EncodeToString(s.h.Sum(nil))
}
