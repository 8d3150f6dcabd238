package web

import (
	"tiersbox/box/ydoc"
)

// maxCompactBytes bounds the messages compactPadMessages merges: the
// merge runs under the pad's lock, which every editor of the pad waits
// for. A client that lags further behind is dropped, and loads the pad
// again when it reconnects, which then costs about as much.
const maxCompactBytes = 1 << 20

// compactPadMessages merges the messages waiting for a pad client that
// reads slower than the pad's editors type, such as a phone on a crowded
// WiFi: every update into one (Yjs updates merge, in any order), and
// every cursor into its latest state. The client then gets what it missed
// in a few messages, instead of being dropped and made to load the whole
// pad again.
//
// The merged update is sent as a sync step 2 if one was waiting, since
// that is what tells a stock client it is in sync; the cursors go last,
// after the text they point into. Other messages keep their order, in
// front. If the messages are too large to merge here, or the updates do
// not merge (they were all applied to the pad, so they should), the
// queue is returned as it is and the client is dropped as before.
func compactPadMessages(queue [][]byte) [][]byte {
	size := 0
	for _, b := range queue {
		size += len(b)
	}
	if size > maxCompactBytes {
		return queue
	}
	var (
		out     [][]byte
		updates [][]byte
		step2   bool
		cursors = map[uint64]awarenessEntry{}
		order   []uint64 // of cursors, as first seen
	)
	for _, b := range queue {
		m, err := decodeYMessage(b)
		var entries []awarenessEntry
		if err == nil && m.kind == msgAwareness {
			// The box sends only states it decoded, so this does not fail.
			entries, err = decodeAwareness(m.payload)
		}
		switch {
		case err != nil:
			out = append(out, b)
		case m.kind == msgSync && (m.sub == syncStep2 || m.sub == syncUpdate):
			updates = append(updates, m.payload)
			step2 = step2 || m.sub == syncStep2
		case m.kind == msgAwareness:
			for _, e := range entries {
				old, seen := cursors[e.client]
				if !seen {
					order = append(order, e.client)
				}
				// As y-protocols applies them: a newer clock wins, and a
				// removal wins at the same clock.
				if !seen || e.clock > old.clock || e.clock == old.clock && e.state == "null" {
					cursors[e.client] = e
				}
			}
		default:
			out = append(out, b)
		}
	}
	if len(updates) > 0 {
		merged, err := ydoc.MergeUpdates(updates...)
		if err != nil {
			return queue
		}
		sub := uint64(syncUpdate)
		if step2 {
			sub = syncStep2
		}
		out = append(out, encodeSync(sub, merged))
	}
	// In messages a client accepts (decodeAwareness's bound).
	for len(order) > 0 {
		n := min(len(order), maxAwarenessEntries)
		entries := make([]awarenessEntry, 0, n)
		for _, id := range order[:n] {
			entries = append(entries, cursors[id])
		}
		out = append(out, encodeAwareness(entries))
		order = order[n:]
	}
	return out
}
