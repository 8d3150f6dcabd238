package pad

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/box/ydoc"
)

// TestFlagsAnyOrder: lock and archive entries of three boxes, some at the
// same time, derive the same flags in whatever order they arrive, and
// arriving twice changes nothing.
func TestFlagsAnyOrder(t *testing.T) {
	at := func(sec int, counter uint64) journal.Time {
		return journal.Time(time.Date(2026, 11, 28, 10, 0, sec, 0, time.UTC).UnixMilli())<<16 | journal.Time(counter)
	}
	lock := func(o byte, seq uint64, t journal.Time, pad string, locked bool) journal.Entry {
		p, _ := json.Marshal(LockPayload{Locked: locked, Note: "n"})
		return journal.Entry{Origin: journal.Origin{o}, Seq: seq, Time: t, Kind: KindLock, Target: TargetPrefix + pad, Author: "staff", Payload: p}
	}
	archive := func(o byte, seq uint64, t journal.Time, pad string, archived bool) journal.Entry {
		p, _ := json.Marshal(ArchivePayload{Archived: archived})
		return journal.Entry{Origin: journal.Origin{o}, Seq: seq, Time: t, Kind: KindArchive, Target: TargetPrefix + pad, Author: "staff", Payload: p}
	}
	entries := []journal.Entry{
		lock(1, 1, at(1, 0), "atelier", true),
		lock(2, 1, at(2, 0), "atelier", false),
		lock(3, 1, at(2, 0), "atelier", true), // same time as box 2's: the greater origin wins
		archive(1, 2, at(3, 0), "compte-rendu", true),
		archive(2, 2, at(3, 1), "compte-rendu", false),
		archive(3, 2, at(1, 0), "compte-rendu", true), // older: loses
		lock(2, 3, at(5, 0), "programme", true),
		lock(1, 3, at(4, 0), "programme", false),
		{Origin: journal.Origin{1}, Seq: 4, Time: at(9, 0), Kind: KindLock, Target: TargetPrefix + "programme", Payload: []byte("{not json")},
		{Origin: journal.Origin{1}, Seq: 5, Time: at(9, 0), Kind: KindLock, Target: "chat/général", Payload: []byte(`{"locked":true}`)},
	}
	state := func(t interface {
		Fatal(...any)
	}, order []int, twice bool) string {
		dir, _ := os.MkdirTemp("", "pad")
		defer os.RemoveAll(dir)
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		j, _ := journal.Open(st, journal.Origin{9}, journal.Options{})
		s, err := New(st, j, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range order {
			if err := s.applyFlags([]journal.Entry{entries[i]}); err != nil {
				t.Fatal(err)
			}
			if twice {
				s.applyFlags([]journal.Entry{entries[i]})
			}
		}
		// What a restart reads must be what memory holds.
		mem := fmt.Sprint(s.Flags("atelier"), s.Flags("compte-rendu"), s.Flags("programme"))
		if err := s.loadFlags(); err != nil {
			t.Fatal(err)
		}
		if disk := fmt.Sprint(s.Flags("atelier"), s.Flags("compte-rendu"), s.Flags("programme")); disk != mem {
			t.Fatal("memory " + mem + ", disk " + disk)
		}
		return mem
	}
	inOrder := make([]int, len(entries))
	for i := range inOrder {
		inOrder[i] = i
	}
	want := state(t, inOrder, false)
	if w := fmt.Sprint(Flags{Locked: true}, Flags{}, Flags{Locked: true}); want != w {
		t.Fatalf("in order: %s, want %s", want, w)
	}
	rapid.Check(t, func(rt *rapid.T) {
		order := rapid.Permutation(inOrder).Draw(rt, "order")
		twice := rapid.Bool().Draw(rt, "twice")
		if got := state(rt, order, twice); got != want {
			rt.Fatalf("order %v gives %s, want %s", order, got, want)
		}
	})
}

// TestLockReachesLinkedBox: a pad locked at one box refuses edits there
// and, once the entry is synced and applied, at the other box too (an
// open pad's listeners hear of it); unlocked at the second box, it is
// editable again at the first. Archiving locks and marks the list.
func TestLockReachesLinkedBox(t *testing.T) {
	a := openBoxAs(t, t.TempDir(), journal.Origin{1}, time.Hour)
	b := openBoxAs(t, t.TempDir(), journal.Origin{2}, time.Hour)
	edit := func(box *testBox, text string) error {
		p, err := box.svc.Open("atelier")
		if err != nil {
			t.Fatal(err)
		}
		return p.Edit("ana", func(d *ydoc.Doc) error { return d.Text(ContentName).Insert(0, text) })
	}
	if err := edit(a, "avant "); err != nil {
		t.Fatal(err)
	}
	var heard []string
	b.svc.OnFlags(func(name string, fl Flags) { heard = append(heard, fmt.Sprint(name, fl)) })
	if _, err := b.svc.Open("atelier"); err != nil {
		t.Fatal(err)
	}

	if err := a.svc.Lock("atelier", true, "staff", "on relit"); err != nil {
		t.Fatal(err)
	}
	if err := edit(a, "x"); !errors.Is(err, ErrLocked) {
		t.Fatalf("an edit of the locked pad: %v, want ErrLocked", err)
	}
	p, _ := a.svc.Open("atelier")
	p.Flush()
	if err := b.svc.Apply(syncJournal(t, a, b)...); err != nil {
		t.Fatal(err)
	}
	if !b.svc.Flags("atelier").Locked || !slices.Equal(heard, []string{fmt.Sprint("atelier", Flags{Locked: true})}) {
		t.Fatalf("at the linked box: flags %+v, heard %v", b.svc.Flags("atelier"), heard)
	}
	if err := edit(b, "y"); !errors.Is(err, ErrLocked) {
		t.Fatalf("an edit at the linked box: %v, want ErrLocked", err)
	}
	vs, _ := b.svc.History("atelier")
	if err := b.svc.Restore("atelier", vs[0].ID, "ana"); !errors.Is(err, ErrLocked) {
		t.Fatalf("a restore of the locked pad: %v, want ErrLocked", err)
	}

	if err := b.svc.Lock("atelier", false, "staff", ""); err != nil {
		t.Fatal(err)
	}
	if err := a.svc.Apply(syncJournal(t, b, a)...); err != nil {
		t.Fatal(err)
	}
	if err := edit(a, "après "); err != nil {
		t.Fatalf("an edit after unlocking at the other box: %v", err)
	}

	if err := a.svc.Archive("atelier", true, "staff", ""); err != nil {
		t.Fatal(err)
	}
	if err := edit(a, "z"); !errors.Is(err, ErrLocked) {
		t.Fatalf("an edit of the archived pad: %v, want ErrLocked", err)
	}
	p.Flush()
	if info := listed(t, a)["atelier"]; !info.Flags.Archived {
		t.Fatalf("the list says %+v", info)
	}
	if got := p.Text(); got != "après avant " {
		t.Fatalf("text %q", got)
	}
}

// FuzzApplyFlags gives lock and archive entries as another box could
// send them: any kind, target and payload. Applying never fails on
// content, applying again changes nothing, and a restart reads the flags
// memory holds.
func FuzzApplyFlags(f *testing.F) {
	f.Add("pad.lock", "pad/atelier", []byte(`{"locked":true,"note":"x"}`), uint64(1))
	f.Add("pad.archive", "pad/atelier", []byte(`{"archived":true}`), uint64(2))
	f.Add("pad.lock", "pad/../x", []byte(`{"locked":true}`), uint64(3))
	f.Add("pad.archive", "pad/atelier", []byte(`{"archived":"yes"}`), uint64(4))
	f.Add("pad.lock", "pad/atelier", []byte(`null`), uint64(5))
	dir, err := os.MkdirTemp("", "fuzzpad")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	j, _ := journal.Open(st, journal.Origin{9}, journal.Options{})
	s, err := New(st, j, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kind, target string, payload []byte, seq uint64) {
		e := journal.Entry{Origin: journal.Origin{1}, Seq: seq, Time: journal.Time(seq << 16), Kind: journal.Kind(kind), Target: target, Payload: payload}
		if err := s.applyFlags([]journal.Entry{e}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		name := strings.TrimPrefix(target, TargetPrefix)
		before := s.Flags(name)
		if err := s.applyFlags([]journal.Entry{e}); err != nil || s.Flags(name) != before {
			t.Fatalf("applying again: %v, flags %+v then %+v", err, before, s.Flags(name))
		}
		if err := s.loadFlags(); err != nil || s.Flags(name) != before {
			t.Fatalf("reloading: %v, flags %+v then %+v", err, before, s.Flags(name))
		}
	})
}
