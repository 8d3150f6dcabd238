package ydoc

import (
	"bytes"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// TestConvergenceProperty: whatever the edits, any order of delivery of
// the same updates, with duplicates, gives the same text and state vector.
func TestConvergenceProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 4).Draw(rt, "clients")
		docs := make([]*Doc, n)
		var updates [][]byte
		for i := range docs {
			docs[i] = NewDoc(Options{ClientID: uint64(i + 1)})
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for range steps {
			d := docs[rapid.IntRange(0, n-1).Draw(rt, "doc")]
			txt := d.Text("t")
			var u []byte
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1:
				pos := safePos(txt, rapid.IntRange(0, txt.Len()).Draw(rt, "pos"))
				s := rapid.SampledFrom([]string{"a", "xy", "é", "😀", "z\n"}).Draw(rt, "s")
				u = d.Transact(func(*Transaction) { txt.Insert(pos, s) })
			case 2:
				if txt.Len() == 0 {
					continue
				}
				pos := safePos(txt, rapid.IntRange(0, txt.Len()-1).Draw(rt, "pos"))
				end := safePos(txt, min(txt.Len(), pos+rapid.IntRange(1, 3).Draw(rt, "len")))
				if end <= pos {
					continue
				}
				u = d.Transact(func(*Transaction) { txt.Delete(pos, end-pos) })
			case 3:
				a, b := docs[rapid.IntRange(0, n-1).Draw(rt, "from")], d
				if err := b.ApplyUpdate(a.EncodeStateAsUpdate(b.StateVector())); err != nil {
					rt.Fatal(err)
				}
			}
			if u != nil {
				updates = append(updates, u)
			}
		}
		if len(updates) == 0 {
			return
		}
		ref := NewDoc(Options{ClientID: 99})
		for _, u := range updates {
			if err := ref.ApplyUpdate(u); err != nil {
				rt.Fatal(err)
			}
		}
		order := rapid.SliceOfN(rapid.IntRange(0, len(updates)-1), len(updates), 3*len(updates)).Draw(rt, "order")
		d := NewDoc(Options{ClientID: 98})
		seen := make([]bool, len(updates))
		for _, i := range order {
			seen[i] = true
			if err := d.ApplyUpdate(updates[i]); err != nil {
				rt.Fatal(err)
			}
		}
		// Then everything once more in order, so all have arrived.
		for i, u := range updates {
			if !seen[i] {
				if err := d.ApplyUpdate(u); err != nil {
					rt.Fatal(err)
				}
			}
		}
		if d.Pending() {
			rt.Fatal("updates still pending after all arrived")
		}
		if got, want := d.Text("t").String(), ref.Text("t").String(); got != want {
			rt.Fatalf("text %q, want %q", got, want)
		}
		if !reflect.DeepEqual(d.StateVector(), ref.StateVector()) {
			rt.Fatalf("state vector %v, want %v", d.StateVector(), ref.StateVector())
		}
		// Applying it all again changes nothing.
		before := d.EncodeStateAsUpdate(nil)
		for _, u := range updates {
			d.ApplyUpdate(u)
		}
		if !bytes.Equal(before, d.EncodeStateAsUpdate(nil)) {
			rt.Fatal("applying the same updates twice changed the document")
		}
	})
}
