package ydoc

import (
	"os"
	"path/filepath"
	"testing"

	"tiersbox/box/ydoc/edittrace"
)

// The editing traces of ../shared/data/editing-traces (CC BY 4.0: Martin
// Kleppmann and Alastair Beresford for automerge-paper; Joseph Gentle for
// seph-blog1, rustcode, sveltecomponent, friendsforever and clownschool;
// Vadim Dalecky for json-crdt-*), read from where the workplace keeps them.

func tracesDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("TIERSBOX_TRACES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "editing-traces")
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("editing traces not found at %s (set TIERSBOX_TRACES): %v", dir, err)
		}
		tb.Skipf("editing traces not found at %s (set TIERSBOX_TRACES)", dir)
	}
	return dir
}

func loadTrace(tb testing.TB, rel string) *edittrace.Trace {
	tb.Helper()
	t, err := edittrace.Load(filepath.Join(tracesDir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func applyPatches(tb testing.TB, txt *Text, ps []edittrace.Patch) {
	for i, p := range ps {
		if p.Del > 0 {
			if err := txt.Delete(p.Pos, p.Del); err != nil {
				tb.Fatalf("patch %d: delete %d at %d: %v", i, p.Del, p.Pos, err)
			}
		}
		if p.Ins != "" {
			if err := txt.Insert(p.Pos, p.Ins); err != nil {
				tb.Fatalf("patch %d: insert at %d: %v", i, p.Pos, err)
			}
		}
	}
}

var sequentialTraces = []string{
	"sequential_traces/automerge-paper.json.gz",
	"sequential_traces/seph-blog1.json.gz",
	"sequential_traces/rustcode.json.gz",
	"sequential_traces/sveltecomponent.json.gz",
	"sequential_traces/json-crdt-patch.json.gz",
	"sequential_traces/json-crdt-blog-post.json.gz",
	"sequential_traces/friendsforever_flat.json.gz",
	"sequential_traces/clownschool_flat.json.gz",
}

// TestSequentialTraces replays every sequential trace as local edits, each
// patch its own transaction, and checks the final text; then loads the
// encoded document into a fresh one and checks it again.
func TestSequentialTraces(t *testing.T) {
	for _, name := range sequentialTraces {
		t.Run(filepath.Base(name), func(t *testing.T) {
			if testing.Short() && name == sequentialTraces[0] {
				t.Skip("long trace: scripts/test runs it without -short (and without -race)")
			}
			tr := loadTrace(t, name)
			d := NewDoc(Options{ClientID: 1})
			txt := d.Text("text")
			applyPatches(t, txt, tr.Sequential())
			if got := txt.String(); got != tr.EndContent {
				t.Fatalf("final text differs (%d bytes, want %d)", len(got), len(tr.EndContent))
			}
			d2 := NewDoc(Options{ClientID: 2})
			if err := d2.ApplyUpdate(d.EncodeStateAsUpdate(nil)); err != nil {
				t.Fatal(err)
			}
			if d2.Text("text").String() != tr.EndContent {
				t.Fatal("reloaded text differs")
			}
		})
	}
}

// TestConcurrentTraces replays the concurrent traces with one document per
// author: before each transaction the author brings in, from the others,
// the transactions its parents had seen, then makes its edits as local
// Y.Text edits. Every author must end with the trace's text.
//
// Transactions are counted per author rather than by state vector: a
// transaction that only deletes does not advance its author's clock, so a
// state vector cannot tell whether it has arrived.
func TestConcurrentTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("long: scripts/test runs it without -short (and without -race)")
	}
	for _, name := range []string{"concurrent_traces/friendsforever.json.gz", "concurrent_traces/clownschool.json.gz"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			tr := loadTrace(t, name)
			docs := make([]*Doc, tr.NumAgents)
			for i := range docs {
				docs[i] = NewDoc(Options{ClientID: uint64(i + 1)})
			}
			// updates[a] are agent a's transactions in order; seen[i][a]
			// is how many of them transaction i's state holds, and
			// applied[b][a] how many author b's document holds.
			updates := make([][][]byte, tr.NumAgents)
			seen := make([][]int, len(tr.Txns))
			applied := make([][]int, tr.NumAgents)
			for i := range applied {
				applied[i] = make([]int, tr.NumAgents)
			}
			// Each author's code-point converter, rebuilt from its text
			// only after others' edits arrived.
			astral := make([]edittrace.Astral, tr.NumAgents)
			for i, txn := range tr.Txns {
				d := docs[txn.Agent]
				want := make([]int, tr.NumAgents)
				for _, p := range txn.Parents {
					for a, n := range seen[p] {
						want[a] = max(want[a], n)
					}
				}
				merged := false
				for a := range want {
					if applied[txn.Agent][a] > want[a] {
						t.Fatalf("txn %d: author %d holds more of author %d than its parents", i, txn.Agent, a)
					}
					for ; applied[txn.Agent][a] < want[a]; applied[txn.Agent][a]++ {
						if err := d.ApplyUpdate(updates[a][applied[txn.Agent][a]]); err != nil {
							t.Fatal(err)
						}
						merged = true
					}
				}
				if d.Pending() {
					t.Fatalf("txn %d: updates still pending", i)
				}
				txt := d.Text("text")
				if merged {
					astral[txn.Agent] = edittrace.AstralOf(txt.String())
				}
				update := d.Transact(func(*Transaction) {
					for _, p := range txn.Patches {
						u := astral[txn.Agent].Apply(p)
						if u.Del > 0 {
							if err := txt.Delete(u.Pos, u.Del); err != nil {
								t.Fatalf("txn %d: %v", i, err)
							}
						}
						if u.Ins != "" {
							if err := txt.Insert(u.Pos, u.Ins); err != nil {
								t.Fatalf("txn %d: %v", i, err)
							}
						}
					}
				})
				updates[txn.Agent] = append(updates[txn.Agent], update)
				applied[txn.Agent][txn.Agent]++
				want[txn.Agent]++
				seen[i] = want
			}
			// Everyone exchanges everything.
			for _, a := range docs {
				for _, b := range docs {
					if a != b {
						if err := b.ApplyUpdate(a.EncodeStateAsUpdate(b.StateVector())); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			for i, d := range docs {
				if got := d.Text("text").String(); got != tr.EndContent {
					t.Fatalf("author %d: final text differs (%d bytes, want %d)", i, len(got), len(tr.EndContent))
				}
			}

		})
	}
}
