// Command crdtbench measures box/ydoc on an editing trace, one phase per
// run so that each phase's peak memory is its own: applying the trace as
// local edits (each patch its own transaction), encoding the final
// document, and loading the encoded document into a fresh one. It prints
// one JSON line, in the same shape as scripts/yjs/bench.mjs, for
// scripts/bench-crdt to compare.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"tiersbox/box/ydoc"
	"tiersbox/box/ydoc/edittrace"
)

type result struct {
	Impl         string  `json:"impl"`
	Phase        string  `json:"phase"`
	Ms           float64 `json:"ms"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
	HeapBytes    uint64  `json:"heapUsedBytes"`
	EncodedBytes int     `json:"encodedBytes,omitempty"`
	Ops          int     `json:"ops,omitempty"`
}

func main() {
	tracePath := flag.String("trace", "", "apply: the gzipped JSON `trace`")
	phase := flag.String("phase", "apply", "apply, encode or load")
	docPath := flag.String("doc", "", "encoded document: written by apply, read by encode and load")
	listener := flag.Bool("listener", false, "apply: collect every update, as a server does")
	runs := flag.Int("runs", 10, "encode and load: repetitions (the median is reported)")
	flag.Parse()
	if err := run(*tracePath, *phase, *docPath, *listener, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "crdtbench:", err)
		os.Exit(1)
	}
}

// clientID is fixed, like bench.mjs's, because the encoded size depends
// on it.
const clientID = 2654435769

func run(tracePath, phase, docPath string, listener bool, runs int) error {
	res := result{Impl: "go", Phase: phase}
	switch phase {
	case "apply":
		tr, err := edittrace.Load(tracePath)
		if err != nil {
			return err
		}
		// Conversion to UTF-16 happens before timing, as in bench.mjs.
		patches := tr.Sequential()
		runtime.GC()
		d := ydoc.NewDoc(ydoc.Options{ClientID: clientID})
		var updates [][]byte
		if listener {
			d.OnUpdate(func(u []byte) { updates = append(updates, u) })
		}
		txt := d.Text("text")
		start := time.Now()
		for _, p := range patches {
			d.Transact(func(*ydoc.Transaction) {
				if p.Del > 0 {
					txt.Delete(p.Pos, p.Del)
				}
				if p.Ins != "" {
					txt.Insert(p.Pos, p.Ins)
				}
			})
		}
		res.Ms = ms(time.Since(start))
		res.Ops = len(patches)
		if txt.String() != tr.EndContent {
			return fmt.Errorf("final text differs from the trace's end content")
		}
		enc := d.EncodeStateAsUpdate(nil)
		res.EncodedBytes = len(enc)
		if docPath != "" {
			// The text goes beside the document, so that the other phases
			// check what they load without reading the trace, whose
			// decoding would weigh on their peak memory.
			if err := os.WriteFile(docPath, enc, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(docPath+".txt", []byte(tr.EndContent), 0o644); err != nil {
				return err
			}
		}
		runtime.KeepAlive(updates)
	case "encode", "load":
		enc, err := os.ReadFile(docPath)
		if err != nil {
			return err
		}
		want, err := os.ReadFile(docPath + ".txt")
		if err != nil {
			return err
		}
		var times []float64
		d := ydoc.NewDoc(ydoc.Options{ClientID: 1})
		if err := d.ApplyUpdate(enc); err != nil {
			return err
		}
		runtime.GC()
		for range runs {
			start := time.Now()
			if phase == "encode" {
				res.EncodedBytes = len(d.EncodeStateAsUpdate(nil))
			} else {
				fresh := ydoc.NewDoc(ydoc.Options{ClientID: 1})
				if err := fresh.ApplyUpdate(enc); err != nil {
					return err
				}
				if fresh.Text("text").String() != string(want) {
					return fmt.Errorf("loaded text differs from the trace's end content")
				}
				res.EncodedBytes = len(enc)
			}
			times = append(times, ms(time.Since(start)))
		}
		slices.Sort(times)
		res.Ms = times[len(times)/2]
	default:
		return fmt.Errorf("unknown phase %q", phase)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapBytes = ms.HeapInuse
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	res.PeakRSSBytes = ru.Maxrss * 1024
	return json.NewEncoder(os.Stdout).Encode(res)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
