package web

import (
	"tiersbox/box/ydoc"
)

// compactPadMessages merges the messages waiting for a pad client that
// reads slower than the pad's editors type, such as a phone on a crowded
// WiFi: every update into one (Yjs updates merge, in any order), and
// every cursor into its latest state. The client then gets what it missed
// in one message, instead of being dropped and made to load the whole pad
// again.
//
// The merged update is sent as a sync step 2 if one was waiting, since
// that is what tells a stock client it is in sync; the merged awareness
// goes last, after the text its cursors point into. Other messages keep
// their order, in front. If the updates do not merge (they were all
// applied to the pad, so they should), the messages are returned as they
// are and the client is dropped as before.
func compactPadMessages(queue [][]byte) [][]byte {
	var (
		out     [][]byte
		updates [][]byte
		step2   bool
		cursors = map[uint64]awarenessEntry{}
		order   []uint64 // of cursors, as first seen
	)
	for _, b := range queue {
		m, err := decodeYMessage(b)
		switch {
		case err == nil && m.kind == msgSync && (m.sub == syncStep2 || m.sub == syncUpdate):
			updates = append(updates, m.payload)
			step2 = step2 || m.sub == syncStep2
			continue
		case err == nil && m.kind == msgAwareness:
			entries, err := decodeAwareness(m.payload)
			if err != nil {
				break
			}
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
			continue
		}
		out = append(out, b)
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
	if len(order) > 0 {
		entries := make([]awarenessEntry, 0, len(order))
		for _, id := range order {
			entries = append(entries, cursors[id])
		}
		out = append(out, encodeAwareness(entries))
	}
	return out
}
