package web

import (
	"encoding/binary"
	"errors"
)

// Opcodes of websocket frames (RFC 6455, section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

var (
	errFrameTooBig = errors.New("websocket: message too large")
	errBadFrame    = errors.New("websocket: malformed frame")
)

// frameReader takes in the bytes a client sends on a websocket, in pieces
// of any size as they come off the network, and hands on each whole
// message and control frame. It keeps no buffer between messages: an idle
// connection costs only this struct, which is what lets the pads hold
// thousands of mostly idle phones (see wspoll_linux.go).
//
// It reads what RFC 6455 lets a client send when no extension was agreed:
// masked frames, messages in fragments, control frames of at most 125
// bytes between fragments. Anything else is errBadFrame; a message above
// limit is errFrameTooBig, refused from its header before its bytes come.
type frameReader struct {
	limit int // the largest message, fragments together

	hdr  [14]byte // a frame header arriving in pieces
	nhdr int

	inFrame bool // the header is read, the payload follows
	op      byte
	fin     bool
	key     [4]byte
	left    int    // payload bytes still to come
	done    int    // payload bytes already taken, for the mask
	ctrl    []byte // a control frame's payload

	msgOp byte // the opcode of the message being put together; 0: none
	msg   []byte
}

// feed takes the next bytes of the stream and calls emit for every
// message (opText or opBinary) and control frame they complete. The
// payload passed to emit is the caller's to keep. An error from emit
// stops the reading and is returned.
func (r *frameReader) feed(p []byte, emit func(op byte, payload []byte) error) error {
	for len(p) > 0 {
		if !r.inFrame {
			n, err := r.header(p)
			if err != nil {
				return err
			}
			p = p[n:]
			if !r.inFrame {
				return nil // the header's end is still to come
			}
		} else {
			n := min(r.left, len(p))
			if r.op >= opClose {
				r.ctrl = r.unmask(r.ctrl, p[:n])
			} else {
				r.msg = r.unmask(r.msg, p[:n])
			}
			r.left -= n
			p = p[n:]
		}
		if r.left == 0 {
			if err := r.finish(emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// unmask appends src to dst, unmasked.
func (r *frameReader) unmask(dst, src []byte) []byte {
	start := len(dst)
	dst = append(dst, src...)
	for i := start; i < len(dst); i++ {
		dst[i] ^= r.key[r.done&3]
		r.done++
	}
	return dst
}

// header takes the bytes of a frame header from p, returning how many it
// used; once the header is whole it checks it and starts the frame.
func (r *frameReader) header(p []byte) (int, error) {
	used := 0
	for {
		need := 2
		if r.nhdr >= 2 {
			if r.hdr[1]&0x80 == 0 {
				return used, errBadFrame // clients must mask (section 5.1)
			}
			switch r.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
			need += 4
		}
		if r.nhdr == need {
			break
		}
		if used == len(p) {
			return used, nil
		}
		k := copy(r.hdr[r.nhdr:need], p[used:])
		r.nhdr += k
		used += k
	}
	h := r.hdr[:r.nhdr]
	r.nhdr = 0
	fin, rsv, op := h[0]&0x80 != 0, h[0]&0x70, h[0]&0x0f
	if rsv != 0 {
		return used, errBadFrame // no extension was agreed
	}
	size := uint64(h[1] & 0x7f)
	switch size {
	case 126:
		size = uint64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		size = binary.BigEndian.Uint64(h[2:])
	}
	copy(r.key[:], h[len(h)-4:])
	switch op {
	case opClose, opPing, opPong:
		if !fin || size > 125 {
			return used, errBadFrame
		}
		r.ctrl = make([]byte, 0, size)
	case opText, opBinary, opContinuation:
		if (op == opContinuation) != (r.msgOp != 0) {
			return used, errBadFrame // a fragment out of place
		}
		if size > uint64(r.limit-len(r.msg)) {
			return used, errFrameTooBig
		}
		if op != opContinuation {
			r.msgOp = op
			// What the header announces is not reserved at once: a
			// client could announce megabytes and send them a byte a
			// minute. The buffer grows as the bytes come.
			r.msg = make([]byte, 0, min(size, 64<<10))
		}
	default:
		return used, errBadFrame
	}
	r.inFrame, r.op, r.fin, r.left, r.done = true, op, fin, int(size), 0
	return used, nil
}

// finish ends the frame whose payload is all in.
func (r *frameReader) finish(emit func(op byte, payload []byte) error) error {
	r.inFrame = false
	if r.op >= opClose {
		payload := r.ctrl
		r.ctrl = nil
		return emit(r.op, payload)
	}
	if !r.fin {
		return nil
	}
	op, msg := r.msgOp, r.msg
	r.msgOp, r.msg = 0, nil
	return emit(op, msg)
}
