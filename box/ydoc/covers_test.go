package ydoc

import (
	"errors"
	"testing"
)

// TestCovers: a document covers the updates it has applied, and not one
// whose structs or deletions it lacks, even in part.
func TestCovers(t *testing.T) {
	a := NewDoc(Options{ClientID: 1})
	var updates [][]byte
	a.OnUpdate(func(u []byte) { updates = append(updates, append([]byte(nil), u...)) })
	text := a.Text("content")
	steps := []func() error{
		func() error { return text.Insert(0, "bonjour") }, // 0
		func() error { return text.Insert(7, " à tous") }, // 1
		func() error { return text.Delete(0, 3) },         // 2: a deletion only
		func() error { return text.Insert(0, "re") },      // 3
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	merged, err := MergeUpdates(updates[1], updates[2])
	if err != nil {
		t.Fatal(err)
	}

	b := NewDoc(Options{ClientID: 2})
	covers := func(u []byte) bool {
		t.Helper()
		ok, err := b.Covers(u)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i, u := range updates {
		if covers(u) {
			t.Fatalf("an empty document covers update %d", i)
		}
	}
	for _, i := range []int{0, 1} {
		if err := b.ApplyUpdate(updates[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []bool{true, true, false, false} {
		if got := covers(updates[i]); got != want {
			t.Errorf("after updates 0 and 1, covers update %d: %v, want %v", i, got, want)
		}
	}
	if covers(merged) {
		t.Error("covers 1+2 without the deletion of 2")
	}
	if err := b.ApplyUpdate(updates[2]); err != nil {
		t.Fatal(err)
	}
	if !covers(updates[2]) || !covers(merged) {
		t.Error("does not cover the deletion it applied")
	}
	// Applying what a document covers changes nothing.
	before := b.EncodeStateAsUpdate(nil)
	b.ApplyUpdate(merged)
	if string(b.EncodeStateAsUpdate(nil)) != string(before) {
		t.Error("applying a covered update changed the document")
	}
	// Structs waiting for a dependency are not held.
	c := NewDoc(Options{ClientID: 3})
	c.ApplyUpdate(updates[3])
	if ok, _ := c.Covers(updates[3]); ok {
		t.Error("covers an update whose structs wait for their dependencies")
	}
	if _, err := b.Covers([]byte{0xff, 0x01}); !errors.Is(err, ErrMalformed) {
		t.Errorf("a malformed update: %v", err)
	}
	// A deletion ending past the largest clock, for a client the document
	// holds: ApplyUpdate skips it, and Covers agrees.
	var e encoder
	e.uvarint(0) // no structs
	e.uvarint(1) // one client in the delete set
	e.uvarint(1)
	e.uvarint(1) // one range
	e.uvarint(maxClock - 1)
	e.uvarint(maxClock - 1)
	if ok, err := b.Covers(e.buf); err != nil || !ok {
		t.Errorf("a deletion past the largest clock: %v, %v; want covered, as ApplyUpdate changes nothing", ok, err)
	}
}
