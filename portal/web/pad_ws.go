package web

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/pad"
	"tiersbox/box/ydoc"
)

// Limits of the pad websocket, each enforced with a close reason a client
// can show rather than a silent drop.
const (
	maxPadMessage     = 8 << 20 // a first sync of a large pad
	maxClientsPerPad  = 200
	msgRate           = 100 // messages per second per client, sustained
	msgBurst          = 400
	sendQueue         = 128 // messages waiting for a slow client before they are compacted, or it is dropped (ws_conn.go)
	writeWait         = 10 * time.Second
	pingEvery         = 25 * time.Second
	readWait          = 60 * time.Second
	closeTooBig       = "message too large"
	closeTooMany      = "too many messages"
	closeFull         = "this pad has too many visitors"
	closeBadMessage   = "malformed message"
	closeShuttingDown = "the box is restarting"
	closeBadFrame     = "malformed frame"

	maxAwarenessState   = 4 << 10
	maxAwarenessPerConn = 8
	closePadFull        = "this pad is full"
)

// A locked pad's connections are read-only (box/pad flags.go): the box answers
// their sync step 1 and sends them every update, and drops the updates
// they send, as y-websocket servers do for read-only clients. The pad's
// editor says which way it wants the pad (?mode=edit or ?mode=read); a
// connection whose mode is not the pad's, or every connection when staff
// lock or unlock the pad, is closed with one of these codes, on which the
// editor switches and reconnects.
const (
	closeCodeLocked   = 4001
	closeCodeUnlocked = 4002
	closeLocked       = "this pad is locked"
	closeUnlocked     = "this pad is unlocked"
)

// upgrader answers the websocket handshake of pads and chat; the box
// then reads and writes the frames itself (ws_conn.go), so its buffers
// are the smallest it takes and are not used.
var upgrader = websocket.Upgrader{ReadBufferSize: 1, WriteBufferSize: 1, WriteBufferPool: new(sync.Pool)}

// A connection's messages wait for its handler goroutine; beyond this many
// (or bytes), the poller stops reading it until the handler catches up.
const (
	inboxMessages = 32
	inboxBytes    = 1 << 20
)

var (
	errTooMany      = errors.New("websocket: too many messages")
	errClientClosed = errors.New("websocket: the client closed")
)

// padHub holds the websocket rooms, one per open pad.
type padHub struct {
	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
}

type room struct {
	pad   *pad.Pad
	mu    sync.Mutex
	conns map[*padConn]struct{}
	aware map[uint64]awareState
}

// broadcast passes an applied update to every connection but its sender,
// encoded once and shared. It runs under the pad's lock (pad.Listen).
func (rm *room) broadcast(update []byte, origin any) {
	msg := encodeSync(syncUpdate, update)
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for c := range rm.conns {
		if c != origin {
			c.enqueue(msg)
		}
	}
}

type awareState struct {
	entry awarenessEntry
	owner *padConn
}

// padConn is one pad websocket.
type padConn struct {
	*wsConn
	clients map[uint64]struct{} // awareness client IDs this connection announced, under the room's lock

	s      *Server
	pad    *pad.Pad
	room   *room
	author string

	inMu     sync.Mutex
	inbox    [][]byte // messages waiting for the handler
	inBytes  int
	handling bool // a handler goroutine runs
}

func (h *padHub) join(p *pad.Pad) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("shutting down")
	}
	r, ok := h.rooms[p.Name()]
	if !ok {
		r = &room{pad: p, conns: make(map[*padConn]struct{}), aware: make(map[uint64]awareState)}
		p.Listen(r.broadcast)
		h.rooms[p.Name()] = r
	}
	return r, nil
}

// flagsChanged closes every connection to a pad staff just locked or
// unlocked (here or at a linked box), so that editors switch at once.
func (h *padHub) flagsChanged(name string, fl pad.Flags) {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r == nil {
		return
	}
	code, reason := closeCodeUnlocked, closeUnlocked
	if fl.ReadOnly() {
		code, reason = closeCodeLocked, closeLocked
	}
	r.mu.Lock()
	conns := r.list()
	r.mu.Unlock()
	for _, c := range conns {
		// close waits for the frame to leave, up to a second.
		go c.close(code, reason)
	}
}

// closeAll closes every pad websocket (http.Server.Shutdown does not).
func (h *padHub) closeAll() {
	h.mu.Lock()
	h.closed = true
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	var conns []*padConn
	for _, r := range rooms {
		r.mu.Lock()
		conns = append(conns, r.list()...)
		r.mu.Unlock()
	}
	closeEach(conns, func(c *padConn) { c.close(websocket.CloseGoingAway, closeShuttingDown) })
}

// closeEach closes connections at the same time: each may wait a second
// or two for its client (wsConn.close).
func closeEach[C any](conns []C, close func(C)) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { close(c) })
	}
	wg.Wait()
}

// padWS serves the y-websocket protocol on /ws/pads/{name}: the room is
// the pad, so a stock WebsocketProvider with server URL ws://BOX/ws/pads
// edits the pad of the same name.
func (s *Server) padWS(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !pad.ValidName(name) {
		s.renderError(w, r, http.StatusBadRequest, "error.padname")
		return
	}
	p, err := s.opts.Pads.Open(name)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	rm, err := s.padHub.join(p)
	if err != nil {
		http.Error(w, closeShuttingDown, http.StatusServiceUnavailable)
		return
	}
	author := s.authorOf(r)
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &padConn{wsConn: newWSConn(ws, opBinary), clients: make(map[uint64]struct{}),
		s: s, pad: p, room: rm, author: author}
	c.compact = compactPadMessages
	rm.mu.Lock()
	full := len(rm.conns) >= maxClientsPerPad
	if !full {
		rm.conns[c] = struct{}{}
	}
	rm.mu.Unlock()
	if full {
		c.close(websocket.CloseTryAgainLater, closeFull)
		return
	}
	switch mode := r.URL.Query().Get("mode"); {
	case mode == "edit" && p.Flags().ReadOnly():
		c.close(closeCodeLocked, closeLocked)
		s.leave(rm, c)
		return
	case mode == "read" && !p.Flags().ReadOnly():
		c.close(closeCodeUnlocked, closeUnlocked)
		s.leave(rm, c)
		return
	}

	// Stock clients expect the server to start the sync, and to hear the
	// others' awareness states at once.
	c.enqueue(encodeSync(syncStep1, p.StateVector()))
	if m := rm.awarenessMessage(); m != nil {
		c.enqueue(m)
	}
	// From here the poller reads the connection and this goroutine
	// returns, so net/http lets go of the request and its buffers, which
	// a long-lived connection does not need. Whoever closes the
	// connection (the client, the box, staff) ends its reading and its
	// place in the room.
	gone := s.presence.connected(author)
	if err := c.readBy(c, maxPadMessage, func() { s.leave(rm, c); gone() }); err != nil {
		s.logger.Error("reading a pad websocket", "error", err)
		c.close(websocket.CloseInternalServerErr, "")
	}
}

// frame takes a message or control frame from the poller: it must not
// wait, so messages go to the connection's handler.
func (c *padConn) frame(op byte, payload []byte) error {
	if message, err := c.control(op, payload); !message {
		return err
	}
	c.inMu.Lock()
	c.inbox = append(c.inbox, payload)
	c.inBytes += len(payload)
	if len(c.inbox) >= inboxMessages || c.inBytes >= inboxBytes {
		c.polled.pause()
	}
	start := !c.handling
	c.handling = true
	c.inMu.Unlock()
	if start {
		go c.handle()
	}
	return nil
}

// frameRate is a client's allowance of frames: msgRate a second, msgBurst
// at once. Every frame counts, pings too, as the poller reads for
// everyone.
type frameRate struct {
	tokens float64
	last   time.Time // when tokens was filled
}

func newFrameRate() frameRate { return frameRate{tokens: msgBurst, last: time.Now()} }

// allow takes a token, if there is one.
func (r *frameRate) allow() bool {
	now := time.Now()
	r.tokens = min(msgBurst, r.tokens+now.Sub(r.last).Seconds()*msgRate)
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// endReason is how to close a connection whose reading ended: with a
// reason when the client broke a rule.
func endReason(err error) (code int, reason string) {
	switch {
	case errors.Is(err, errFrameTooBig):
		return websocket.CloseMessageTooBig, closeTooBig
	case errors.Is(err, errTooMany):
		return websocket.ClosePolicyViolation, closeTooMany
	case errors.Is(err, errBadFrame):
		return websocket.CloseProtocolError, closeBadFrame
	}
	return websocket.CloseNormalClosure, ""
}

// handle runs the messages waiting in the inbox, in order, until there
// are none; it is started by frame when needed. Storing an edit waits for
// the disk, and its decoding needs a deep stack: both stay off the poller,
// and the goroutine gives its stack back when the connection falls quiet.
func (c *padConn) handle() {
	for {
		c.inMu.Lock()
		msgs := c.inbox
		c.inbox, c.inBytes = nil, 0
		if len(msgs) == 0 {
			c.handling = false
			c.inMu.Unlock()
			return
		}
		c.polled.resume()
		c.inMu.Unlock()
		for _, m := range msgs {
			// What came before a close is still handled: a visitor's
			// last edits before they left are edits all the same
			// (updateAwareness leaves out a connection that left).
			if !c.message(m) {
				return
			}
		}
	}
}

// message answers one y-websocket message; false when it closed the
// connection.
func (c *padConn) message(data []byte) bool {
	p, rm := c.pad, c.room
	m, err := decodeYMessage(data)
	if err != nil {
		c.close(websocket.CloseUnsupportedData, closeBadMessage)
		return false
	}
	switch m.kind {
	case msgSync:
		if m.sub == syncStep1 {
			diff, err := p.Diff(m.payload)
			if err != nil {
				c.close(websocket.CloseUnsupportedData, closeBadMessage)
				return false
			}
			c.enqueue(encodeSync(syncStep2, diff))
			return true
		}
		if p.Flags().ReadOnly() {
			return true // a read-only connection: dropped, stored nowhere
		}
		if err := p.Apply(m.payload, c.author, c); err != nil {
			switch {
			case errors.Is(err, pad.ErrLocked):
				// Locked since the check: the editor learns it from
				// the close and switches to reading.
				c.close(closeCodeLocked, closeLocked)
			case errors.Is(err, ydoc.ErrMalformed):
				c.close(websocket.CloseUnsupportedData, "malformed update")
			case errors.Is(err, pad.ErrFull):
				c.close(websocket.CloseMessageTooBig, closePadFull)
			case errors.Is(err, pad.ErrClosed):
				c.close(websocket.CloseGoingAway, closeShuttingDown)
			default:
				c.s.logger.Error("storing a pad edit", "pad", p.Name(), "error", err)
				c.close(websocket.CloseInternalServerErr, "the box could not store the edit")
			}
			return false
		}
	case msgAwareness:
		entries, _ := decodeAwareness(m.payload)
		rm.updateAwareness(c, entries)
	case msgQueryAwareness:
		if m := rm.awarenessMessage(); m != nil {
			c.enqueue(m)
		}
	}
	return true
}

// updateAwareness records the states a connection announced and passes
// them to everyone in the room, the sender included: stock clients count
// on that echo to know the connection is alive.
func (rm *room) updateAwareness(c *padConn, entries []awarenessEntry) {
	rm.mu.Lock()
	if _, in := rm.conns[c]; !in {
		rm.mu.Unlock()
		return // left meanwhile: its states were taken away then
	}
	var fresh []awarenessEntry
	for _, e := range entries {
		// A browser tab announces one state, a few at most: more, or a
		// large one, could only fill the memory of everyone in the room.
		if len(e.state) > maxAwarenessState {
			continue
		}
		if _, known := c.clients[e.client]; !known && len(c.clients) >= maxAwarenessPerConn {
			continue
		}
		if old, ok := rm.aware[e.client]; ok && old.owner != c {
			continue // another connection's state
		}
		if old, ok := rm.aware[e.client]; ok && old.entry.clock > e.clock {
			continue
		}
		if e.state == "null" {
			delete(rm.aware, e.client)
			delete(c.clients, e.client)
		} else {
			rm.aware[e.client] = awareState{entry: e, owner: c}
			c.clients[e.client] = struct{}{}
		}
		fresh = append(fresh, e)
	}
	conns := rm.list()
	rm.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	m := encodeAwareness(fresh)
	for _, other := range conns {
		other.enqueue(m)
	}
}

func (rm *room) list() []*padConn {
	out := make([]*padConn, 0, len(rm.conns))
	for c := range rm.conns {
		out = append(out, c)
	}
	return out
}

// awarenessMessage returns every known state, or nil.
func (rm *room) awarenessMessage() []byte {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if len(rm.aware) == 0 {
		return nil
	}
	entries := make([]awarenessEntry, 0, len(rm.aware))
	for _, a := range rm.aware {
		entries = append(entries, a.entry)
	}
	return encodeAwareness(entries)
}

// leave removes a connection and tells the others its cursors are gone.
func (s *Server) leave(rm *room, c *padConn) {
	c.close(websocket.CloseNormalClosure, "")
	rm.mu.Lock()
	delete(rm.conns, c)
	var gone []awarenessEntry
	for id := range c.clients {
		if a, ok := rm.aware[id]; ok && a.owner == c {
			gone = append(gone, awarenessEntry{client: id, clock: a.entry.clock + 1, state: "null"})
			delete(rm.aware, id)
		}
	}
	conns := rm.list()
	rm.mu.Unlock()
	if len(gone) > 0 {
		m := encodeAwareness(gone)
		for _, other := range conns {
			other.enqueue(m)
		}
	}
}

// CloseWebsockets closes every pad and chat connection with a reason; cmd registers
// it with http.Server.RegisterOnShutdown.
func (s *Server) CloseWebsockets() {
	s.padHub.closeAll()
	s.chatHub.closeAll()
}
