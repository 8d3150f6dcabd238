package ydoc

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzApplyUpdate feeds arbitrary bytes to a document holding some text.
// Whatever arrives: no panic; a refused update wraps ErrMalformed and
// changes nothing; an accepted one leaves a document whose encoded state
// loads into a fresh document with the same text and state vector.
func FuzzApplyUpdate(f *testing.F) {
	for _, u := range someUpdates(f) {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, update []byte) {
		d := NewDoc(Options{ClientID: 7})
		d.Text("content").Insert(0, "base 😀")
		before := d.EncodeStateAsUpdate(nil)
		err := d.ApplyUpdate(update)
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
		for _, name := range []string{"content", "t", "type"} {
			if a, b := d.Text(name).String(), d2.Text(name).String(); a != b {
				t.Fatalf("text %q: %q after reload, %q before", name, b, a)
			}
		}
		// Merging is a no-op on what is already merged.
		if _, err := MergeUpdates(state, update); err != nil {
			t.Fatalf("merge of an accepted update failed: %v", err)
		}
	})
}
