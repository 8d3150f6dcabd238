package ydoc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// someUpdates returns real updates from the fixtures, as fuzz seeds and
// for the truncation test.
func someUpdates(tb testing.TB) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "yjs", "basic-*.json"))
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		fx := new(fixture)
		if err := json.Unmarshal(raw, fx); err != nil {
			tb.Fatal(err)
		}
		for _, u := range fx.Updates {
			b, _ := base64.StdEncoding.DecodeString(u.Update)
			out = append(out, b)
		}
		b, _ := base64.StdEncoding.DecodeString(fx.Final.State)
		out = append(out, b)
	}
	return append(out, abhi())
}

// TestTruncatedUpdates applies every prefix of real updates: each is an
// error or a valid smaller update, never a panic, and an error leaves the
// document as it was.
func TestTruncatedUpdates(t *testing.T) {
	for _, u := range someUpdates(t) {
		for n := 0; n < len(u); n++ {
			d := NewDoc(Options{ClientID: 5})
			d.Text("content").Insert(0, "déjà là")
			before := d.EncodeStateAsUpdate(nil)
			if err := d.ApplyUpdate(u[:n]); err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d: error %v does not wrap ErrMalformed", n, err)
				}
				if !bytes.Equal(before, d.EncodeStateAsUpdate(nil)) {
					t.Fatalf("prefix %d: a refused update changed the document", n)
				}
			}
		}
	}
}

func TestHostileUpdates(t *testing.T) {
	var deep encoder
	deep.uvarint(1)
	deep.uvarint(1)
	deep.uvarint(7)
	deep.uvarint(0)
	deep.byte(refAny)
	deep.uvarint(1)
	deep.string("x")
	deep.uvarint(1)
	for range 10000 {
		deep.byte(117) // an array holding an array holding…
		deep.uvarint(1)
	}
	deep.byte(126)
	deep.uvarint(0)

	huge := func(build func(e *encoder)) []byte {
		var e encoder
		build(&e)
		return e.buf
	}
	tests := []struct {
		name   string
		update []byte
	}{
		{"empty", nil},
		{"absurd client count", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"absurd struct count", huge(func(e *encoder) { e.uvarint(1); e.uvarint(1 << 40) })},
		{"number beyond 2^53", huge(func(e *encoder) {
			e.uvarint(1)
			e.uvarint(1)
			e.buf = append(e.buf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
		})},
		{"string longer than the input", huge(func(e *encoder) {
			e.uvarint(1)
			e.uvarint(1)
			e.uvarint(3)
			e.uvarint(0)
			e.byte(refString)
			e.uvarint(1)
			e.string("t")
			e.uvarint(1 << 30)
		})},
		{"unknown content", huge(func(e *encoder) {
			e.uvarint(1)
			e.uvarint(1)
			e.uvarint(3)
			e.uvarint(0)
			e.byte(17)
		})},
		{"origin in its own future", huge(func(e *encoder) {
			e.uvarint(1)
			e.uvarint(1)
			e.uvarint(3)
			e.uvarint(0)
			e.byte(0x80 | refString)
			e.uvarint(3)
			e.uvarint(5)
			e.string("x")
			e.uvarint(0)
		})},
		{"deep nesting", deep.buf},
		{"zero-length GC", huge(func(e *encoder) {
			e.uvarint(1)
			e.uvarint(1)
			e.uvarint(3)
			e.uvarint(0)
			e.byte(refGC)
			e.uvarint(0)
			e.uvarint(0)
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDoc(Options{ClientID: 5})
			d.Text("t").Insert(0, "kept")
			err := d.ApplyUpdate(tt.update)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want an ErrMalformed", err)
			}
			if d.Text("t").String() != "kept" {
				t.Fatal("a refused update changed the document")
			}
			// Merging is syntactic, as in Yjs: it refuses what does not
			// decode, not references it does not follow.
			if _, err := MergeUpdates(tt.update, abhi()); err == nil && tt.update != nil && tt.name != "origin in its own future" {
				t.Error("MergeUpdates accepted it")
			}
		})
	}
}

// TestMissingDependencies: an update whose origins have not arrived waits,
// costs nothing, and integrates once they do.
func TestMissingDependencies(t *testing.T) {
	a := NewDoc(Options{ClientID: 1})
	var updates [][]byte
	a.OnUpdate(func(u []byte) { updates = append(updates, bytes.Clone(u)) })
	a.Text("t").Insert(0, "hello")
	a.Text("t").Insert(5, " world")
	a.Text("t").Delete(0, 1)
	b := NewDoc(Options{ClientID: 2})
	for i := len(updates) - 1; i >= 0; i-- {
		if err := b.ApplyUpdate(updates[i]); err != nil {
			t.Fatal(err)
		}
		if i > 0 && !b.Pending() {
			t.Fatalf("update %d integrated before its dependencies", i)
		}
	}
	if b.Pending() || b.Text("t").String() != "ello world" {
		t.Fatalf("pending=%v text %q", b.Pending(), b.Text("t").String())
	}
	// A reference to a clock nobody will ever send stays pending, and the
	// state encodes it so that it is not lost.
	c := NewDoc(Options{ClientID: 3})
	if err := c.ApplyUpdate(updates[1]); err != nil {
		t.Fatal(err)
	}
	if !c.Pending() || c.Text("t").String() != "" {
		t.Fatal("an update with missing dependencies was integrated")
	}
	d := NewDoc(Options{ClientID: 4})
	d.ApplyUpdate(c.EncodeStateAsUpdate(nil))
	d.ApplyUpdate(updates[0])
	if d.Text("t").String() != "hello world" {
		t.Fatalf("pending structs lost through an encoded state: %q", d.Text("t").String())
	}
}

// TestPendingWithGaps: structs of one client waiting with a gap between
// them survive an encoded state and integrate once everything arrives.
func TestPendingWithGaps(t *testing.T) {
	a := NewDoc(Options{ClientID: 1})
	b := NewDoc(Options{ClientID: 2})
	var ua, ub [][]byte
	a.OnUpdate(func(u []byte) { ua = append(ua, bytes.Clone(u)) })
	b.OnUpdate(func(u []byte) { ub = append(ub, bytes.Clone(u)) })
	a.Text("t").Insert(0, "one ") // ua[0]
	b.ApplyUpdate(ua[0])
	ub = nil
	b.Text("t").Insert(4, "two ") // ub[0], after a's text
	a.ApplyUpdate(ub[0])
	ua = nil
	a.Text("t").Insert(8, "three ") // ua[0]: depends on b
	a.Text("t").Insert(14, "four ") // ua[1]
	a.Text("t").Insert(19, "five")  // ua[2]

	c := NewDoc(Options{ClientID: 3})
	// Deliver a's third and first later edit, leaving a gap, before b's.
	for _, u := range [][]byte{ua[2], ua[0]} {
		if err := c.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Pending() {
		t.Fatal("nothing pending")
	}
	// The pending structs travel through an encoded state.
	d := NewDoc(Options{ClientID: 4})
	if err := d.ApplyUpdate(c.EncodeStateAsUpdate(nil)); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []*Doc{c, d} {
		for _, u := range [][]byte{a.EncodeStateAsUpdate(StateVector{1: 0}), ub[0]} {
			if err := doc.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		}
		if doc.Pending() || doc.Text("t").String() != "one two three four five" {
			t.Fatalf("pending=%v text %q", doc.Pending(), doc.Text("t").String())
		}
	}
}
