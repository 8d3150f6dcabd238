package bep

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
	"google.golang.org/protobuf/encoding/protowire"
	"pgregory.net/rapid"
)

// Reading a stored file's entry directly gives what decoding it whole
// gives, for files with every field a database holds set at random.
func TestEntryFromStored(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := protocol.FileInfo{
			Name:          rapid.StringMatching(`[a-zé/]{1,20}`).Draw(t, "name"),
			Type:          protocol.FileInfoType(rapid.IntRange(0, 4).Draw(t, "type")),
			Size:          rapid.Int64().Draw(t, "size"),
			Permissions:   rapid.Uint32().Draw(t, "permissions"),
			ModifiedS:     rapid.Int64().Draw(t, "modified_s"),
			ModifiedNs:    rapid.Int32().Draw(t, "modified_ns"),
			ModifiedBy:    protocol.ShortID(rapid.Uint64().Draw(t, "modified_by")),
			Deleted:       rapid.Bool().Draw(t, "deleted"),
			RawInvalid:    rapid.Bool().Draw(t, "invalid"),
			NoPermissions: rapid.Bool().Draw(t, "no_permissions"),
			Sequence:      rapid.Int64().Draw(t, "sequence"),
			RawBlockSize:  rapid.Int32().Draw(t, "block_size"),
			BlocksHash:    rapid.SliceOfN(rapid.Byte(), 0, 32).Draw(t, "blocks_hash"),
			LocalFlags:    rapid.SampledFrom([]uint32{0, protocol.FlagLocalIgnored, protocol.FlagLocalUnsupported, protocol.FlagLocalReceiveOnly}).Draw(t, "local_flags"),
			VersionHash:   rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "version_hash"),
			InodeChangeNs: rapid.Int64().Draw(t, "inode_change_ns"),
		}
		for range rapid.IntRange(0, 4).Draw(t, "counters") {
			f.Version.Counters = append(f.Version.Counters, protocol.Counter{
				ID: protocol.ShortID(rapid.Uint64().Draw(t, "id")), Value: rapid.Uint64().Draw(t, "value")})
		}
		for i := range rapid.IntRange(0, 5).Draw(t, "blocks") {
			f.Blocks = append(f.Blocks, protocol.BlockInfo{Offset: int64(i) << 17, Size: 1 << 17,
				Hash: rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "hash")})
		}
		if f.Type == protocol.FileInfoTypeSymlink {
			f.SymlinkTarget = []byte("../cible")
		}
		b, err := marshalFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameEntry(t, b)
	})
}

// The cases protobuf reads in its own way: a field given twice (the last
// scalar wins, the version's counters add up), a field of another wire
// type than its own (skipped as unknown), fields this box never writes.
func TestEntryFromStoredReadsAsProtobuf(t *testing.T) {
	counter := func(id, v uint64) []byte {
		c := protowire.AppendTag(nil, counterID, protowire.VarintType)
		c = protowire.AppendVarint(c, id)
		c = protowire.AppendTag(c, counterValue, protowire.VarintType)
		return protowire.AppendVarint(c, v)
	}
	vector := func(counters ...[]byte) []byte {
		var v []byte
		for _, c := range counters {
			v = protowire.AppendTag(v, vectorCounters, protowire.BytesType)
			v = protowire.AppendBytes(v, c)
		}
		return v
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
	}
	field := func(b []byte, num protowire.Number, data []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), data)
	}
	var b []byte
	b = field(b, 1, []byte("a.txt"))
	b = varint(b, fiSize, 10)
	b = varint(b, fiSize, 20)             // the last wins
	b = field(b, fiSequence, []byte("x")) // wrong wire type: unknown
	b = field(b, fiVersion, vector(counter(1, 2)))
	b = field(b, fiVersion, vector(counter(3, 4))) // merged
	b = varint(b, fiBlocksHash, 5)                 // wrong wire type: unknown
	b = protowire.AppendTag(b, 50, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 51, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = varint(b, fiLocalFlags, uint64(protocol.FlagLocalUnsupported))
	e := sameEntry(t, b)
	if e.size != 20 || len(e.version.Counters) != 2 || !e.invalid {
		t.Fatalf("entry %+v: want size 20, two counters, invalid", e)
	}
}

// FuzzEntryFromStored: whatever the bytes, reading an entry does not
// panic, and when protobuf decodes them, gives the same entry.
func FuzzEntryFromStored(f *testing.F) {
	good, _ := marshalFile(protocol.FileInfo{Name: "a", Size: 3, Version: protocol.Vector{}.Update(1),
		Blocks: []protocol.BlockInfo{{Size: 3, Hash: make([]byte, 32)}}, BlocksHash: []byte{1, 2}, Sequence: 9})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte{0x4a, 0x02, 0x0a, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := unmarshalFile(b); err != nil {
			entryFromStored(b) // must not panic
			return
		}
		sameEntry(t, b)
	})
}

// sameEntry checks that entryFromStored reads b as entryOf(unmarshalFile)
// does, and returns the entry.
func sameEntry(t interface {
	Helper()
	Fatalf(string, ...any)
}, b []byte) fileEntry {
	t.Helper()
	f, err := unmarshalFile(b)
	if err != nil {
		t.Fatalf("unmarshalFile: %v", err)
	}
	want := entryOf(f)
	got, err := entryFromStored(b)
	if err != nil {
		t.Fatalf("entryFromStored: %v (protobuf read %v)", err, f)
	}
	if !bytes.Equal(got.blocksHash, want.blocksHash) {
		t.Fatalf("blocks hash %x, want %x", got.blocksHash, want.blocksHash)
	}
	got.blocksHash, want.blocksHash = nil, nil
	if len(got.version.Counters) == 0 && len(want.version.Counters) == 0 {
		got.version, want.version = protocol.Vector{}, protocol.Vector{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entry %+v, want %+v", got, want)
	}
	return got
}
