package web

import (
	"bytes"
	"maps"
	"net"
	"slices"
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
// holds, then types on, moving their cursor each time: many times
// sendQueue messages wait behind the paste.
func TestSlowReaderGetsMergedEdits(t *testing.T) {
	hs, _ := newPadServer(t)
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
	// And it still takes part.
	slow.typeAt(0, "!")
	typist.waitText("!" + want)
}

func TestCompactPadMessages(t *testing.T) {
	// Three editors' updates, as the box broadcasts them.
	var updates [][]byte
	for id := uint64(1); id <= 3; id++ {
		d := ydoc.NewDoc(ydoc.Options{ClientID: id})
		d.OnUpdate(func(u []byte) { updates = append(updates, bytes.Clone(u)) })
		d.Text(pad.ContentName).Insert(0, strings.Repeat(strconv.Itoa(int(id)), 3))
		d.Text(pad.ContentName).Insert(3, "!")
	}
	step1 := encodeSync(syncStep1, ydoc.NewDoc(ydoc.Options{ClientID: 9}).EncodeStateVector())
	cursor := func(client, clock uint64, state string) []byte {
		return encodeAwareness([]awarenessEntry{{client: client, clock: clock, state: state}})
	}
	textOf := func(t *testing.T, msgs [][]byte) (string, map[uint64]string, []uint64) {
		t.Helper()
		d := ydoc.NewDoc(ydoc.Options{ClientID: 10})
		cursors := map[uint64]string{}
		var subs []uint64
		for _, b := range msgs {
			m, err := decodeYMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			switch m.kind {
			case msgSync:
				subs = append(subs, m.sub)
				if m.sub != syncStep1 {
					if err := d.ApplyUpdate(m.payload); err != nil {
						t.Fatal(err)
					}
				}
			case msgAwareness:
				entries, err := decodeAwareness(m.payload)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					cursors[e.client] = e.state
				}
			}
		}
		return d.Text(pad.ContentName).String(), cursors, subs
	}
	sync := func(sub uint64, u []byte) []byte { return encodeSync(sub, u) }

	tests := []struct {
		name    string
		queue   [][]byte
		n       int      // messages after
		subs    []uint64 // their sync types, in order
		cursors map[uint64]string
	}{
		{
			name: "updates and cursors",
			queue: [][]byte{step1, sync(syncUpdate, updates[0]), cursor(1, 1, "a"), sync(syncUpdate, updates[2]),
				cursor(1, 2, "b"), cursor(2, 1, "c"), sync(syncUpdate, updates[4]), sync(syncUpdate, updates[1]),
				sync(syncUpdate, updates[3]), sync(syncUpdate, updates[5]), cursor(2, 3, "d")},
			n: 3, subs: []uint64{syncStep1, syncUpdate}, cursors: map[uint64]string{1: "b", 2: "d"},
		},
		{
			name: "the answer to step 1 stays one",
			queue: [][]byte{sync(syncStep2, updates[0]), sync(syncUpdate, updates[1]), sync(syncUpdate, updates[2]),
				sync(syncUpdate, updates[3]), sync(syncUpdate, updates[4]), sync(syncUpdate, updates[5])},
			n: 1, subs: []uint64{syncStep2}, cursors: map[uint64]string{},
		},
		{
			name: "an older cursor and a removal",
			queue: [][]byte{sync(syncUpdate, updates[0]), sync(syncUpdate, updates[1]), cursor(1, 5, "new"), cursor(1, 4, "old"),
				cursor(2, 7, "here"), cursor(2, 7, "null"), sync(syncUpdate, updates[2]), sync(syncUpdate, updates[3]),
				sync(syncUpdate, updates[4]), sync(syncUpdate, updates[5])},
			n: 2, subs: []uint64{syncUpdate}, cursors: map[uint64]string{1: "new", 2: "null"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantText, _, _ := textOf(t, tc.queue)
			if len(wantText) != 12 {
				t.Fatalf("the updates make %q, want the three editors' 12 characters", wantText)
			}
			out := compactPadMessages(tc.queue)
			if len(out) != tc.n {
				t.Fatalf("%d messages after, want %d", len(out), tc.n)
			}
			text, cursors, subs := textOf(t, out)
			if text != wantText {
				t.Errorf("text %q after, want %q", text, wantText)
			}
			if !slices.Equal(subs, tc.subs) {
				t.Errorf("sync messages %v, want %v", subs, tc.subs)
			}
			if !maps.Equal(cursors, tc.cursors) {
				t.Errorf("cursors %v, want %v", cursors, tc.cursors)
			}
		})
	}

	t.Run("updates that do not merge are left as they are", func(t *testing.T) {
		queue := [][]byte{sync(syncUpdate, updates[0]), sync(syncUpdate, []byte{0xff, 0xff}), cursor(1, 1, "a")}
		if out := compactPadMessages(queue); len(out) != len(queue) {
			t.Fatalf("%d messages after, want the %d as they were", len(out), len(queue))
		}
	})
}
