package journal

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"tiersbox/box/store"
)

var (
	boxA = Origin{1}
	boxB = Origin{2}
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func openTest(t *testing.T, dir string, o Origin, c *fakeClock) (*Journal, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	j, err := Open(st, o, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return j, st
}

func collect(t *testing.T, j *Journal, o Origin, after uint64) []Entry {
	t.Helper()
	var out []Entry
	if err := j.Since(o, after, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendIsDenseDurableAndOrdered(t *testing.T) {
	dir := t.TempDir()
	c := &fakeClock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	j, st := openTest(t, dir, boxA, c)
	es, err := j.Append(Draft{Kind: "pad.update", Target: "atelier", Author: "ana", Payload: []byte{1, 2}},
		Draft{Kind: "chat.post", Target: "général", Author: "tom", Payload: []byte("salut")})
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Seq != 1 || es[1].Seq != 2 || es[1].Time <= es[0].Time {
		t.Fatalf("entries %+v", es)
	}
	// The wall clock goes back (a Pi booting without its clock): times
	// still increase, across a restart too.
	c.t = c.t.Add(-time.Hour)
	st.Close()
	j, _ = openTest(t, dir, boxA, c)
	more, err := j.Append(Draft{Kind: "pad.update", Target: "atelier", Payload: []byte{3}})
	if err != nil {
		t.Fatal(err)
	}
	if more[0].Seq != 3 || more[0].Time <= es[1].Time {
		t.Fatalf("after restart: %+v, last time %v", more[0], es[1].Time)
	}
	got := collect(t, j, boxA, 0)
	if len(got) != 3 || got[2].Seq != 3 || !bytes.Equal(got[0].Payload, []byte{1, 2}) || got[1].Target != "général" {
		t.Fatalf("since 0: %+v", got)
	}
	if got := collect(t, j, boxA, 2); len(got) != 1 || got[0].Seq != 3 {
		t.Fatalf("since 2: %+v", got)
	}
	var pad []uint64
	j.Target("atelier", func(e Entry) error { pad = append(pad, e.Seq); return nil })
	if len(pad) != 2 || pad[0] != 1 || pad[1] != 3 {
		t.Fatalf("target index: %v", pad)
	}
	heads, _ := j.Heads()
	if heads[boxA] != 3 {
		t.Fatalf("heads %v", heads)
	}
}

func TestIngest(t *testing.T) {
	c := &fakeClock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	a, _ := openTest(t, t.TempDir(), boxA, c)
	b, _ := openTest(t, t.TempDir(), boxB, c)
	es, _ := a.Append(Draft{Kind: "chat.post", Target: "g", Payload: []byte("1")}, Draft{Kind: "chat.post", Target: "g", Payload: []byte("2")}, Draft{Kind: "chat.post", Target: "g", Payload: []byte("3")})

	if _, err := b.Ingest(es[1]); !errors.Is(err, ErrGap) {
		t.Fatalf("out of order: %v", err)
	}
	if n, err := b.Ingest(es[0], es[1]); err != nil || n != 2 {
		t.Fatalf("in order: %d %v", n, err)
	}
	// Again, plus the next: idempotent.
	if n, err := b.Ingest(es...); err != nil || n != 1 {
		t.Fatalf("again: %d %v", n, err)
	}
	forged := es[0]
	forged.Payload = []byte("forged")
	if _, err := b.Ingest(forged); !errors.Is(err, ErrConflict) {
		t.Fatalf("forged: %v", err)
	}
	own, _ := b.Append(Draft{Kind: "chat.post", Target: "g"})
	if _, err := a.Ingest(es[0]); !errors.Is(err, ErrOwnOrigin) {
		t.Fatalf("own origin: %v", err)
	}
	if got := collect(t, b, boxA, 0); len(got) != 3 || string(got[2].Payload) != "3" {
		t.Fatalf("copied: %+v", got)
	}
	// A later local entry comes after what was seen from the other box.
	if own[0].Time <= es[2].Time {
		t.Errorf("local time %v not after ingested %v", own[0].Time, es[2].Time)
	}
	// A failed ingest stored nothing of its batch.
	if _, err := b.Ingest(Entry{Origin: Origin{9}, Seq: 1, Kind: "x"}, Entry{Origin: Origin{9}, Seq: 3, Kind: "x"}); err == nil {
		t.Fatal("batch with a gap accepted")
	}
	if heads, _ := b.Heads(); heads[Origin{9}] != 0 {
		t.Fatalf("half a batch stored: %v", heads)
	}
}

func TestInvalidDrafts(t *testing.T) {
	j, _ := openTest(t, t.TempDir(), boxA, &fakeClock{time.Now()})
	for _, d := range []Draft{
		{},
		{Kind: "x", Target: "a\x00b"},
		{Kind: "x", Payload: make([]byte, MaxPayload+1)},
		{Kind: Kind(bytes.Repeat([]byte("k"), maxString+1))},
	} {
		if _, err := j.Append(d); !errors.Is(err, ErrInvalid) {
			t.Errorf("draft %.40v: %v", d, err)
		}
	}
	if heads, _ := j.Heads(); len(heads) != 0 {
		t.Fatalf("something was stored: %v", heads)
	}
}

func TestClockRefusesFarFuture(t *testing.T) {
	c := &fakeClock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	j, _ := openTest(t, t.TempDir(), boxA, c)
	future := Time(c.t.Add(30*24*time.Hour).UnixMilli()) << counterBits
	if _, err := j.Ingest(Entry{Origin: boxB, Seq: 1, Time: future, Kind: "x"}); err != nil {
		t.Fatal(err)
	}
	es, _ := j.Append(Draft{Kind: "x"})
	if es[0].Time >= future {
		t.Errorf("a box a month ahead dragged the clock: %v", es[0].Time)
	}
}

func TestFrameRoundTripAndDamage(t *testing.T) {
	e := Entry{Origin: boxA, Seq: 42, Time: 123456789, Kind: "pad.update", Target: "atelier", Author: "x7", Payload: []byte("yjs bytes")}
	f := e.Encode()
	got, n, err := Decode(append(f, "next frame"...))
	if err != nil || n != len(f) || got.Seq != 42 || got.Target != "atelier" || string(got.Payload) != "yjs bytes" {
		t.Fatalf("round trip: %+v %d %v", got, n, err)
	}
	for i := range f {
		if _, _, err := Decode(f[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("torn at %d: %v", i, err)
		}
		bad := bytes.Clone(f)
		bad[i] ^= 0x40
		if _, _, err := Decode(bad); err == nil {
			t.Fatalf("flipped byte %d went unnoticed", i)
		}
	}
}

// FuzzDecode: any bytes decode to an error or to an entry that encodes back
// to exactly the frame that was read.
func FuzzDecode(f *testing.F) {
	f.Add((&Entry{Origin: boxA, Seq: 1, Kind: "k", Payload: []byte("p")}).Encode())
	f.Add([]byte("TJ\x01\x00"))
	erased := Blanked(Entry{Origin: boxA, Seq: 2, Kind: "chat.post", Target: "chat/g", Author: "ana", Payload: []byte("p")})
	f.Add(erased.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		e, n, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(e.Encode(), b[:n]) {
			t.Fatalf("re-encoding differs from the frame read")
		}
	})
}
