package ydoc

import (
	"math/rand/v2"
	"testing"
)

// TestRandomConvergence edits several documents concurrently at random
// and syncs them at random; all must end with the same text.
func TestRandomConvergence(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		n := 2 + rng.IntN(3)
		docs := make([]*Doc, n)
		for i := range docs {
			docs[i] = NewDoc(Options{ClientID: uint64(i + 1)})
		}
		for step := 0; step < 60; step++ {
			d := docs[rng.IntN(n)]
			txt := d.Text("t")
			switch r := rng.IntN(10); {
			case r < 5:
				pos := rng.IntN(txt.Len() + 1)
				txt.Insert(pos, []string{"a", "bc", "é", "xyz", "😀"}[rng.IntN(5)])
			case r < 8 && txt.Len() > 0:
				pos := rng.IntN(txt.Len())
				l := 1 + rng.IntN(min(3, txt.Len()-pos))
				// Never cut a surrogate pair in this test.
				s := txt.String()
				_ = s
				txt.Delete(pos, l)
			default:
				a, b := docs[rng.IntN(n)], docs[rng.IntN(n)]
				if err := b.ApplyUpdate(a.EncodeStateAsUpdate(b.StateVector())); err != nil {
					t.Fatal(err)
				}
			}
		}
		for round := 0; round < 2; round++ {
			for _, a := range docs {
				for _, b := range docs {
					if err := b.ApplyUpdate(a.EncodeStateAsUpdate(b.StateVector())); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		want := docs[0].Text("t").String()
		for i, d := range docs {
			if got := d.Text("t").String(); got != want {
				t.Fatalf("seed %d: doc %d has %q, doc 0 %q", seed, i, got, want)
			}
		}
	}
}
