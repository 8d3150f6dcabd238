package web

import "errors"

// frameHandler receives what a polled connection sends. Both methods are
// called on the poller's goroutine and must not block.
type frameHandler interface {
	// frame is a message or control frame; an error ends the reading,
	// and ended is called with it.
	frame(op byte, payload []byte) error
	// ended says the reading stopped: the client left (io.EOF), the
	// network failed, a frame was refused (errBadFrame,
	// errFrameTooBig) or nothing came for the idle time (errIdle).
	// It is not called after remove.
	ended(err error)
}

var errIdle = errors.New("websocket: nothing heard from the client")

// end stops reading the connection and tells its handler why, once.
func (c *polled) end(err error) {
	if c.remove() {
		c.h.ended(err)
	}
}
