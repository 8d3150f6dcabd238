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
	sendQueue         = 128 // messages waiting for a slow client before it is dropped
	writeWait         = 10 * time.Second
	pingEvery         = 25 * time.Second
	readWait          = 60 * time.Second
	closeTooBig       = "message too large"
	closeTooMany      = "too many messages"
	closeFull         = "this pad has too many visitors"
	closeBadMessage   = "malformed message"
	closeShuttingDown = "the box is restarting"

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

// upgrader keeps memory per connection small: hundreds of phones stay
// connected, most of them idle. Write buffers are shared between writes.
var upgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 1024, WriteBufferPool: new(sync.Pool)}

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
	for _, r := range rooms {
		r.mu.Lock()
		conns := make([]*padConn, 0, len(r.conns))
		for c := range r.conns {
			conns = append(conns, c)
		}
		r.mu.Unlock()
		for _, c := range conns {
			c.close(websocket.CloseGoingAway, closeShuttingDown)
		}
	}
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
	c := &padConn{wsConn: newWSConn(ws, websocket.BinaryMessage, coalesce), clients: make(map[uint64]struct{})}
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
	// The reading goes on in a goroutine of its own so that this one
	// returns, and net/http lets go of the request and its buffers, which
	// a long-lived connection does not need.
	gone := s.presence.connected(author)
	go func() {
		defer gone()
		s.readPad(p, rm, c, author)
	}()
}

// readPad reads a connection's messages until it closes.
func (s *Server) readPad(p *pad.Pad, rm *room, c *padConn, author string) {
	defer s.leave(rm, c)
	ws := c.ws
	ws.SetReadLimit(maxPadMessage)
	ws.SetReadDeadline(time.Now().Add(readWait))
	ws.SetPongHandler(func(string) error { ws.SetReadDeadline(time.Now().Add(readWait)); return nil })
	tokens, last := float64(msgBurst), time.Now()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(websocket.CloseMessageTooBig, closeTooBig)
			}
			c.close(websocket.CloseNormalClosure, "")
			return
		}
		ws.SetReadDeadline(time.Now().Add(readWait))
		now := time.Now()
		tokens = min(msgBurst, tokens+now.Sub(last).Seconds()*msgRate)
		last = now
		if tokens < 1 {
			c.close(websocket.ClosePolicyViolation, closeTooMany)
			return
		}
		tokens--
		m, err := decodeYMessage(data)
		if err != nil {
			c.close(websocket.CloseUnsupportedData, closeBadMessage)
			return
		}
		switch m.kind {
		case msgSync:
			if m.sub == syncStep1 {
				diff, err := p.Diff(m.payload)
				if err != nil {
					c.close(websocket.CloseUnsupportedData, closeBadMessage)
					return
				}
				c.enqueue(encodeSync(syncStep2, diff))
				continue
			}
			if p.Flags().ReadOnly() {
				continue // a read-only connection: dropped, stored nowhere
			}
			if err := applyShallow(p, m.payload, author, c); err != nil {
				switch {
				case errors.Is(err, pad.ErrLocked):
					// Locked since the check: the editor learns it
					// from the close and switches to reading.
					c.close(closeCodeLocked, closeLocked)
				case errors.Is(err, ydoc.ErrMalformed):
					c.close(websocket.CloseUnsupportedData, "malformed update")
				case errors.Is(err, pad.ErrFull):
					c.close(websocket.CloseMessageTooBig, closePadFull)
				case errors.Is(err, pad.ErrClosed):
					c.close(websocket.CloseGoingAway, closeShuttingDown)
				default:
					s.logger.Error("storing a pad edit", "pad", p.Name(), "error", err)
					c.close(websocket.CloseInternalServerErr, "the box could not store the edit")
				}
				return
			}
		case msgAwareness:
			entries, _ := decodeAwareness(m.payload)
			rm.updateAwareness(c, entries)
		case msgQueryAwareness:
			if m := rm.awarenessMessage(); m != nil {
				c.enqueue(m)
			}
		}
	}
}

// applyShallow applies an update on a goroutine of its own and waits for
// it. Decoding, integrating and storing an update needs a deep stack; run
// on the connection's reader, that stack would stay with each of hundreds
// of mostly idle connections, while a short-lived goroutine gives it back.
func applyShallow(p *pad.Pad, update []byte, author string, c *padConn) error {
	done := make(chan error, 1)
	go func() { done <- p.Apply(update, author, c) }()
	return <-done
}

// coalesce merges runs of sync updates among msgs into single updates
// (Yjs updates merge without a document); other messages keep their place.
func coalesce(msgs [][]byte) [][]byte {
	if len(msgs) == 1 {
		return msgs
	}
	var out [][]byte
	var run [][]byte
	flush := func() {
		switch len(run) {
		case 0:
		case 1:
			out = append(out, encodeSync(syncUpdate, run[0]))
		default:
			if merged, err := ydoc.MergeUpdates(run...); err == nil {
				out = append(out, encodeSync(syncUpdate, merged))
			} else {
				for _, u := range run {
					out = append(out, encodeSync(syncUpdate, u))
				}
			}
		}
		run = run[:0]
	}
	for _, m := range msgs {
		if d, err := decodeYMessage(m); err == nil && d.kind == msgSync && d.sub == syncUpdate {
			run = append(run, d.payload)
			continue
		}
		flush()
		out = append(out, m)
	}
	flush()
	return out
}

// updateAwareness records the states a connection announced and passes
// them to everyone in the room, the sender included: stock clients count
// on that echo to know the connection is alive.
func (rm *room) updateAwareness(c *padConn, entries []awarenessEntry) {
	rm.mu.Lock()
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
