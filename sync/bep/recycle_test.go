package bep

import (
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
)

// TestRecycle: any received block may be given back, whatever its size;
// only buffers of a block size go to the pool (which panics on others).
func TestRecycle(t *testing.T) {
	for _, n := range []int{0, 10, 300 << 10, 128 << 10, 512 << 10, 17 << 20} {
		recycle(make([]byte, n))
	}
	b := protocol.BufferPool.Get(300 << 10)
	recycle(b)
}
