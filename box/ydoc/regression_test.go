package ydoc

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// Regressions found by a review of the core.

func TestRefusesWhatYjsRefuses(t *testing.T) {
	for name, u := range map[string][]byte{
		"text cut inside a UTF-8 sequence": {1, 2, 5, 0, 4, 1, 1, 116, 3, 0xF0, 0x9F, 0x98, 4 | 0x80, 5, 2, 1, 0x41, 0},
		"embed that is not JSON":           {1, 1, 5, 0, 5, 1, 1, 116, 1, 0x7b, 0},
	} {
		d := NewDoc(Options{ClientID: 1})
		if err := d.ApplyUpdate(u); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
		if len(d.StateVector()) != 0 {
			t.Errorf("%s: something was stored", name)
		}
	}
	// Through the API, invalid UTF-8 becomes U+FFFD, as in JavaScript.
	d := NewDoc(Options{ClientID: 1})
	d.Text("t").Insert(0, "a\xffb")
	if got := d.Text("t").String(); got != "a\uFFFDb" {
		t.Errorf("API text %q", got)
	}
}

func TestMarkersAfterNestedApply(t *testing.T) {
	other := NewDoc(Options{ClientID: 2})
	d := NewDoc(Options{ClientID: 1})
	d.Text("t").Insert(0, "abcdefghij")
	other.ApplyUpdate(d.EncodeStateAsUpdate(nil))
	other.Text("t").Insert(0, "XYZ")
	u := other.EncodeStateAsUpdate(d.StateVector())
	d.Text("t").Insert(8, "1")
	d.Transact(func(*Transaction) {
		if err := d.ApplyUpdate(u); err != nil {
			t.Fatal(err)
		}
	})
	d.Text("t").Insert(9, "_")
	if got := d.Text("t").String(); got != "XYZabcdef_gh1ij" {
		t.Fatalf("got %q", got)
	}
}

func TestPendingSkipDoesNotHideContent(t *testing.T) {
	a := NewDoc(Options{ClientID: 1})
	b := NewDoc(Options{ClientID: 2})
	var ua, ub [][]byte
	a.OnUpdate(func(u []byte) { ua = append(ua, bytes.Clone(u)) })
	b.OnUpdate(func(u []byte) { ub = append(ub, bytes.Clone(u)) })
	a.Text("t").Insert(0, "one ")
	first := bytes.Clone(ua[0])
	b.ApplyUpdate(ua[0])
	ub = nil
	b.Text("t").Insert(4, "two ")
	a.ApplyUpdate(ub[0])
	ua = nil
	a.Text("t").Insert(8, "three ")
	a.Text("t").Insert(14, "four ")
	a.Text("t").Insert(19, "five")

	c := NewDoc(Options{ClientID: 3})
	c.ApplyUpdate(ua[2])
	c.ApplyUpdate(ua[0])
	d := NewDoc(Options{ClientID: 4})
	// Pending, with a gap over "four ", carried by an encoded state.
	d.ApplyUpdate(c.EncodeStateAsUpdate(nil))
	for _, doc := range []*Doc{c, d} {
		for _, u := range [][]byte{ua[1], first, ub[0]} {
			if err := doc.ApplyUpdate(u); err != nil {
				t.Fatal(err)
			}
		}
		if doc.Pending() || doc.Text("t").String() != "one two three four five" {
			t.Errorf("pending=%v text %q", doc.Pending(), doc.Text("t").String())
		}
	}
}

func TestNestedAnyAllocation(t *testing.T) {
	const n = 1 << 16
	var e encoder
	e.uvarint(1)
	e.uvarint(1)
	e.uvarint(7)
	e.uvarint(0)
	e.byte(refAny)
	e.uvarint(1)
	e.string("arr")
	e.uvarint(1)
	for range 60 {
		e.byte(117) // arrays each claiming n elements
		e.uvarint(n)
	}
	for range n {
		e.byte(126)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	NewDoc(Options{ClientID: 1}).ApplyUpdate(e.buf)
	MergeUpdates(e.buf, e.buf)
	runtime.ReadMemStats(&m1)
	// Every decoded value is an interface of 16 bytes, from at least one
	// input byte; slices double as they grow; merging decodes both inputs.
	// 256 times the input bounds all that with room to spare, where
	// reserving each claimed count would have been thousands of times.
	if got := m1.TotalAlloc - m0.TotalAlloc; got > uint64(256*len(e.buf)) {
		t.Fatalf("a %d-byte update made the decoder allocate %d bytes", len(e.buf), got)
	}
}

func TestTypeInsertedOnce(t *testing.T) {
	d := NewDoc(Options{ClientID: 1})
	nested := NewMap()
	if err := d.Array("a").Insert(0, nested, nested); err == nil {
		t.Fatal("one new type inserted twice in one call")
	}
}
