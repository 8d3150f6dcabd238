package web

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// clientFrame encodes a frame as a client sends it: masked with key.
func clientFrame(op byte, fin bool, payload []byte, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

type gotFrame struct {
	op      byte
	payload string
}

// feedAll feeds stream to a frameReader in pieces of the given sizes
// (cycled), collecting what it hands on.
func feedAll(t *testing.T, stream []byte, limit int, pieces []int) ([]gotFrame, error) {
	t.Helper()
	r := frameReader{limit: limit}
	var got []gotFrame
	emit := func(op byte, p []byte) error {
		got = append(got, gotFrame{op, string(p)})
		return nil
	}
	for i := 0; len(stream) > 0; i++ {
		n := min(max(pieces[i%len(pieces)], 1), len(stream))
		if err := r.feed(stream[:n], emit); err != nil {
			return got, err
		}
		stream = stream[n:]
	}
	return got, nil
}

// Messages come out whole and in order however the network cuts the
// stream: single frames of each length encoding, fragments with control
// frames between them, empty messages.
func TestFrameReaderReadsMessagesInAnyPieces(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	long := bytes.Repeat([]byte("pad "), 20000) // 80,000 bytes: 64-bit length
	var stream []byte
	stream = append(stream, clientFrame(opBinary, true, []byte("hello"), key)...)
	stream = append(stream, clientFrame(opBinary, true, long[:300], key)...) // 16-bit length
	stream = append(stream, clientFrame(opBinary, true, long, key)...)
	stream = append(stream, clientFrame(opText, false, []byte("frag"), key)...)
	stream = append(stream, clientFrame(opPing, true, []byte("are you there"), key)...)
	stream = append(stream, clientFrame(opContinuation, false, []byte("ment"), key)...)
	stream = append(stream, clientFrame(opContinuation, true, []byte("ed"), key)...)
	stream = append(stream, clientFrame(opBinary, true, nil, key)...)
	stream = append(stream, clientFrame(opClose, true, []byte{0x03, 0xe8}, key)...)
	want := []gotFrame{
		{opBinary, "hello"}, {opBinary, string(long[:300])}, {opBinary, string(long)},
		{opPing, "are you there"}, {opText, "fragmented"}, {opBinary, ""}, {opClose, "\x03\xe8"},
	}
	for _, pieces := range [][]int{{len(stream)}, {1}, {2, 3, 5, 7}, {13, 1000, 1}, {65536}} {
		got, err := feedAll(t, stream, 1<<20, pieces)
		if err != nil {
			t.Fatalf("pieces %v: %v", pieces, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pieces %v: got %d frames, want %d (first: %+v)", pieces, len(got), len(want), got[:min(len(got), 2)])
		}
	}
}

// What RFC 6455 forbids a client, and what is above the limit, is refused
// from the frame's header.
func TestFrameReaderRefuses(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	unmasked := clientFrame(opBinary, true, []byte("x"), key)
	unmasked[1] &^= 0x80
	rsv := clientFrame(opBinary, true, []byte("x"), key)
	rsv[0] |= 0x40
	huge := []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	cat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	tests := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"unmasked", unmasked, errBadFrame},
		{"reserved bit", rsv, errBadFrame},
		{"unknown opcode", clientFrame(0x3, true, nil, key), errBadFrame},
		{"unknown control opcode", clientFrame(0xB, true, nil, key), errBadFrame},
		{"fragmented ping", clientFrame(opPing, false, nil, key), errBadFrame},
		{"long ping", clientFrame(opPing, true, make([]byte, 126), key), errBadFrame},
		{"continuation first", clientFrame(opContinuation, true, []byte("x"), key), errBadFrame},
		{"new message inside another", cat(clientFrame(opBinary, false, []byte("a"), key), clientFrame(opBinary, true, []byte("b"), key)), errBadFrame},
		{"too big", clientFrame(opBinary, true, make([]byte, 1001), key), errFrameTooBig},
		{"too big in fragments", cat(clientFrame(opBinary, false, make([]byte, 600), key), clientFrame(opContinuation, true, make([]byte, 600), key)), errFrameTooBig},
		{"absurd length", huge, errFrameTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pieces := range [][]int{{len(tt.stream)}, {1}} {
				if _, err := feedAll(t, tt.stream, 1000, pieces); !errors.Is(err, tt.want) {
					t.Fatalf("pieces %v: error %v, want %v", pieces, err, tt.want)
				}
			}
		})
	}
}

// Arbitrary bytes never crash the reader, and cutting the same bytes
// differently gives the same frames and the same verdict. Valid streams
// built from the input come back as they were sent.
func FuzzFrameReader(f *testing.F) {
	key := [4]byte{9, 8, 7, 6}
	f.Add(clientFrame(opBinary, true, []byte("hello"), key), uint64(1))
	f.Add(append(clientFrame(opText, false, []byte("a"), key), clientFrame(opContinuation, true, []byte("b"), key)...), uint64(2))
	f.Add([]byte{0x82, 0xfe, 0x01}, uint64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 1))
		pieces := []int{1 + rng.IntN(17), 1 + rng.IntN(300), 1 + rng.IntN(3)}
		whole, errWhole := feedAll(t, data, 4096, []int{len(data) + 1})
		cut, errCut := feedAll(t, data, 4096, pieces)
		if (errWhole == nil) != (errCut == nil) || !slices.Equal(whole, cut) {
			t.Fatalf("whole: %d frames, %v; in pieces %v: %d frames, %v", len(whole), errWhole, pieces, len(cut), errCut)
		}

		// The input as messages: each byte's low bits pick a length.
		var stream []byte
		var want []gotFrame
		for len(data) > 0 {
			n := min(int(data[0])*7, len(data)-1)
			msg := data[1 : 1+n]
			data = data[1+n:]
			if n > 2 && n%3 == 0 { // in two fragments
				stream = append(stream, clientFrame(opBinary, false, msg[:n/2], key)...)
				stream = append(stream, clientFrame(opContinuation, true, msg[n/2:], key)...)
			} else {
				stream = append(stream, clientFrame(opBinary, true, msg, key)...)
			}
			want = append(want, gotFrame{opBinary, string(msg)})
		}
		got, err := feedAll(t, stream, 4096, pieces)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("valid stream: %d frames, %v; want %d", len(got), err, len(want))
		}
	})
}

// setPollIdle changes how long a websocket may stay silent, and returns
// the undoing.
func setPollIdle(d time.Duration) func() {
	p, err := sharedPoller()
	if err != nil {
		panic(err)
	}
	old := p.idle.Swap(int64(d))
	return func() { p.idle.Store(old) }
}

// Server frames use the shortest length encoding RFC 6455 allows, at each
// boundary.
func TestAppendFrameHeader(t *testing.T) {
	tests := []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x82, 0}},
		{125, []byte{0x82, 125}},
		{126, []byte{0x82, 126, 0, 126}},
		{65535, []byte{0x82, 126, 0xff, 0xff}},
		{65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		if got := appendFrameHeader(nil, opBinary, tt.n); !bytes.Equal(got, tt.want) {
			t.Errorf("%d bytes: header % x, want % x", tt.n, got, tt.want)
		}
	}
}

// A header announcing megabytes reserves nothing like it before the bytes
// come: a client could otherwise hold a box's memory with a few headers.
func TestFrameReaderDoesNotTrustTheHeader(t *testing.T) {
	header := append([]byte{0x82, 0x80 | 127}, binary.BigEndian.AppendUint64(nil, 8<<20)...)
	header = append(header, 1, 2, 3, 4)
	var before, after runtime.MemStats
	readers := make([]frameReader, 50)
	runtime.ReadMemStats(&before)
	for i := range readers {
		readers[i].limit = 8 << 20
		if err := readers[i].feed(append(header, 'x'), func(byte, []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 10<<20 {
		t.Fatalf("50 announced messages of 8 MiB took %d MiB at once", grew>>20)
	}
	runtime.KeepAlive(readers)
}
