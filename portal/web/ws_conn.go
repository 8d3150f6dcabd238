package web

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is the sending half of a websocket shared by pads and chat. It
// has no goroutine of its own while it has nothing to send: hundreds of
// phones stay connected to a box, mostly idle, and each goroutine costs a
// stack. A writer goroutine runs only while messages wait (see enqueue),
// and a timer, not a goroutine, pings the client now and then.
type wsConn struct {
	ws    *websocket.Conn
	kind  int                     // websocket.BinaryMessage or TextMessage
	merge func([][]byte) [][]byte // may merge waiting messages into fewer; nil keeps them

	mu      sync.Mutex
	queue   [][]byte // messages waiting for the writer
	ping    bool     // a ping waits for the writer
	pong    []byte   // a pong waits for the writer, answering this ping
	writing bool     // a writer goroutine is running
	closed  bool
	reason  string
	pinger  *time.Timer

	// onClose, when set, runs once the connection is closed, whoever
	// closed it.
	onClose func()
}

func newWSConn(ws *websocket.Conn, kind int, merge func([][]byte) [][]byte) *wsConn {
	c := &wsConn{ws: ws, kind: kind, merge: merge}
	c.pinger = time.AfterFunc(pingEvery, c.sendPing)
	return c
}

// close ends the connection with a reason, once.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.reason, c.queue = true, reason, nil
	c.pinger.Stop()
	c.mu.Unlock()
	msg := websocket.FormatCloseMessage(code, reason)
	c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	c.ws.Close()
	if c.onClose != nil {
		c.onClose()
	}
}

// enqueue queues a message and starts a writer if none runs; a client too
// slow to take its messages is dropped, so one stalled phone never slows
// the others.
func (c *wsConn) enqueue(m []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= sendQueue {
		c.mu.Unlock()
		go c.close(websocket.ClosePolicyViolation, "too slow")
		return
	}
	c.queue = append(c.queue, m)
	c.startWriter()
}

// sendPing asks the writer to ping the client, which answers with a pong
// that keeps its read deadline alive; then sets the next ping.
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

// write sends what waits until nothing does, then ends.
func (c *wsConn) write() {
	for {
		c.mu.Lock()
		msgs, ping, pong := c.queue, c.ping, c.pong
		c.queue, c.ping, c.pong = nil, false, nil
		if c.closed || (len(msgs) == 0 && !ping && pong == nil) {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if ping {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		}
		if pong != nil {
			if err := c.ws.WriteControl(websocket.PongMessage, pong, time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		}
		if c.merge != nil && len(msgs) > 1 {
			msgs = c.merge(msgs)
		}
		for _, out := range msgs {
			c.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.ws.WriteMessage(c.kind, out); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		}
	}
}
