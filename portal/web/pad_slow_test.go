//go:build unix

package web

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/pad"
	"tiersbox/box/ydoc"
)

// A phone on a crowded WiFi reads slower than a pad's editors type. Its
// messages pile up while the box's write to it waits; the box then merges
// them rather than dropping the phone, which would have to load the whole
// pad again. The slow reader here has a tiny receive buffer and stops
// reading while another visitor pastes more text than the connection
// holds, then types on, moving their cursor each time: more than twice
// sendQueue messages wait behind the paste.
func TestSlowReaderGetsMergedEdits(t *testing.T) {
	hs, _, _ := newPadServerOn(t, func(l net.Listener) net.Listener { return smallSendBuffers{l} })
	const paste, edits = 6 << 20, 170 // 340 messages after the paste: within a burst (msgBurst)

	dialer := *websocket.DefaultDialer
	dialer.NetDialContext = (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}).DialContext
	ws, _, err := dialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws/pads/slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	slow := &yclient{t: t, ws: ws, doc: ydoc.NewDoc(ydoc.Options{ClientID: 2})}
	slow.doc.OnUpdate(func(u []byte) { slow.out = append(slow.out, bytes.Clone(u)) })
	slow.sync()

	typist := dial(t, hs, "slow", 1)
	typist.sync()
	pasted := strings.Repeat("-", paste)
	typist.typeAt(0, pasted)
	typed := ""
	for i := range edits {
		// Typed above the paste, where the cursor is.
		typed += string(rune('a' + i%26))
		typist.typeAt(i, typed[i:])
		typist.send(encodeAwareness([]awarenessEntry{{client: 1, clock: uint64(i + 1),
			state: `{"user":{"name":"Typist"},"cursor":` + strconv.Itoa(i+1) + `}`}}))
	}
	want := typed + pasted
	// The slow reader now reads everything: the typist's whole text and
	// its last cursor, on a connection the box kept open.
	var cursor string
	received := 0
	for slow.doc.Text(pad.ContentName).String() != want || !strings.Contains(cursor, `"cursor":`+strconv.Itoa(edits)+`}`) {
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("the slow reader after %d of %d bytes: %v", len(slow.doc.Text(pad.ContentName).String()), len(want), err)
		}
		m, err := decodeYMessage(data)
		if err != nil {
			t.Fatalf("the box sent a malformed message: %v", err)
		}
		received++
		switch {
		case m.kind == msgSync && m.sub != syncStep1:
			if err := slow.doc.ApplyUpdate(m.payload); err != nil {
				t.Fatal(err)
			}
		case m.kind == msgAwareness:
			entries, err := decodeAwareness(m.payload)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.client == 1 {
					cursor = e.state
				}
			}
		}
	}
	// Merged: fewer messages than were sent (the paste, and two for each
	// edit). Otherwise the box never had to wait for this reader, and
	// the test proves nothing.
	if received >= 1+2*edits {
		t.Errorf("the slow reader got %d messages for the %d sent: not merged", received, 1+2*edits)
	}
	t.Logf("the slow reader got %d messages for the %d sent", received, 1+2*edits)
	// And it still takes part.
	slow.typeAt(0, "!")
	typist.waitText("!" + want)
}

// smallSendBuffers gives the box's side of each connection a small send
// buffer: what the slow reader does not read then stays in the box's
// queue, whatever the machine's own limit on send buffers (tcp_wmem),
// which the paste must otherwise exceed.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetWriteBuffer(64 << 10); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, err
}
