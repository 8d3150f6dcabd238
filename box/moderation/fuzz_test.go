package moderation

import (
	"slices"
	"testing"

	"tiersbox/box/journal"
)

// FuzzDescribe reads entries as another box could send them: any kind,
// target and payload. An entry is either left out or described with one
// of the known verbs and an area.
func FuzzDescribe(f *testing.F) {
	f.Add("pad.lock", "pad/atelier", []byte(`{"locked":true,"note":"relecture"}`), "staff")
	f.Add("pad.archive", "pad/atelier", []byte(`{"archived":false}`), "staff")
	f.Add("chat.mute", "chat", []byte(`{"nick":"ana","until":1,"note":"x"}`), "staff")
	f.Add("chat.channel", "chat/atelier", []byte(`{"archived":true}`), "staff")
	f.Add("chat.clear", "chat/général", []byte(`{}`), "staff")
	f.Add("drive.remove", "drive/a/b.png", []byte(`{"path":"a/b.png"}`), "v1")
	f.Add("drive.hide", "nowhere", []byte(`[`), "")
	f.Fuzz(func(t *testing.T, kind, target string, payload []byte, author string) {
		e := journal.Entry{Origin: journal.Origin{1}, Seq: 1, Time: 1 << 16, Kind: journal.Kind(kind), Target: target, Author: author, Payload: payload}
		a, ok := Describe(e)
		if !ok {
			return
		}
		if !slices.Contains(Verbs, a.Verb) || (a.Area != AreaChat && a.Area != AreaPad && a.Area != AreaDrive) {
			t.Fatalf("%+v described as %q in %q", e, a.Verb, a.Area)
		}
		if !slices.Contains(Kinds, e.Kind) {
			t.Fatalf("kind %q is described but not logged", kind)
		}
	})
}

// FuzzParseCursor reads log positions as staff can type them in an
// address: one spelling per position.
func FuzzParseCursor(f *testing.F) {
	f.Add("117694424894668800-0100000000000000000000000000000000000000000000000000000000000000-17")
	f.Add("1-01-1")
	f.Add("01-0100000000000000000000000000000000000000000000000000000000000000-1")
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		pos, ok := ParseCursor(c)
		if ok && c != "" && Cursor(pos) != c {
			t.Fatalf("%q reads as %+v, written %q", c, pos, Cursor(pos))
		}
	})
}
