package ydoc

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzApplyUpdate feeds arbitrary bytes to a document holding some text.
// Whatever arrives: no panic; a refused update wraps ErrMalformed and
// changes nothing; after an accepted one the document's encoded state
// loads into a fresh document, which holds the same clocks.
//
// The fresh document's text is not compared: an update may give a struct
// a right origin that lies left of its origin, which no real client
// writes, and then YATA's placement depends on the list at the moment of
// integration, in Yjs as here. TestConvergenceProperty checks convergence
// on updates real edits produce.
func FuzzApplyUpdate(f *testing.F) {
	for _, u := range someUpdates(f) {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, update []byte) {
		d := NewDoc(Options{ClientID: 7})
		d.Text("content").Insert(0, "base 😀")
		before := d.EncodeStateAsUpdate(nil)
		covered, cerr := d.Covers(update)
		err := d.ApplyUpdate(update)
		if (cerr == nil) != (err == nil) {
			t.Fatalf("Covers says %v, ApplyUpdate %v", cerr, err)
		}
		if covered && !bytes.Equal(before, d.EncodeStateAsUpdate(nil)) {
			t.Fatal("an update the document covers changed it")
		}
		if err == nil {
			d.Covers(update) // must not panic on the document it changed
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !bytes.Equal(before, d.EncodeStateAsUpdate(nil)) {
				t.Fatal("a refused update changed the document")
			}
			return
		}
		state := d.EncodeStateAsUpdate(nil)
		d2 := NewDoc(Options{ClientID: 8})
		if err := d2.ApplyUpdate(state); err != nil {
			t.Fatalf("the document's own state does not load: %v", err)
		}
		if !d.Pending() && !d2.Pending() && !reflect.DeepEqual(d.StateVector(), d2.StateVector()) {
			t.Fatalf("state vector %v after reload, %v before", d2.StateVector(), d.StateVector())
		}
		if _, err := MergeUpdates(state, update); err != nil {
			t.Fatalf("merge of an accepted update failed: %v", err)
		}
	})
}
