package chat

import (
	"os"
	"testing"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// FuzzApply gives the chat entries as another box could send them: any
// kind, target and payload. Applying never fails on content (only on the
// database), never panics, and leaves readable channels.
func FuzzApply(f *testing.F) {
	f.Add("chat.post", "chat/général", []byte(`{"nick":"Ana","text":"bonjour"}`), uint64(1))
	f.Add("chat.remove", "chat/général", []byte(`{"origin":"0100000000000000000000000000000000000000000000000000000000000000","seq":1}`), uint64(2))
	f.Add("chat.clear", "chat/pad-x", []byte(`{}`), uint64(3))
	f.Add("chat.channel", "chat/../x", []byte(`{"archived":true}`), uint64(4))
	f.Add("chat.mute", "chat", []byte(`{"nick":"","until":-1}`), uint64(5))
	dir, err := os.MkdirTemp("", "fuzzchat")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	j, _ := journal.Open(st, journal.Origin{9}, journal.Options{})
	s, err := New(st, j, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind, target string, payload []byte, seq uint64) {
		e := journal.Entry{Origin: journal.Origin{1}, Seq: seq, Time: journal.Time(seq << 16), Kind: journal.Kind(kind), Target: target, Author: "x", Payload: payload}
		if err := s.Apply(e); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if err := s.All(Default, func(Message) error { return nil }); err != nil {
			t.Fatalf("reading: %v", err)
		}
	})
}

// FuzzCursor reads paging cursors and message IDs as a visitor can type
// them in an address.
func FuzzCursor(f *testing.F) {
	f.Add("117694424894668800.0100000000000000000000000000000000000000000000000000000000000000-17")
	f.Add("1.x-1")
	f.Add("1.0100000000000000000000000000000000000000000000000000000000000000-017")
	f.Add("1.0100000000000000000000000000000000000000000000000000000000000000-+17")
	f.Fuzz(func(t *testing.T, c string) {
		if k, ok := decodeCursor(c); ok && len(k) != 48 {
			t.Fatalf("cursor %q gives a key of %d bytes", c, len(k))
		}
		if o, seq, ok := parseID(c); ok && MessageID(o, seq) != c {
			t.Fatalf("ID %q reads as %s", c, MessageID(o, seq))
		}
	})
}
