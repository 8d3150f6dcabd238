package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Frame layout of one entry, the same bytes in the database and, later, in
// the segment files box-to-box sync copies:
//
//	magic "TJ" | version | uvarint bodyLen | body | CRC-32C(body), 4 bytes big-endian
//	body = origin (32 bytes) | uvarint seq | uvarint time | string kind
//	       | string target | string author | bytes payload
//
// where string and bytes are a uvarint length and the bytes. The CRC makes
// a torn or damaged frame detectable; the length lets a reader skip to the
// next frame.
//
// Version 1 is an entry as written. Version 2 is an erased entry (see
// erase.go): its target, author and payload are the same lengths but all
// zero bytes, so the frame keeps its size and the segments cut from the
// journal keep their boundaries.

const (
	frameVersion  = 1
	erasedVersion = 2
	// MaxPayload bounds one entry's payload. It is above the largest pad
	// (box/pad.MaxBytes), so a second of a pad's edits always fits.
	MaxPayload = 16 << 20
	maxString  = 1 << 10
)

// ErrCorrupt is returned for a frame that does not decode or whose checksum
// does not match.
var ErrCorrupt = errors.New("journal: corrupt entry")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Encode returns the frame of e.
func (e *Entry) Encode() []byte {
	body := make([]byte, 0, 64+len(e.Kind)+len(e.Target)+len(e.Author)+len(e.Payload))
	body = append(body, e.Origin[:]...)
	body = binary.AppendUvarint(body, e.Seq)
	body = binary.AppendUvarint(body, uint64(e.Time))
	for _, s := range []string{string(e.Kind), e.Target, e.Author} {
		body = binary.AppendUvarint(body, uint64(len(s)))
		body = append(body, s...)
	}
	body = binary.AppendUvarint(body, uint64(len(e.Payload)))
	body = append(body, e.Payload...)

	out := make([]byte, 0, len(body)+16)
	version := byte(frameVersion)
	if e.Erased {
		version = erasedVersion
	}
	out = append(out, 'T', 'J', version)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(body, crcTable))
}

// Decode reads one frame from the start of b and returns the entry and the
// number of bytes it took. A frame cut short returns io.ErrUnexpectedEOF
// wrapped in ErrCorrupt, so a reader of a growing file can tell a torn
// tail.
func Decode(b []byte) (Entry, int, error) {
	var e Entry
	if len(b) < 4 {
		return e, 0, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	if b[0] != 'T' || b[1] != 'J' {
		return e, 0, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if b[2] != frameVersion && b[2] != erasedVersion {
		return e, 0, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[2])
	}
	e.Erased = b[2] == erasedVersion
	n, k := binary.Uvarint(b[3:])
	if k <= 0 || n > MaxPayload+4*maxString+64 {
		return e, 0, fmt.Errorf("%w: bad length", ErrCorrupt)
	}
	start := 3 + k
	end := start + int(n)
	if end+4 > len(b) {
		return e, 0, fmt.Errorf("%w: truncated frame", ErrCorrupt)
	}
	body := b[start:end]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[end:]) {
		return e, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	if err := e.decodeBody(body); err != nil {
		return Entry{}, 0, err
	}
	return e, end + 4, nil
}

func (e *Entry) decodeBody(b []byte) error {
	if len(b) < len(e.Origin) {
		return fmt.Errorf("%w: short body", ErrCorrupt)
	}
	copy(e.Origin[:], b)
	b = b[len(e.Origin):]
	uv := func() (uint64, error) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, fmt.Errorf("%w: bad number", ErrCorrupt)
		}
		b = b[k:]
		return v, nil
	}
	bytes := func(limit uint64) ([]byte, error) {
		n, err := uv()
		if err != nil {
			return nil, err
		}
		if n > limit || n > uint64(len(b)) {
			return nil, fmt.Errorf("%w: bad field length", ErrCorrupt)
		}
		v := b[:n:n]
		b = b[n:]
		return v, nil
	}
	var err error
	if e.Seq, err = uv(); err != nil {
		return err
	}
	t, err := uv()
	if err != nil {
		return err
	}
	e.Time = Time(t)
	var fields [3][]byte
	for i := range fields {
		if fields[i], err = bytes(maxString); err != nil {
			return err
		}
	}
	e.Kind, e.Target, e.Author = Kind(fields[0]), string(fields[1]), string(fields[2])
	p, err := bytes(MaxPayload)
	if err != nil {
		return err
	}
	e.Payload = append([]byte(nil), p...)
	if len(b) != 0 {
		return fmt.Errorf("%w: trailing bytes in body", ErrCorrupt)
	}
	if e.Seq == 0 {
		return fmt.Errorf("%w: sequence 0", ErrCorrupt)
	}
	if e.Erased && !(allZero([]byte(e.Target)) && allZero([]byte(e.Author)) && allZero(e.Payload)) {
		return fmt.Errorf("%w: an erased entry that still holds content", ErrCorrupt)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
