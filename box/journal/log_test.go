package journal

import (
	"testing"
	"time"

	"tiersbox/box/store"
)

// TestLogPagesLoggedKindsNewestFirst: entries of the logged kinds, written
// here or ingested from another box, page newest first across origins;
// other kinds stay out; reopening with another list rebuilds the index
// from the journal.
func TestLogPagesLoggedKindsNewestFirst(t *testing.T) {
	dir := t.TempDir()
	c := &fakeClock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	logged := []Kind{"chat.remove", "pad.lock"}
	j, err := Open(st, boxA, Options{Now: c.now, Logged: logged})
	if err != nil {
		t.Fatal(err)
	}
	var want []string // targets of logged entries, oldest first
	for i, k := range []Kind{"chat.post", "chat.remove", "pad.update", "pad.lock", "chat.remove"} {
		c.t = c.t.Add(time.Second)
		target := string(rune('a' + i))
		if _, err := j.Append(Draft{Kind: k, Target: target}); err != nil {
			t.Fatal(err)
		}
		if k != "chat.post" && k != "pad.update" {
			want = append(want, target)
		}
	}
	// Another box's entries, written between ours.
	base := Time(time.Date(2026, 11, 28, 10, 0, 2, 500e6, time.UTC).UnixMilli()) << counterBits
	other := []Entry{
		{Origin: boxB, Seq: 1, Time: base, Kind: "pad.lock", Target: "b1"},
		{Origin: boxB, Seq: 2, Time: base + 1, Kind: "pad.update", Target: "b2"},
	}
	if _, err := j.Ingest(other...); err != nil {
		t.Fatal(err)
	}
	want = []string{want[0], "b1", want[1], want[2]}

	page := func(j *Journal) []string {
		var got []string
		var pos LogPos
		for {
			es, err := j.Log(pos, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) == 0 {
				return got
			}
			for _, e := range es {
				got = append([]string{e.Target}, got...)
			}
			pos = es[len(es)-1].Pos()
		}
	}
	if got := page(j); !equal(got, want) {
		t.Fatalf("log %v, want %v", got, want)
	}

	// Another list: the index follows it.
	j, err = Open(st, boxA, Options{Now: c.now, Logged: []Kind{"pad.lock"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := page(j); !equal(got, []string{"b1", "d"}) {
		t.Fatalf("log after reopening with pad.lock only: %v", got)
	}
	// Opened without a list (a reader, a tool), the journal leaves the
	// index as it is; what it appends is indexed at the next Open with
	// the list.
	j, err = Open(st, boxA, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if got := page(j); !equal(got, []string{"b1", "d"}) {
		t.Fatalf("log read without a list: %v", got)
	}
	c.t = c.t.Add(time.Second)
	if _, err := j.Append(Draft{Kind: "pad.lock", Target: "f"}, Draft{Kind: "chat.post", Target: "g"}); err != nil {
		t.Fatal(err)
	}
	j, err = Open(st, boxA, Options{Now: c.now, Logged: []Kind{"pad.lock"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := page(j); !equal(got, []string{"b1", "d", "f"}) {
		t.Fatalf("log after an append without the list: %v", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
