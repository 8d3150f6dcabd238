package ydoc

import (
	"path/filepath"
	"testing"

	"tiersbox/box/ydoc/edittrace"
)

// The benchmarks replay the automerge-paper trace (259,778 edits). The
// side-by-side comparison with Yjs is scripts/bench-crdt.

func paperTrace(b *testing.B) *edittrace.Trace {
	b.Helper()
	return loadTrace(b, filepath.Join("sequential_traces", "automerge-paper.json.gz"))
}

func paperDoc(b *testing.B, tr *edittrace.Trace) *Doc {
	d := NewDoc(Options{ClientID: 2654435769})
	txt := d.Text("text")
	for _, p := range tr.Sequential() {
		d.Transact(func(*Transaction) {
			if p.Del > 0 {
				txt.Delete(p.Pos, p.Del)
			}
			if p.Ins != "" {
				txt.Insert(p.Pos, p.Ins)
			}
		})
	}
	if txt.String() != tr.EndContent {
		b.Fatal("final text differs")
	}
	return d
}

// BenchmarkTraceApply applies the whole trace as local edits, each its own
// transaction.
func BenchmarkTraceApply(b *testing.B) {
	tr := paperTrace(b)
	b.ReportAllocs()
	for b.Loop() {
		paperDoc(b, tr)
	}
}

// BenchmarkTraceEncode encodes the final document.
func BenchmarkTraceEncode(b *testing.B) {
	d := paperDoc(b, paperTrace(b))
	b.ReportAllocs()
	for b.Loop() {
		b.SetBytes(int64(len(d.EncodeStateAsUpdate(nil))))
	}
}

// BenchmarkTraceLoad loads the encoded final document into a fresh one.
func BenchmarkTraceLoad(b *testing.B) {
	enc := paperDoc(b, paperTrace(b)).EncodeStateAsUpdate(nil)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := NewDoc(Options{ClientID: 1}).ApplyUpdate(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTraceRemote applies the trace's updates one by one to a second
// document, as a server receiving every keystroke from a browser does.
func BenchmarkTraceRemote(b *testing.B) {
	tr := paperTrace(b)
	d := NewDoc(Options{ClientID: 2654435769})
	var updates [][]byte
	d.OnUpdate(func(u []byte) { updates = append(updates, u) })
	txt := d.Text("text")
	for _, p := range tr.Sequential()[:50000] {
		d.Transact(func(*Transaction) {
			if p.Del > 0 {
				txt.Delete(p.Pos, p.Del)
			}
			if p.Ins != "" {
				txt.Insert(p.Pos, p.Ins)
			}
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		r := NewDoc(Options{ClientID: 1})
		for _, u := range updates {
			if err := r.ApplyUpdate(u); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkMergeUpdates merges a second of typing (50 single-key updates)
// into one, as the journal does.
func BenchmarkMergeUpdates(b *testing.B) {
	d := NewDoc(Options{ClientID: 3})
	var updates [][]byte
	d.OnUpdate(func(u []byte) { updates = append(updates, u) })
	for i := range 50 {
		d.Text("content").Insert(i, "x")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MergeUpdates(updates...); err != nil {
			b.Fatal(err)
		}
	}
}
