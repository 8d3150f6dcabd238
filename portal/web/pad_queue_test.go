package web

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tiersbox/box/pad"
	"tiersbox/box/ydoc"
)

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
			before := cloneMessages(tc.queue)
			out := compactPadMessages(tc.queue)
			if !slices.EqualFunc(before, tc.queue, bytes.Equal) {
				t.Fatal("the messages given were changed: they are shared with other connections")
			}
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

	t.Run("more than a client accepts in one awareness message", func(t *testing.T) {
		var queue [][]byte
		for id := range uint64(maxAwarenessEntries + 10) {
			queue = append(queue, cursor(id, 1, "x"))
		}
		out := compactPadMessages(queue)
		if len(out) != 2 {
			t.Fatalf("%d messages after, want 2", len(out))
		}
		_, cursors, _ := textOf(t, out)
		if len(cursors) != maxAwarenessEntries+10 {
			t.Fatalf("%d cursors after, want %d", len(cursors), maxAwarenessEntries+10)
		}
	})

	t.Run("too much to merge under the pad's lock", func(t *testing.T) {
		big := ydoc.NewDoc(ydoc.Options{ClientID: 5})
		var queue [][]byte
		big.OnUpdate(func(u []byte) { queue = append(queue, encodeSync(syncUpdate, bytes.Clone(u))) })
		for range 3 {
			big.Text(pad.ContentName).Insert(0, strings.Repeat("x", maxCompactBytes/2))
		}
		if out := compactPadMessages(queue); len(out) != len(queue) {
			t.Fatalf("%d messages after, want the %d as they were", len(out), len(queue))
		}
	})

	t.Run("updates that do not merge are left as they are", func(t *testing.T) {
		queue := [][]byte{sync(syncUpdate, updates[0]), sync(syncUpdate, []byte{0xff, 0xff}), cursor(1, 1, "a")}
		if out := compactPadMessages(queue); len(out) != len(queue) {
			t.Fatalf("%d messages after, want the %d as they were", len(out), len(queue))
		}
	})
}

func cloneMessages(msgs [][]byte) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = bytes.Clone(m)
	}
	return out
}
