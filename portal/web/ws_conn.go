package web

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is a websocket after its handshake, shared by pads and chat. The
// websocket package answers the handshake; from then on the box speaks
// the frames itself, on the bare connection: the poller reads
// (wspoll_linux.go, wsframe.go) and this writes. A connection has no
// goroutine of its own while it has nothing to send: hundreds of phones
// stay connected to a box, mostly idle, and each goroutine costs a stack.
// A writer goroutine runs only while messages wait (see enqueue), and a
// timer, not a goroutine, pings the client now and then.
type wsConn struct {
	conn net.Conn
	op   byte // opBinary or opText

	wmu sync.Mutex // one writer at a time: the writer goroutine or close

	mu       sync.Mutex
	queue    [][]byte // messages waiting for the writer
	ping     bool     // a ping waits for the writer
	pong     []byte   // a pong waits for the writer, answering this ping
	writing  bool     // a writer goroutine is running
	closed   bool
	broken   bool      // a write failed: the stream may end inside a frame
	deadline time.Time // of writes, as last set
	pinger   *time.Timer

	onClose func() // see whenClosed

	// compact, when set, rewrites the messages waiting for a client into
	// fewer, with the same effect on the client (see enqueue). It must
	// not change the messages it is given, which are shared with other
	// connections, and must be quick: it runs under mu, and under the
	// locks of whoever sends (a pad's, for its updates).
	compact func([][]byte) [][]byte

	polled *polled   // the connection in the poller (see readBy)
	rate   frameRate // the client's allowance of frames, used by the poller only
}

// newWSConn takes over the connection of ws, whose handshake is done;
// ws itself is not used again.
func newWSConn(ws *websocket.Conn, op byte) *wsConn {
	c := &wsConn{conn: ws.NetConn(), op: op, rate: newFrameRate()}
	c.pinger = time.AfterFunc(pingEvery, c.sendPing)
	return c
}

// close ends the connection with a code and reason, once. It waits at
// most a second for a write under way and for the close frame to leave,
// and a second more for the client to answer it (see linger).
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.queue = true, nil
	onClose, broken := c.onClose, c.broken
	c.pinger.Stop()
	// Under mu, so that the writer does not give itself more time after.
	c.deadline = time.Now().Add(time.Second)
	c.conn.SetWriteDeadline(c.deadline)
	c.mu.Unlock()
	// The connection leaves the poller and its room first: what the
	// client still sends is read by linger, and dropped.
	if onClose != nil {
		onClose()
	}
	if len(reason) > 123 {
		reason = reason[:123] // a control frame holds 125 bytes
	}
	payload := binary.BigEndian.AppendUint16(nil, uint16(code))
	payload = append(payload, reason...)
	c.wmu.Lock()
	if !broken {
		c.conn.Write(appendFrame(nil, opClose, payload))
	}
	c.wmu.Unlock()
	if !broken {
		c.linger()
	}
	c.conn.Close()
}

// linger lets the client read the close frame: the box stops sending and
// reads what the client still sends until it closes its side (its answer
// to the close frame), for a second at most. Closing at once would make
// the system answer those bytes with a reset, on which a client may drop
// the close frame unread, and its reason with it: a pad's editor relies
// on 4001 to turn read-only.
func (c *wsConn) linger() {
	cw, ok := c.conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.conn.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(c.conn, 64<<10))
}

// readBy has the poller read the connection for h, in messages of up to
// limit bytes; cleanup runs once the connection is closed, whoever
// closes it. On an error the caller closes the connection.
func (c *wsConn) readBy(h frameHandler, limit int, cleanup func()) error {
	poll, err := sharedPoller()
	if err != nil {
		c.whenClosed(cleanup)
		return err
	}
	c.polled = poll.prepare(c.conn, limit, h)
	c.whenClosed(func() {
		c.polled.remove()
		cleanup()
	})
	return c.polled.start()
}

// control answers what any client may send besides messages: every frame
// counts against its rate, a ping is answered, a pong is a sign of life
// and a close the end. It reports whether op is a message, for the
// caller to take.
func (c *wsConn) control(op byte, payload []byte) (message bool, err error) {
	if op == opClose {
		return false, errClientClosed
	}
	if !c.rate.allow() {
		return false, errTooMany
	}
	switch op {
	case opPing:
		c.sendPong(payload)
		return false, nil
	case opPong:
		return false, nil // heard: the poller keeps the connection alive
	}
	return true, nil
}

// ended closes the connection once the poller stopped reading it, with a
// reason when the client broke a rule.
func (c *wsConn) ended(err error) { go c.close(endReason(err)) }

// whenClosed sets f to run when the connection closes, whoever closes it
// (before the close frame is sent); if it is closed already, f runs now.
func (c *wsConn) whenClosed(f func()) {
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.onClose = f
	}
	c.mu.Unlock()
	if closed {
		f()
	}
}

// enqueue queues a message and starts a writer if none runs. When
// sendQueue messages wait (the writer is held up by a client that reads
// slower than they come), they are compacted if the connection can; a
// client whose messages still reach sendQueue is dropped, so that one
// stalled phone never holds the others up. One whose writes stay blocked
// is dropped by the writer's deadline.
func (c *wsConn) enqueue(m []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= sendQueue && c.compact != nil {
		c.queue = c.compact(c.queue)
	}
	if len(c.queue) >= sendQueue {
		c.mu.Unlock()
		go c.close(websocket.ClosePolicyViolation, "too slow")
		return
	}
	c.queue = append(c.queue, m)
	c.startWriter()
}

// sendPing asks the writer to ping the client, whose pong keeps the
// connection from being taken for gone (readPoller.sweep); then sets the
// next ping.
func (c *wsConn) sendPing() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.ping = true
	c.pinger.Reset(pingEvery)
	c.startWriter()
}

// sendPong asks the writer to answer a client's ping.
func (c *wsConn) sendPong(payload []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.pong = payload
	c.startWriter()
}

// startWriter starts the writer unless it runs, and unlocks c.mu.
func (c *wsConn) startWriter() {
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		go c.write()
	}
}

// write sends what waits until nothing does, then ends. Everything that
// waits leaves in one system call: with a pad's twenty editors, each
// edit is a message to nineteen connections, and the calls are most of
// the box's work.
func (c *wsConn) write() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		c.mu.Lock()
		msgs, ping, pong := c.queue, c.ping, c.pong
		c.queue, c.ping, c.pong = nil, false, nil
		if c.closed || (len(msgs) == 0 && !ping && pong == nil) {
			c.writing = false
			c.mu.Unlock()
			return
		}
		// A deadline keeps a client that stops reading from holding the
		// writer forever; it is moved on only when half of it is used,
		// as setting it costs as much as a tenth of a write.
		if now := time.Now(); c.deadline.Sub(now) < writeWait/2 {
			c.deadline = now.Add(writeWait)
			c.conn.SetWriteDeadline(c.deadline)
		}
		c.mu.Unlock()
		// head holds the control frames and the messages' headers; the
		// slices taken of it stay valid when it grows into a new array.
		var head []byte
		if pong != nil {
			head = appendFrame(head, opPong, pong)
		}
		if ping {
			head = appendFrame(head, opPing, nil)
		}
		bufs := make(net.Buffers, 0, 1+2*len(msgs))
		bufs = append(bufs, head)
		for _, m := range msgs {
			start := len(head)
			head = appendFrameHeader(head, c.op, len(m))
			bufs = append(bufs, head[start:len(head):len(head)], m)
		}
		if _, err := bufs.WriteTo(c.conn); err != nil {
			c.mu.Lock()
			c.broken = true
			c.mu.Unlock()
			go c.close(websocket.CloseGoingAway, "")
			return
		}
	}
}

// appendFrameHeader appends the header of an unmasked final frame, as a
// server sends it (RFC 6455, section 5.2).
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

func appendFrame(b []byte, op byte, payload []byte) []byte {
	return append(appendFrameHeader(b, op, len(payload)), payload...)
}
