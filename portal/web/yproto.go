package web

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The y-websocket protocol (y-protocols sync and awareness), as stock Yjs
// clients speak it: each message is varUint(type) then its payload.
const (
	msgSync           = 0
	msgAwareness      = 1
	msgAuth           = 2
	msgQueryAwareness = 3

	syncStep1  = 0 // payload: a state vector
	syncStep2  = 1 // payload: an update answering step 1
	syncUpdate = 2 // payload: an update
)

var errProtocol = errors.New("malformed y-websocket message")

// yMessage is one decoded client message.
type yMessage struct {
	kind    uint64
	sub     uint64 // for msgSync
	payload []byte // state vector, update or awareness update
}

func readUvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: bad number", errProtocol)
	}
	return v, b[n:], nil
}

func readBytes(b []byte) ([]byte, []byte, error) {
	n, rest, err := readUvarint(b)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(rest)) {
		return nil, nil, fmt.Errorf("%w: length %d beyond the message", errProtocol, n)
	}
	return rest[:n], rest[n:], nil
}

// decodeYMessage decodes a message from a client. Unknown message types
// are reported as such so the caller can ignore them.
func decodeYMessage(b []byte) (yMessage, error) {
	var m yMessage
	var err error
	if m.kind, b, err = readUvarint(b); err != nil {
		return m, err
	}
	switch m.kind {
	case msgSync:
		if m.sub, b, err = readUvarint(b); err != nil {
			return m, err
		}
		if m.sub > syncUpdate {
			return m, fmt.Errorf("%w: sync message type %d", errProtocol, m.sub)
		}
		m.payload, _, err = readBytes(b)
	case msgAwareness:
		m.payload, _, err = readBytes(b)
		if err == nil {
			_, err = decodeAwareness(m.payload)
		}
	case msgQueryAwareness, msgAuth:
	default:
		return m, fmt.Errorf("%w: message type %d", errProtocol, m.kind)
	}
	return m, err
}

func encodeSync(sub uint64, payload []byte) []byte {
	out := make([]byte, 0, len(payload)+12)
	out = binary.AppendUvarint(out, msgSync)
	out = binary.AppendUvarint(out, sub)
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, payload...)
}

// awarenessEntry is one client's awareness state: its cursor, nickname
// and colour as JSON, or "null" when it left.
type awarenessEntry struct {
	client, clock uint64
	state         string
}

// maxAwarenessEntries bounds one awareness update.
const maxAwarenessEntries = 1024

func decodeAwareness(b []byte) ([]awarenessEntry, error) {
	n, b, err := readUvarint(b)
	if err != nil {
		return nil, err
	}
	if n > maxAwarenessEntries || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d awareness states", errProtocol, n)
	}
	out := make([]awarenessEntry, 0, n)
	for range n {
		var e awarenessEntry
		if e.client, b, err = readUvarint(b); err != nil {
			return nil, err
		}
		if e.clock, b, err = readUvarint(b); err != nil {
			return nil, err
		}
		var s []byte
		if s, b, err = readBytes(b); err != nil {
			return nil, err
		}
		e.state = string(s)
		out = append(out, e)
	}
	return out, nil
}

func encodeAwareness(entries []awarenessEntry) []byte {
	var inner []byte
	inner = binary.AppendUvarint(inner, uint64(len(entries)))
	for _, e := range entries {
		inner = binary.AppendUvarint(inner, e.client)
		inner = binary.AppendUvarint(inner, e.clock)
		inner = binary.AppendUvarint(inner, uint64(len(e.state)))
		inner = append(inner, e.state...)
	}
	out := binary.AppendUvarint(nil, msgAwareness)
	out = binary.AppendUvarint(out, uint64(len(inner)))
	return append(out, inner...)
}
