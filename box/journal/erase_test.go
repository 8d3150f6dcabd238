package journal

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func openErasable(t *testing.T, o Origin, c *fakeClock) *Journal {
	t.Helper()
	j, _ := openTest(t, t.TempDir(), o, c)
	j.erasable = map[Kind]bool{"chat.post": true}
	return j
}

// An erasure blanks the entry at its origin in place, keeps the frame's
// size, drops it from its target, and travels to a copy through Ingest.
func TestEraseAtOriginAndInCopies(t *testing.T) {
	c := &fakeClock{time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	a := openErasable(t, boxA, c)
	b := openErasable(t, boxB, c)
	es, err := a.Append(
		Draft{Kind: "chat.post", Target: "chat/général", Author: "ana", Payload: []byte(`{"text":"mon numéro est 06"}`)},
		Draft{Kind: "chat.post", Target: "chat/général", Author: "tom", Payload: []byte(`{"text":"salut"}`)},
		Draft{Kind: "pad.update", Target: "pad/notes", Author: "ana", Payload: []byte{1, 2, 3}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ingest(es...); err != nil {
		t.Fatal(err)
	}
	var lowA []uint64
	a.WatchErased(func(o Origin, low uint64) { lowA = append(lowA, low) })
	var lowB []uint64
	b.WatchErased(func(o Origin, low uint64) { lowB = append(lowB, low) })

	// Ana asks at box B to erase her message and, out of her reach,
	// Tom's and her pad edit: B records the request, changes nothing of
	// A's journal (only A may), and A, when the request reaches it,
	// blanks only Ana's message.
	reqs, err := b.Append(EraseDrafts("ana", []Ref{{boxA, 1}, {boxA, 2}, {boxA, 3}})...)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := b.Get(Ref{boxA, 1}); got.Erased {
		t.Fatal("box B rewrote box A's entry")
	}
	if _, err := a.Ingest(reqs...); err != nil {
		t.Fatal(err)
	}
	after := collect(t, a, boxA, 0)
	if !after[0].Erased || after[1].Erased || after[2].Erased {
		t.Fatalf("erased flags %v %v %v", after[0].Erased, after[1].Erased, after[2].Erased)
	}
	if len(after[0].Encode()) != len(es[0].Encode()) {
		t.Fatalf("frame size changed: %d then %d", len(es[0].Encode()), len(after[0].Encode()))
	}
	if bytes.Contains(after[0].Encode(), []byte("06")) || after[0].Author != "\x00\x00\x00" || after[0].Time != es[0].Time || after[0].Kind != "chat.post" {
		t.Fatalf("erased entry %+v", after[0])
	}
	if len(lowA) != 1 || lowA[0] != 1 {
		t.Fatalf("erasure notices at A: %v", lowA)
	}
	var targets []uint64
	a.Target("chat/général", func(e Entry) error { targets = append(targets, e.Seq); return nil })
	if len(targets) != 1 || targets[0] != 2 {
		t.Fatalf("target still lists %v", targets)
	}

	// The erased form reaches B, which replaces its copy; the content
	// form coming again later (from a box that has not heard) changes
	// nothing.
	if _, err := b.Ingest(after...); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := b.Get(Ref{boxA, 1}); !got.Erased {
		t.Fatal("copy at B not erased")
	}
	if len(lowB) != 1 || lowB[0] != 1 {
		t.Fatalf("erasure notices at B: %v", lowB)
	}
	if _, err := b.Ingest(es...); err != nil {
		t.Fatalf("the old form again: %v", err)
	}
	if got, _, _ := b.Get(Ref{boxA, 1}); !got.Erased {
		t.Fatal("the old form came back")
	}
	// An erased form that does not match what B holds is a conflict.
	forged := Blanked(es[1])
	forged.Time++
	if _, err := b.Ingest(forged); !errors.Is(err, ErrConflict) {
		t.Fatalf("forged erasure: %v", err)
	}
}

// A box erases its own entries on its own decision (retention, staff),
// whatever their author, and never kinds that are not erasable.
func TestEraseOwnDecision(t *testing.T) {
	c := &fakeClock{time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	a := openErasable(t, boxA, c)
	es, _ := a.Append(
		Draft{Kind: "chat.post", Target: "chat/g", Author: "tom", Payload: []byte("x")},
		Draft{Kind: "pad.update", Target: "pad/p", Author: "tom", Payload: []byte("y")},
	)
	if _, err := a.Append(EraseDrafts("", []Ref{{boxA, es[0].Seq}, {boxA, es[1].Seq}, {boxA, 99}})...); err != nil {
		t.Fatal(err)
	}
	got := collect(t, a, boxA, 0)
	if !got[0].Erased || got[1].Erased {
		t.Fatalf("erased %v %v", got[0].Erased, got[1].Erased)
	}
}

func TestEraseDraftsSplit(t *testing.T) {
	refs := make([]Ref, MaxEraseRefs+3)
	for i := range refs {
		refs[i] = Ref{boxA, uint64(i + 1)}
	}
	ds := EraseDrafts("ana", refs)
	if len(ds) != 2 {
		t.Fatalf("%d drafts", len(ds))
	}
	total := 0
	for _, d := range ds {
		if len(d.Payload) > MaxPayload {
			t.Fatal("payload too big")
		}
		got, err := ParseErase(Entry{Payload: d.Payload})
		if err != nil {
			t.Fatal(err)
		}
		total += len(got)
	}
	if total != len(refs) {
		t.Fatalf("%d refs back of %d", total, len(refs))
	}
}

// A version-2 frame that still holds content is corrupt.
func TestErasedFrameMustBeBlank(t *testing.T) {
	e := Entry{Origin: boxA, Seq: 1, Kind: "chat.post", Author: "ana", Payload: []byte("x"), Erased: true}
	if _, _, err := Decode(e.Encode()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("decode: %v", err)
	}
	b := Blanked(e)
	got, _, err := Decode(b.Encode())
	if err != nil || !got.Erased {
		t.Fatalf("blank: %v %+v", err, got)
	}
}

// FuzzParseErase: an erasure request comes from any linked box; whatever
// its payload, parsing gives an error or refs that name real entries, and
// applying it to a journal never fails nor erases what it may not.
func FuzzParseErase(f *testing.F) {
	f.Add(EraseDrafts("ana", []Ref{{boxA, 1}, {boxB, 2}})[0].Payload, "ana")
	f.Add([]byte(`{"refs":[{"o":"zz","s":1},{"o":"","s":0}]}`), "")
	f.Add([]byte(`{"refs":null}`), "tom")
	f.Fuzz(func(t *testing.T, payload []byte, author string) {
		refs, err := ParseErase(Entry{Kind: KindErase, Payload: payload})
		if err != nil {
			return
		}
		for _, r := range refs {
			if r.Seq == 0 {
				t.Fatalf("a ref to sequence 0: %+v", r)
			}
		}
		if len(payload) > 4096 || len(author) > maxString {
			return // the journal part below is slower: keep it to small inputs
		}
		j, _ := openTest(t, t.TempDir(), boxA, &fakeClock{time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)})
		j.erasable = map[Kind]bool{"chat.post": true}
		own, err := j.Append(Draft{Kind: "chat.post", Target: "chat/g", Author: "ana", Payload: []byte("x")},
			Draft{Kind: "pad.update", Target: "pad/p", Author: "ana", Payload: []byte("y")})
		if err != nil {
			t.Fatal(err)
		}
		req := Entry{Origin: boxB, Seq: 1, Time: own[1].Time + 1, Kind: KindErase, Target: TargetErase, Author: author, Payload: payload}
		if _, err := j.Ingest(req); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("ingesting a request: %v", err)
		}
		got := collect(t, j, boxA, 0)
		if got[1].Erased {
			t.Fatal("a pad edit was erased")
		}
		if got[0].Erased && author != "ana" {
			t.Fatalf("another box erased Ana's message in the name of %q", author)
		}
	})
}
