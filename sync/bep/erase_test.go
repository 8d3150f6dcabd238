package bep

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"tiersbox/box/journal"
)

// A visitor at box C asks to erase what they wrote at box A, which C
// reaches only through B: the request travels to A, A blanks its entries,
// and the blanked segment replaces the copies at B and C, which end with
// A's journal byte for byte and without the words.
func TestErasureTravels(t *testing.T) {
	a, b, c := newTestBox(t, "a"), newTestBox(t, "b"), newTestBox(t, "c")
	var ana []journal.Ref
	for i := range 40 {
		author := "tom"
		if i%4 == 0 {
			author = "ana"
		}
		es, err := a.j.Append(journal.Draft{Kind: "chat.post", Target: "chat/général", Author: author,
			Payload: fmt.Appendf(nil, `{"text":"secret-%s-%d"}`, author, i)})
		if err != nil {
			t.Fatal(err)
		}
		if author == "ana" {
			ana = append(ana, journal.Ref{Origin: es[0].Origin, Seq: es[0].Seq})
		}
	}
	linkBoxes(t, a, b)
	linkBoxes(t, b, c)
	origin := a.j.Origin()
	waitFor(t, "c to hold a's entries", 10*time.Second, func() bool { return heads(t, c)[origin] == 40 })

	if _, err := c.j.Append(journal.EraseDrafts("ana", ana)...); err != nil {
		t.Fatal(err)
	}
	erasedAt := func(box *testBox) int {
		n := 0
		box.j.Since(origin, 0, func(e journal.Entry) error {
			if e.Erased {
				n++
			}
			return nil
		})
		return n
	}
	for _, box := range []*testBox{a, b, c} {
		waitFor(t, "the erasure everywhere", 15*time.Second, func() bool { return erasedAt(box) == len(ana) })
	}
	waitFor(t, "identical journals", 10*time.Second, func() bool { return converged(t, a, b, c) })
	for name, box := range map[string]*testBox{"a": a, "b": b, "c": c} {
		box.j.Since(origin, 0, func(e journal.Entry) error {
			if bytes.Contains(e.Payload, []byte("secret-ana")) {
				t.Errorf("box %s still holds %s", name, e.Payload)
			}
			if !e.Erased && !bytes.Contains(e.Payload, []byte("secret-tom")) {
				t.Errorf("box %s lost %d", name, e.Seq)
			}
			return nil
		})
	}
	// More entries after the erasure keep flowing into the same segment.
	a.j.Append(journal.Draft{Kind: "chat.post", Target: "chat/général", Author: "tom", Payload: []byte(`{"text":"after"}`)})
	waitFor(t, "the entry after", 10*time.Second, func() bool { return heads(t, c)[origin] == 41 })
	waitFor(t, "identical journals again", 10*time.Second, func() bool { return converged(t, a, b, c) })
}

// A segment served to peers is what the journal holds now: after it grew,
// and after an entry in it was erased, a request gets the new bytes, not
// those read for the requests before.
func TestServedSegmentFollowsTheJournal(t *testing.T) {
	a := newTestBox(t, "a")
	origin := a.j.Origin()
	name := segmentName(origin, 1)
	var refs []journal.Ref
	appendPost := func(text string) {
		t.Helper()
		es, err := a.j.Append(journal.Draft{Kind: "chat.post", Target: "chat/général", Author: "ana",
			Payload: fmt.Appendf(nil, `{"text":%q}`, text)})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, journal.Ref{Origin: origin, Seq: es[0].Seq})
	}
	// served waits until the folder announces the segment as the journal
	// holds it, then asks for it block by block, as a peer does.
	served := func(what string, ok func(seg segment) bool) []byte {
		t.Helper()
		var seg segment
		waitFor(t, what, 10*time.Second, func() bool {
			var found bool
			seg, found = a.node.jf.segment(origin, 1)
			return found && ok(seg)
		})
		want, err := a.node.jf.read(origin, seg)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		for off := int64(0); off < seg.size; off += 100 {
			b, err := a.node.jf.readAt(name, off, int(min(100, seg.size-off)))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: served %q, the journal holds %q", what, got, want)
		}
		return got
	}
	appendPost("premier")
	first := served("one entry", func(s segment) bool { return s.last == 1 })
	appendPost("second")
	grown := served("two entries", func(s segment) bool { return s.last == 2 })
	if !bytes.HasPrefix(grown, first) || len(grown) == len(first) {
		t.Fatalf("the grown segment %q does not extend %q", grown, first)
	}
	if _, err := a.j.Append(journal.EraseDrafts("ana", refs[:1])...); err != nil {
		t.Fatal(err)
	}
	erased := served("an erased entry", func(s segment) bool { return s.erased == 1 })
	if bytes.Contains(erased, []byte("premier")) {
		t.Fatalf("the erased entry is still served: %q", erased)
	}
}
