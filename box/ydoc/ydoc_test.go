package ydoc

import (
	"bytes"
	"errors"
	"testing"
)

// abhi is the vector of ../shared/YJS.md: one Yjs client typing, deleting
// and typing again, giving "abhi".
func abhi() []byte {
	const c = 264992024
	var e encoder
	e.uvarint(1)
	e.uvarint(5)
	e.uvarint(c)
	e.uvarint(0)
	e.byte(0x01) // deleted content, parent by name
	e.uvarint(1)
	e.string("type")
	e.uvarint(3)
	e.byte(0x44) // string with a right origin
	e.uvarint(c)
	e.uvarint(0)
	e.string("ab")
	e.byte(0xc1)
	e.uvarint(c)
	e.uvarint(4)
	e.uvarint(c)
	e.uvarint(0)
	e.uvarint(1)
	e.byte(0x81)
	e.uvarint(c)
	e.uvarint(2)
	e.uvarint(1)
	e.byte(0x84)
	e.uvarint(c)
	e.uvarint(6)
	e.string("hi")
	e.uvarint(1)
	e.uvarint(c)
	e.uvarint(2)
	e.uvarint(0)
	e.uvarint(3)
	e.uvarint(5)
	e.uvarint(2)
	return e.buf
}

func TestAbhiVector(t *testing.T) {
	d := NewDoc(Options{ClientID: 1})
	if err := d.ApplyUpdate(abhi()); err != nil {
		t.Fatal(err)
	}
	if got := d.Text("type").String(); got != "abhi" {
		t.Fatalf("text %q, want abhi", got)
	}
	if sv := d.StateVector(); sv[264992024] != 9 {
		t.Errorf("state vector %v", sv)
	}
	// Applying it again changes nothing.
	before := d.EncodeStateAsUpdate(nil)
	if err := d.ApplyUpdate(abhi()); err != nil {
		t.Fatal(err)
	}
	if after := d.EncodeStateAsUpdate(nil); !bytes.Equal(before, after) {
		t.Errorf("applying twice changed the state")
	}
	// A fresh document loading the encoded state has the same text.
	d2 := NewDoc(Options{ClientID: 2})
	if err := d2.ApplyUpdate(before); err != nil {
		t.Fatal(err)
	}
	if got := d2.Text("type").String(); got != "abhi" {
		t.Fatalf("reloaded text %q", got)
	}
}

func TestLocalEditsRoundTrip(t *testing.T) {
	a := NewDoc(Options{ClientID: 10})
	var updates [][]byte
	a.OnUpdate(func(u []byte) { updates = append(updates, append([]byte(nil), u...)) })
	txt := a.Text("content")
	steps := []struct {
		op   string
		pos  int
		s    string
		n    int
		want string
	}{
		{"ins", 0, "hello", 0, "hello"},
		{"ins", 5, " world", 0, "hello world"},
		{"ins", 5, ",", 0, "hello, world"},
		{"del", 0, "", 1, "ello, world"},
		{"ins", 0, "H", 0, "Hello, world"},
		{"ins", 12, " 😀!", 0, "Hello, world 😀!"},
		{"del", 13, "", 2, "Hello, world !"},
		{"ins", 7, "é", 0, "Hello, éworld !"},
	}
	for _, st := range steps {
		var err error
		if st.op == "ins" {
			err = txt.Insert(st.pos, st.s)
		} else {
			err = txt.Delete(st.pos, st.n)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := txt.String(); got != st.want {
			t.Fatalf("after %s %d: %q, want %q", st.op, st.pos, got, st.want)
		}
	}
	b := NewDoc(Options{ClientID: 20})
	for _, u := range updates {
		if err := b.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Text("content").String(); got != txt.String() {
		t.Fatalf("replica %q, want %q", got, txt.String())
	}
	if err := txt.Insert(100, "x"); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("insert beyond the end: %v", err)
	}
}
