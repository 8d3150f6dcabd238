package drive

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"tiersbox/box/journal"
)

// genEntries draws drive entries as several boxes would write them about
// a few shared paths: each origin's sequence numbers dense, times from
// clocks that may tie or run behind another box's.
func genEntries(t *rapid.T) []journal.Entry {
	paths := []string{"a.txt", "docs/b.pdf", "docs/c.png"}
	kinds := []journal.Kind{KindFile, KindFile, KindRemove, KindHide, KindShow}
	nOrigins := rapid.IntRange(1, 3).Draw(t, "origins")
	var out []journal.Entry
	for o := range nOrigins {
		r := &remote{origin: journal.Origin{byte(10 + o)}}
		for i := range rapid.IntRange(0, 8).Draw(t, fmt.Sprint("entries", o)) {
			path := rapid.SampledFrom(paths).Draw(t, "path")
			kind := rapid.SampledFrom(kinds).Draw(t, "kind")
			var e journal.Entry
			if kind == KindFile {
				e = r.file(path, rapid.StringN(0, 6, -1).Draw(t, "content"))
			} else {
				e = r.op(kind, path)
			}
			// Times from a few values, so that ties between boxes
			// happen and order by origin then sequence.
			e.Time = journal.Time(rapid.IntRange(1, 4).Draw(t, fmt.Sprint("time", i))) << 16
			out = append(out, e)
		}
	}
	return out
}

// mergeAll applies entries to records in memory, as applyTx does.
func mergeAll(entries []journal.Entry) map[string]record {
	state := make(map[string]record)
	for _, e := range entries {
		c, err := parseEntry(e)
		if err != nil {
			panic(err)
		}
		r := state[c.path]
		r.merge(c)
		state[c.path] = r
	}
	return state
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestMergeOrderIndependent: any order of the same entries, with any of
// them repeated, gives the same records.
func TestMergeOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		entries := genEntries(t)
		want := mergeAll(entries)
		shuffled := rapid.Permutation(entries).Draw(t, "order")
		if n := len(entries); n > 0 {
			for _, i := range rapid.SliceOfN(rapid.IntRange(0, n-1), 0, 3).Draw(t, "repeats") {
				shuffled = append(shuffled, entries[i])
			}
		}
		got := mergeAll(shuffled)
		if g, w := jsonOf(got), jsonOf(want); g != w {
			t.Fatalf("order changed the state:\n%s\nwant\n%s", g, w)
		}
		// The winners are the greatest entries.
		for path, r := range want {
			var last, lastVis *journal.Entry
			for i, e := range entries {
				if e.Target != TargetPrefix+path {
					continue
				}
				if e.Kind == KindFile || e.Kind == KindRemove {
					if last == nil || stampOf(e).after(stampOf(*last)) {
						last = &entries[i]
					}
				} else if lastVis == nil || stampOf(e).after(stampOf(*lastVis)) {
					lastVis = &entries[i]
				}
			}
			if last != nil && (r.Removed != (last.Kind == KindRemove) || r.Op != stampOf(*last)) {
				t.Fatalf("%s: removed %v at %v, want the entry %v", path, r.Removed, r.Op, stampOf(*last))
			}
			if lastVis != nil && r.Hidden != (lastVis.Kind == KindHide) {
				t.Fatalf("%s: hidden %v, want %s", path, r.Hidden, lastVis.Kind)
			}
		}
	})
}

// TestApplyOrderIndependent applies the same entries to two boxes, in
// different orders and batches, and compares their whole derived state.
func TestApplyOrderIndependent(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		entries := genEntries(rt)
		orders := [][]journal.Entry{entries, rapid.Permutation(entries).Draw(rt, "order")}
		var states []string
		var usages []int64
		for i, order := range orders {
			b := openBox(t, t.TempDir(), Options{})
			// In batches: one Apply, or one per entry.
			if i == 0 {
				if err := b.svc.Apply(order...); err != nil {
					rt.Fatal(err)
				}
			} else {
				for _, e := range order {
					if err := b.svc.Apply(e); err != nil {
						rt.Fatal(err)
					}
				}
			}
			all, _ := b.svc.ListAll(ListOptions{Hidden: true})
			u, _ := b.svc.Usage()
			states = append(states, fmt.Sprint(b.records(t, false), all))
			usages = append(usages, u)
			b.close()
		}
		if states[0] != states[1] || usages[0] != usages[1] {
			rt.Fatalf("two orders gave different drives:\n%s\n%s", states[0], states[1])
		}
	})
}

func TestStampOrder(t *testing.T) {
	a := stamp{Time: 5 << 16, Origin: "0a", Seq: 9}
	tests := []struct {
		b    stamp
		want bool // a after b
	}{
		{stamp{}, true},
		{stamp{Time: 4 << 16, Origin: "ff", Seq: 99}, true},
		{stamp{Time: 6 << 16, Origin: "00", Seq: 1}, false},
		{stamp{Time: 5 << 16, Origin: "09", Seq: 99}, true},
		{stamp{Time: 5 << 16, Origin: "0b", Seq: 1}, false},
		{stamp{Time: 5 << 16, Origin: "0a", Seq: 8}, true},
		{a, false},
	}
	for _, tt := range tests {
		if got := a.after(tt.b); got != tt.want {
			t.Errorf("%v after %v = %v", a, tt.b, got)
		}
	}
	// Hex of the origin orders as its bytes.
	o1, o2 := journal.Origin{0x0a, 0xff}, journal.Origin{0x0b}
	e1, e2 := journal.Entry{Origin: o1, Seq: 1, Time: 1}, journal.Entry{Origin: o2, Seq: 1, Time: 1}
	if !stampOf(e2).after(stampOf(e1)) || slices.Compare(o2[:], o1[:]) <= 0 {
		t.Error("origin order")
	}
}

// TestHideAppliesToItsFile: a hide issued before a file was added again at
// the same path does not hide the new file, whatever the order.
func TestHideAppliesToItsFile(t *testing.T) {
	r := &remote{origin: journal.Origin{9}}
	add := r.file("a.txt", "one")
	hide := r.op(KindHide, "a.txt")
	rm := r.op(KindRemove, "a.txt")
	again := r.file("a.txt", "two")
	for _, order := range [][]journal.Entry{{add, hide, rm, again}, {again, rm, hide, add}, {hide, again, add, rm}} {
		st := mergeAll(order)["a.txt"]
		if !st.live() || st.hidden() || st.File.SHA256 != sum("two") {
			t.Errorf("order %v: live %v hidden %v", order, st.live(), st.hidden())
		}
	}
	st := mergeAll([]journal.Entry{add, hide})["a.txt"]
	if !st.hidden() {
		t.Error("hide did not hide")
	}
}
