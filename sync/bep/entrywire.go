package bep

import (
	"errors"
	"fmt"

	"github.com/syncthing/syncthing/lib/protocol"
	"google.golang.org/protobuf/encoding/protowire"
)

// The field numbers of Syncthing's FileInfo (proto/bep/bep.proto) that a
// fileEntry keeps, and of the Vector and Counter inside its version.
const (
	fiType        = 2
	fiSize        = 3
	fiPermissions = 4
	fiModifiedS   = 5
	fiDeleted     = 6
	fiInvalid     = 7
	fiVersion     = 9
	fiSequence    = 10
	fiModifiedNs  = 11
	fiModifiedBy  = 12
	fiBlocksHash  = 18
	fiLocalFlags  = 1000

	vectorCounters = 1
	counterID      = 1
	counterValue   = 2
)

// entryFromStored reads a file's short entry straight from the FileInfo
// the database holds (marshalFile), skipping its blocks and every field a
// fileEntry does not keep. Opening an index reads every file of every
// folder and of every peer's announcement: decoding each whole, blocks
// included, then dropping the blocks was most of a box's start with
// 10,000 drive files. It reads fields as protobuf does: the last of a
// repeated scalar wins, a repeated message field merges, and a field of
// an unexpected wire type is skipped as unknown. It gives the same entry
// as entryOf(unmarshalFile(b)) whenever that succeeds (TestEntryFromStored,
// FuzzEntryFromStored). The blocks hash is copied: b may be the
// database's memory, valid only in its transaction.
func entryFromStored(b []byte) (fileEntry, error) {
	var e fileEntry
	var raw bool
	var local uint32
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch {
		case typ == protowire.VarintType:
			switch num {
			case fiType:
				e.typ = protocol.FileInfoType(int32(v))
			case fiSize:
				e.size = int64(v)
			case fiPermissions:
				e.perms = uint32(v)
			case fiModifiedS:
				e.modS = int64(v)
			case fiDeleted:
				e.deleted = v != 0
			case fiInvalid:
				raw = v != 0
			case fiSequence:
				e.sequence = int64(v)
			case fiModifiedNs:
				e.modNs = int32(v)
			case fiModifiedBy:
				e.modifiedBy = protocol.ShortID(v)
			case fiLocalFlags:
				local = uint32(v)
			}
		case typ == protowire.BytesType && num == fiBlocksHash:
			e.blocksHash = append([]byte{}, data...)
		case typ == protowire.BytesType && num == fiVersion:
			return eachField(data, func(num protowire.Number, typ protowire.Type, _ uint64, data []byte) error {
				if num != vectorCounters || typ != protowire.BytesType {
					return nil
				}
				var c protocol.Counter
				err := eachField(data, func(num protowire.Number, typ protowire.Type, v uint64, _ []byte) error {
					switch {
					case typ != protowire.VarintType:
					case num == counterID:
						c.ID = protocol.ShortID(v)
					case num == counterValue:
						c.Value = v
					}
					return nil
				})
				e.version.Counters = append(e.version.Counters, c)
				return err
			})
		}
		return nil
	})
	if err != nil {
		return fileEntry{}, fmt.Errorf("stored file: %w", err)
	}
	e.invalid = raw || local&protocol.LocalInvalidFlags != 0
	return e, nil
}

var errWire = errors.New("malformed protobuf")

// eachField calls f with every field of the protobuf message in b: the
// value of a varint field, the contents of a length-delimited one (which
// alias b). Fixed-size and group fields are skipped.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errWire, protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var data []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", errWire, num, protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.VarintType || typ == protowire.BytesType {
			if err := f(num, typ, v, data); err != nil {
				return err
			}
		}
	}
	return nil
}
