package web

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/journal"
	"tiersbox/box/pad"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
	"tiersbox/box/ydoc"
)

func newPadServer(t *testing.T) (*httptest.Server, *pad.Service) {
	t.Helper()
	hs, pads, _ := newPadServerStore(t)
	return hs, pads
}

// newPadServerStore is newPadServer that also returns the store.
func newPadServerStore(t *testing.T) (*httptest.Server, *pad.Service, *store.Store) {
	t.Helper()
	return newPadServerOn(t, nil)
}

// newPadServerOn is newPadServerStore whose listener is wrap's (when
// wrap is not nil).
func newPadServerOn(t *testing.T, wrap func(net.Listener) net.Listener) (*httptest.Server, *pad.Service, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	j, err := journal.Open(st, journal.Origin{1}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pads, err := pad.New(st, j, pad.Options{Window: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Visitors: visitor.New(st, visitor.Options{}), Addresses: []string{"x"}, Pads: pads})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Wrap(srv.Pages()))
	if wrap != nil {
		hs.Listener = wrap(hs.Listener)
	}
	hs.Start()
	t.Cleanup(func() { srv.CloseWebsockets(); hs.Close(); pads.Close() })
	return hs, pads, st
}

// yclient is a minimal y-websocket client around a Go document.
type yclient struct {
	t   *testing.T
	ws  *websocket.Conn
	doc *ydoc.Doc
	out [][]byte
}

func dial(t *testing.T, hs *httptest.Server, name string, id uint64) *yclient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws/pads/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &yclient{t: t, ws: ws, doc: ydoc.NewDoc(ydoc.Options{ClientID: id})}
	c.doc.OnUpdate(func(u []byte) { c.out = append(c.out, bytes.Clone(u)) })
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *yclient) read() yMessage {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m, err := decodeYMessage(data)
	if err != nil {
		c.t.Fatalf("server sent a malformed message: %v", err)
	}
	return m
}

func (c *yclient) send(b []byte) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// sync performs the opening handshake as a stock client does.
func (c *yclient) sync() {
	c.t.Helper()
	m := c.read()
	if m.kind != msgSync || m.sub != syncStep1 {
		c.t.Fatalf("first message %+v, want sync step 1", m)
	}
	c.send(encodeSync(syncStep1, c.doc.EncodeStateVector()))
	for {
		m = c.read()
		if m.kind == msgSync && m.sub == syncStep2 {
			if err := c.doc.ApplyUpdate(m.payload); err != nil {
				c.t.Fatal(err)
			}
			return
		}
	}
}

func (c *yclient) typeAt(pos int, s string) {
	c.out = nil
	c.doc.Text(pad.ContentName).Insert(pos, s)
	for _, u := range c.out {
		c.send(encodeSync(syncUpdate, u))
	}
}

// waitText reads until the client's text is want.
func (c *yclient) waitText(want string) {
	c.t.Helper()
	for c.doc.Text(pad.ContentName).String() != want {
		m := c.read()
		if m.kind == msgSync && m.sub != syncStep1 {
			c.doc.ApplyUpdate(m.payload)
		}
	}
}

func TestPadWebsocket(t *testing.T) {
	hs, pads := newPadServer(t)
	a := dial(t, hs, "atelier", 11)
	a.sync()
	a.typeAt(0, "Notes de l’atelier 🧵")
	b := dial(t, hs, "atelier", 22)
	b.sync()
	// In the first sync, or broadcast right after if a's edit was still
	// on its way.
	b.waitText("Notes de l’atelier 🧵")
	// Live edits both ways.
	b.typeAt(0, "# ")
	a.waitText("# Notes de l’atelier 🧵")
	a.typeAt(a.doc.Text(pad.ContentName).Len(), "\n- fils")
	b.waitText("# Notes de l’atelier 🧵\n- fils")

	// Awareness reaches everyone, the sender too; leaving clears it.
	a.send(encodeAwareness([]awarenessEntry{{client: 11, clock: 1, state: `{"user":{"name":"Ana"}}`}}))
	for _, c := range []*yclient{a, b} {
		for {
			m := c.read()
			if m.kind == msgAwareness {
				es, _ := decodeAwareness(m.payload)
				if len(es) == 1 && es[0].client == 11 && strings.Contains(es[0].state, "Ana") {
					break
				}
			}
		}
	}
	a.ws.Close()
	for {
		m := b.read()
		if m.kind == msgAwareness {
			es, _ := decodeAwareness(m.payload)
			if len(es) == 1 && es[0].client == 11 && es[0].state == "null" {
				break
			}
		}
	}
	// The pad holds the text, and so does the journal after the window.
	p, _ := pads.Open("atelier")
	if got := p.Text(); got != "# Notes de l’atelier 🧵\n- fils" {
		t.Fatalf("pad %q", got)
	}
}

func TestPadWebsocketBadInput(t *testing.T) {
	hs, pads := newPadServer(t)
	res, err := http.Get(hs.URL + "/ws/pads/..%2Fetc")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusNotFound {
		t.Errorf("bad name: %d", res.StatusCode)
	}
	tests := []struct {
		name string
		msg  []byte
		code int
	}{
		{"junk", []byte{0xff, 0xff, 0xff}, websocket.CloseUnsupportedData},
		{"unknown sync type", []byte{0, 9, 0}, websocket.CloseUnsupportedData},
		{"length beyond the message", []byte{0, 2, 50, 1}, websocket.CloseUnsupportedData},
		{"update that does not decode", encodeSync(syncUpdate, []byte{5, 5, 5}), websocket.CloseUnsupportedData},
		{"awareness that does not decode", []byte{1, 3, 200, 1, 1}, websocket.CloseUnsupportedData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, hs, "victim", 5)
			c.sync()
			c.send(tt.msg)
			c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, _, err := c.ws.ReadMessage()
				if err == nil {
					continue
				}
				ce, ok := err.(*websocket.CloseError)
				if !ok || ce.Code != tt.code {
					t.Fatalf("got %v, want close code %d", err, tt.code)
				}
				break
			}
		})
	}
	// An oversized message is refused with its own code.
	c := dial(t, hs, "victim", 6)
	c.sync()
	c.send(append(encodeSync(syncUpdate, nil)[:2], make([]byte, maxPadMessage+10)...))
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseMessageTooBig {
				t.Fatalf("oversized: %v", err)
			}
			break
		}
	}
	// What was stored before survives all this.
	good := dial(t, hs, "victim", 7)
	good.sync()
	good.typeAt(0, "kept")
	p, _ := pads.Open("victim")
	for deadline := time.Now().Add(5 * time.Second); p.Text() != "kept"; {
		if time.Now().After(deadline) {
			t.Fatalf("pad %q", p.Text())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FuzzYMessage: any message decodes to an error or to a message whose
// payload lies within the input.
func FuzzYMessage(f *testing.F) {
	f.Add(encodeSync(syncStep1, []byte{0}))
	f.Add(encodeAwareness([]awarenessEntry{{1, 2, "{}"}}))
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeYMessage(b)
		if err != nil {
			return
		}
		if len(m.payload) > len(b) {
			t.Fatal("payload longer than the message")
		}
		if m.kind == msgAwareness {
			es, err := decodeAwareness(m.payload)
			if err != nil {
				t.Fatalf("accepted awareness that does not decode: %v", err)
			}
			if got := encodeAwareness(es); len(got) > len(b)+8*len(es)+16 {
				t.Fatal("re-encoding grew out of proportion")
			}
		}
	})
}

func TestPadWebsocketLimits(t *testing.T) {
	hs, _ := newPadServer(t)
	// A client flooding the box is closed with a reason.
	c := dial(t, hs, "flood", 8)
	c.sync()
	for i := 0; i < msgBurst+200; i++ {
		if c.ws.WriteMessage(websocket.BinaryMessage, []byte{msgQueryAwareness}) != nil {
			break
		}
	}
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.ClosePolicyViolation || ce.Text != closeTooMany {
			t.Fatalf("flood: %v", err)
		}
		break
	}
	// One client more than a pad takes is turned away with a reason.
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws/pads/crowded"
	for i := 0; i < maxClientsPerPad; i++ {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		// Read the greeting so that the connection is counted before the
		// next one.
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseTryAgainLater || ce.Text != closeFull {
			t.Fatalf("one too many: %v", err)
		}
		break
	}
}

// The box reads pad websockets itself (wsframe.go, wspoll_linux.go):
// frames cut anywhere by the network, pings, a burst beyond what waits
// for the handler, a broken frame and a silent client.
func TestPadWebsocketFrames(t *testing.T) {
	hs, pads := newPadServer(t)
	key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

	// An update in two fragments with a ping between them, written a byte
	// at a time, is applied; the ping is answered with its payload.
	c := dial(t, hs, "frames", 11)
	c.sync()
	c.out = nil
	c.doc.Text(pad.ContentName).Insert(0, "byte by byte")
	msg := encodeSync(syncUpdate, c.out[0])
	var stream []byte
	stream = append(stream, clientFrame(opBinary, false, msg[:3], key)...)
	stream = append(stream, clientFrame(opPing, true, []byte("ping!"), key)...)
	stream = append(stream, clientFrame(opContinuation, true, msg[3:], key)...)
	pong := make(chan string, 1)
	c.ws.SetPongHandler(func(s string) error { pong <- s; return nil })
	for _, b := range stream {
		if _, err := c.ws.NetConn().Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case got := <-pong:
		if got != "ping!" {
			t.Fatalf("pong %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	p, _ := pads.Open("frames")
	waitPadText(t, p, "byte by byte")

	// A burst of edits, more than wait for the handler at once, all
	// arrive, in order.
	b := dial(t, hs, "burst", 12)
	b.sync()
	want := ""
	for i := range 300 {
		s := string(rune('a' + i%26))
		b.typeAt(i, s)
		want += s
	}
	waitPadText(t, must(pads.Open("burst")), want)

	// Messages of every frame length encoding reach a client whole: a
	// late joiner's sync of a pad of 100,000 characters, then edits of 200
	// and 1.
	big := strings.Repeat("0123456789", 10000)
	b.typeAt(len(want), big)
	want += big
	waitPadText(t, must(pads.Open("burst")), want)
	late := dial(t, hs, "burst", 15)
	late.sync()
	if got := late.doc.Text(pad.ContentName).String(); got != want {
		t.Fatalf("late joiner has %d characters, want %d", len(got), len(want))
	}
	b.typeAt(0, strings.Repeat("x", 200))
	b.typeAt(0, "y")
	late.waitText("y" + strings.Repeat("x", 200) + want)

	// Edits sent just before leaving are kept: the update and the close
	// frame arrive together.
	leaving := dial(t, hs, "leaving", 16)
	leaving.sync()
	leaving.out = nil
	var last []byte
	words := strings.Repeat("last words ", 5)
	for i, r := range words {
		leaving.doc.Text(pad.ContentName).Insert(i, string(r))
	}
	for _, u := range leaving.out {
		last = append(last, clientFrame(opBinary, true, encodeSync(syncUpdate, u), key)...)
	}
	last = append(last, clientFrame(opClose, true, []byte{0x03, 0xe8}, key)...)
	if _, err := leaving.ws.NetConn().Write(last); err != nil {
		t.Fatal(err)
	}
	waitPadText(t, must(pads.Open("leaving")), words)

	// A frame the protocol forbids (unmasked) closes with 1002.
	bad := dial(t, hs, "frames", 13)
	bad.sync()
	frame := clientFrame(opBinary, true, []byte{msgQueryAwareness}, key)
	frame[1] &^= 0x80
	bad.ws.NetConn().Write(frame)
	expectClose(t, bad.ws, websocket.CloseProtocolError, closeBadFrame)

	// A client that says nothing, not even pong, is let go.
	defer setPollIdle(300 * time.Millisecond)()
	quiet := dial(t, hs, "frames", 14)
	quiet.sync()
	quiet.ws.SetPingHandler(func(string) error { return nil }) // no pong
	expectClose(t, quiet.ws, websocket.CloseNormalClosure, "")
}

func waitPadText(t *testing.T, p *pad.Pad, want string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); p.Text() != want; {
		if time.Now().After(deadline) {
			t.Fatalf("pad %q, want %q", p.Text(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// expectClose reads until the box closes ws, and checks how.
func expectClose(t *testing.T, ws *websocket.Conn, code int, reason string) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != code || ce.Text != reason {
			t.Fatalf("got %v, want close %d %q", err, code, reason)
		}
		return
	}
}

// A connection that left its room (closed while its last messages waited)
// cannot put its cursor back: the state would stay after everyone left.
func TestAwarenessOfALeftConnection(t *testing.T) {
	rm := &room{conns: make(map[*padConn]struct{}), aware: make(map[uint64]awareState)}
	c := &padConn{wsConn: &wsConn{closed: true}, clients: make(map[uint64]struct{})} // sends nothing
	rm.updateAwareness(c, []awarenessEntry{{client: 7, clock: 1, state: `{"user":{"name":"ghost"}}`}})
	if len(rm.aware) != 0 || rm.awarenessMessage() != nil {
		t.Fatalf("a connection outside the room left states: %v", rm.aware)
	}
	rm.conns[c] = struct{}{}
	rm.updateAwareness(c, []awarenessEntry{{client: 7, clock: 1, state: `{"user":{"name":"here"}}`}})
	if len(rm.aware) != 1 {
		t.Fatalf("a connection in the room: %d states, want 1", len(rm.aware))
	}
}
