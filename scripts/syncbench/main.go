// Command syncbench measures box-to-box sync through the real daemon
// against two stock Syncthing instances (Debian's 1.19) on the same data,
// on loopback only:
//
//  1. the initial sync of a drive folder of one large file and many small
//     ones, from the moment the link is made (the sender has already
//     hashed everything) until the receiver holds it all, and the peak
//     memory of both sides;
//  2. the catch-up of a receiver that was stopped while the sender took
//     pad edits and new drive files: the time from its restart until it
//     is in sync, and the bytes it received per byte of new data;
//  3. the delay of a pad edit typed at one box until it shows in the same
//     pad at the other.
//
// Box and stock runs alternate when repeated, since the machine's speed
// drifts. scripts/bench-sync builds and runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"tiersbox/scripts/internal/proc"
)

var (
	tiersboxBin  = flag.String("tiersbox", "tiersbox", "the tiersbox binary")
	syncthingBin = flag.String("syncthing", "syncthing", "the stock Syncthing binary")
	workDir      = flag.String("work", "", "a scratch `folder` on disk (it holds about three times the data)")
	sizeMiB      = flag.Int("size-mib", 1024, "MiB of data for the initial sync")
	smallFiles   = flag.Int("small-files", 10000, "small files among them (about 10 KiB each)")
	repeat       = flag.Int("repeat", 1, "runs of each, alternating which goes first")
	delaySpan    = flag.Duration("duration", 20*time.Second, "how long a character is typed every 200 ms for the delay")
	padKiB       = flag.Int("pad-kib", 1024, "KiB of text typed into pads for the catch-up")
	newFiles     = flag.Int("new-files", 50, "new drive files for the catch-up")
	newFileMB    = flag.Float64("new-files-mb", 10, "MB of new drive files for the catch-up, in all")
	only         = flag.String("only", "", "run only \"box\" or only \"stock\" (a quick check; no ratios)")
	boxLogLevel  = flag.String("box-log-level", "error", "the boxes' --log-level (their logs are in the run's folder)")
	poll         = flag.Duration("poll", 100*time.Millisecond, "how often a receiver is asked whether it is in sync, while timed")
	keep         = flag.Bool("keep", false, "keep each run's folder (data, logs) in the work folder")
)

// Goals printed next to the figures.
const (
	goalSyncRatio    = 0.7
	goalMemRatio     = 0.5
	goalBytesPerByte = 1.02
	goalCatchupRatio = 1.0 / 3
	goalP99ms        = 2000
)

const catchupPads = 4

type result struct {
	kind string // "box" or "stock"
	run  int

	syncS, connectS  float64
	recvRSS, sendRSS int64
	sampled          int
	recvCPU, sendCPU float64 // seconds of CPU during the initial sync

	catchupS           float64
	inBytes, newBytes  int64
	catchupConnectS    float64
	newJournal, newDrv int64

	delay *delayResult
}

func (r result) bytesPerByte() float64 { return float64(r.inBytes) / float64(r.newBytes) }

func main() {
	flag.Parse()
	if *workDir == "" {
		die("-work is required")
	}
	stopOnSignal()
	defer stopAll()

	t0 := time.Now()
	progress("writing %d MiB: one large file and %d small ones", *sizeMiB, *smallFiles)
	ds := generate(filepath.Join(*workDir, "source"), *sizeMiB, *smallFiles)
	progress("written in %.1f s", time.Since(t0).Seconds())
	cu := newCatchup(catchupPads, *padKiB, *newFiles, int64(*newFileMB*1e6))
	fmt.Printf("initial sync: %d files, %d bytes (one of %d bytes, %d small ones of %d bytes in all, in %d folders)\n",
		len(ds.files), ds.bytes, ds.files[0].size, len(ds.files)-1, ds.bytes-ds.files[0].size, min(100, *smallFiles))
	fmt.Printf("catch-up: %d bytes of text typed into %d pads (written as %d text files for stock), %d new drive files of %d bytes in all\n",
		cu.padBytes(), len(cu.pads), len(cu.pads), len(cu.files), cu.fileBytes())
	fmt.Printf("delay: one character every 200 ms for %s\n\n", *delaySpan)

	var results []result
	for i := 1; i <= *repeat; i++ {
		order := []string{"box", "stock"}
		if i%2 == 0 {
			order = []string{"stock", "box"}
		}
		for _, kind := range order {
			if *only != "" && kind != *only {
				continue
			}
			var r result
			if kind == "box" {
				r = runBox(i, ds, cu)
			} else {
				r = runStock(i, ds, cu)
			}
			printRun(r)
			results = append(results, r)
			// What a run wrote and removed is flushed before the next
			// starts, so that one side's write-back is not timed in the
			// other's run.
			syscall.Sync()
		}
	}
	summarize(results)
	// Each run's folders stay until the end: removing 10,000 received
	// files just before the next run made it pay for the deletions (ext4
	// skips the inodes freed in the last minute when it allocates new
	// ones: a third of a receiver's open() time in a profile).
	if !*keep {
		for _, r := range results {
			os.RemoveAll(filepath.Join(*workDir, fmt.Sprintf("%s-%d", r.kind, r.run)))
		}
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func initialTimeout() time.Duration {
	return 3*time.Minute + time.Duration(*sizeMiB)*300*time.Millisecond
}

func runBox(run int, ds *dataset, cu *catchup) result {
	r := result{kind: "box", run: run}
	dir := filepath.Join(*workDir, fmt.Sprintf("box-%d", run))
	os.MkdirAll(dir, 0o755)
	snd, rcv := newBox(dir, "envoi"), newBox(dir, "reception")
	ds.linkInto(snd.drive())
	progress("box run %d: starting two boxes; the sender hashes its drive", run)
	snd.start()
	rcv.start()
	defer snd.stop()
	defer rcv.stop()

	// (1) Initial sync. The sender has hashed and announced everything
	// before the link is made.
	hashed := waitFor(initialTimeout(), 200*time.Millisecond, func() bool {
		d := snd.mustPeers().folder(folderDrive)
		return d.Files == len(ds.files) && d.Bytes == ds.bytes
	})
	if !hashed {
		failBoxes("the sender did not announce its drive folder in time", snd)
	}
	want := snd.mustPeers().folder(folderDrive)
	snd.link(rcv, false) // the sender only accepts
	progress("box run %d: linking; initial sync of %d files", run, want.Files)
	cpuR, cpuS := proc.CPUSeconds(rcv.p.pid()), proc.CPUSeconds(snd.p.pid())
	start := time.Now()
	rcv.link(snd, true)
	ok := waitFor(initialTimeout(), *poll, func() bool {
		rep, _, err := rcv.peers()
		if err != nil {
			return false
		}
		if l := rep.link(snd.id); r.connectS == 0 && l != nil && l.Connected {
			r.connectS = time.Since(start).Seconds()
		}
		d := rep.folder(folderDrive)
		return rep.quiet(snd.id, false) && d.Files == want.Files && d.Bytes == want.Bytes
	})
	r.syncS = time.Since(start).Seconds()
	if !ok {
		failBoxes(fmt.Sprintf("box run %d: the receiver was not in sync %s after the link", run, initialTimeout()), snd, rcv)
	}
	r.recvCPU, r.sendCPU = proc.CPUSeconds(rcv.p.pid())-cpuR, proc.CPUSeconds(snd.p.pid())-cpuS
	r.recvRSS, r.sendRSS = proc.PeakRSS(rcv.p.pid()), proc.PeakRSS(snd.p.pid())
	var err error
	if r.sampled, err = ds.verify(rcv.drive(), len(ds.files), ds.bytes); err != nil {
		failBoxes(fmt.Sprintf("box run %d: the receiver says it is in sync but %v", run, err), snd, rcv)
	}
	progress("box run %d: initial sync in %.2f s, verified", run, r.syncS)

	// (2) Catch-up.
	if !waitFor(time.Minute, 200*time.Millisecond, func() bool {
		return snd.mustPeers().quiet(rcv.id, true) && rcv.mustPeers().quiet(snd.id, true)
	}) {
		failBoxes(fmt.Sprintf("box run %d: the two boxes did not settle after the initial sync", run), snd, rcv)
	}
	before := snd.mustPeers()
	j0, d0 := before.folder(folderJournal), before.folder(folderDrive)
	// in_bytes counts every connection with the device, the current one
	// included: what the catch-up received is the growth from here. (The
	// few bytes that close this connection count against the box.)
	var in0 int64
	if l := rcv.mustPeers().link(snd.id); l != nil {
		in0 = l.InBytes
	}
	progress("box run %d: receiver stopped; typing into %d pads and uploading %d files at the sender", run, len(cu.pads), len(cu.files))
	rcv.stop()
	errs := make(chan error, len(cu.pads))
	for i, text := range cu.pads {
		go func() {
			errs <- typePad(snd.httpAddr, fmt.Sprintf("rattrapage-%d", i+1), text, 4096, 50*time.Millisecond)
		}()
	}
	snd.upload(cu.files)
	for range cu.pads {
		if err := <-errs; err != nil {
			die("%v", err)
		}
	}
	// Wait until the sender's journal holds every edit (pad edits are
	// coalesced about every second) and its drive every file.
	var lastSeq int64
	var stableSince time.Time
	var after peersReport
	settled := waitFor(2*time.Minute, 250*time.Millisecond, func() bool {
		after = snd.mustPeers()
		j, d := after.folder(folderJournal), after.folder(folderDrive)
		if j.Sequence != lastSeq || d.Files != d0.Files+len(cu.files) || d.Bytes != d0.Bytes+cu.fileBytes() || j.Bytes < j0.Bytes+cu.padBytes() {
			lastSeq, stableSince = j.Sequence, time.Now()
			return false
		}
		return time.Since(stableSince) > 3*time.Second
	})
	if !settled {
		failBoxes(fmt.Sprintf("box run %d: the sender did not show the new journal entries and drive files", run), snd)
	}
	j1, d1 := after.folder(folderJournal), after.folder(folderDrive)
	r.newJournal, r.newDrv = j1.Bytes-j0.Bytes, d1.Bytes-d0.Bytes
	r.newBytes = r.newJournal + r.newDrv
	progress("box run %d: sender holds %d new journal bytes (%d segment files → %d) and %d new drive bytes; restarting the receiver",
		run, r.newJournal, j0.Files, j1.Files, r.newDrv)
	start = time.Now()
	rcv.start()
	ok = waitFor(2*time.Minute, *poll, func() bool {
		rep, _, err := rcv.peers()
		if err != nil {
			return false
		}
		l := rep.link(snd.id)
		if l == nil || !l.Connected {
			return false
		}
		if r.catchupConnectS == 0 {
			r.catchupConnectS = time.Since(start).Seconds()
		}
		j, d := rep.folder(folderJournal), rep.folder(folderDrive)
		if rep.quiet(snd.id, false) && d.Files == d1.Files && d.Bytes == d1.Bytes && j.Files == j1.Files && j.Bytes == j1.Bytes {
			r.inBytes = l.InBytes - in0
			if l.InBytes < in0 {
				// A box that counts the current connection only.
				r.inBytes = l.InBytes
			}
			return true
		}
		return false
	})
	r.catchupS = time.Since(start).Seconds()
	if !ok {
		failBoxes(fmt.Sprintf("box run %d: the restarted receiver was not in sync within 2 minutes", run), snd, rcv)
	}
	if files, bytes := onDisk(rcv.drive()); files != d1.Files || bytes != d1.Bytes {
		failBoxes(fmt.Sprintf("box run %d: after the catch-up the receiver's drive holds %d files, %d bytes on disk; want %d, %d", run, files, bytes, d1.Files, d1.Bytes), snd, rcv)
	}
	for i, text := range cu.pads {
		name := fmt.Sprintf("rattrapage-%d", i+1)
		got, err := readPad(rcv.httpAddr, name)
		if err != nil {
			die("reading pad %s at the receiver: %v", name, err)
		}
		if got != text {
			atSender, _ := readPad(snd.httpAddr, name)
			failBoxes(fmt.Sprintf("box run %d: pad %s at the receiver has %d bytes, not the %d typed at the sender (%d there now): %s",
				run, name, len(got), len(text), len(atSender), firstDifference(got, text)), snd, rcv)
		}
	}
	progress("box run %d: caught up in %.2f s, verified; measuring the delay of pad edits for %s", run, r.catchupS, *delaySpan)

	// (3) Delay.
	d, err := measureDelay(snd.httpAddr, rcv.httpAddr, "delai", 200*time.Millisecond, *delaySpan)
	if err != nil {
		failBoxes(fmt.Sprintf("box run %d: delay: %v", run, err), snd, rcv)
	}
	r.delay = &d
	return r
}

func runStock(run int, ds *dataset, cu *catchup) result {
	r := result{kind: "stock", run: run}
	dir := filepath.Join(*workDir, fmt.Sprintf("stock-%d", run))
	os.MkdirAll(dir, 0o755)
	snd, rcv := newStock(dir, "envoi"), newStock(dir, "reception")
	ds.linkInto(snd.folder())
	for _, s := range []*stock{snd, rcv} {
		if err := os.MkdirAll(filepath.Join(s.folder(), ".stfolder"), 0o755); err != nil {
			die("%v", err)
		}
	}
	progress("stock run %d: starting two instances; the sender scans its folder", run)
	snd.start()
	rcv.start()
	defer snd.stop()
	defer rcv.stop()
	snd.share(rcv)
	rcv.share(snd)

	// (1) Initial sync, once the sender has scanned everything.
	scanned := waitFor(initialTimeout(), 200*time.Millisecond, func() bool {
		st, err := snd.status()
		return err == nil && st.State == "idle" && st.LocalFiles == len(ds.files) && st.LocalBytes == ds.bytes
	}) && waitFor(time.Minute, 100*time.Millisecond, func() bool {
		st, err := rcv.status()
		return err == nil && st.State == "idle"
	})
	if !scanned {
		failStock("the stock sender did not scan its folder in time", snd, rcv)
	}
	progress("stock run %d: connecting; initial sync of %d files", run, len(ds.files))
	rw, sw := rcv.worker(), snd.worker()
	cpuR, cpuS := proc.CPUSeconds(rw), proc.CPUSeconds(sw)
	start := time.Now()
	rcv.dial(snd)
	ok := waitFor(initialTimeout(), *poll, func() bool {
		if r.connectS == 0 && rcv.connection(snd.id).Connected {
			r.connectS = time.Since(start).Seconds()
		}
		return rcv.holds(len(ds.files), ds.bytes)
	})
	r.syncS = time.Since(start).Seconds()
	if !ok {
		failStock(fmt.Sprintf("stock run %d: the receiver did not complete within %s", run, initialTimeout()), snd, rcv)
	}
	r.recvCPU, r.sendCPU = proc.CPUSeconds(rw)-cpuR, proc.CPUSeconds(sw)-cpuS
	r.recvRSS, r.sendRSS = proc.PeakRSS(rw), proc.PeakRSS(sw)
	var err error
	if r.sampled, err = ds.verify(rcv.folder(), len(ds.files), ds.bytes); err != nil {
		failStock(fmt.Sprintf("stock run %d: %v", run, err), snd, rcv)
	}
	progress("stock run %d: initial sync in %.2f s, verified", run, r.syncS)

	// (2) Catch-up: the same new data, as files.
	if !waitFor(time.Minute, 200*time.Millisecond, func() bool { return snd.completion(rcv.id) == 100 }) {
		failStock(fmt.Sprintf("stock run %d: the sender does not see the receiver complete", run), snd, rcv)
	}
	progress("stock run %d: receiver stopped; writing %d new files at the sender and rescanning", run, len(cu.pads)+len(cu.files))
	rcv.stop()
	var added []memFile
	for i, text := range cu.pads {
		added = append(added, memFile{name: fmt.Sprintf("rattrapage-pad-%d.txt", i+1), data: []byte(text)})
	}
	added = append(added, cu.files...)
	for _, f := range added {
		if err := os.WriteFile(filepath.Join(snd.folder(), f.name), f.data, 0o644); err != nil {
			die("%v", err)
		}
		r.newBytes += int64(len(f.data))
	}
	r.newJournal, r.newDrv = cu.padBytes(), cu.fileBytes()
	wantFiles, wantBytes := len(ds.files)+len(added), ds.bytes+r.newBytes
	snd.must("POST", "/rest/db/scan?folder="+folderDrive, nil, nil)
	if !waitFor(time.Minute, 100*time.Millisecond, func() bool {
		st, err := snd.status()
		return err == nil && st.State == "idle" && st.LocalFiles == wantFiles && st.LocalBytes == wantBytes
	}) {
		failStock(fmt.Sprintf("stock run %d: the sender did not pick up the new files", run), snd)
	}
	progress("stock run %d: restarting the receiver", run)
	start = time.Now()
	rcv.start()
	ok = waitFor(2*time.Minute, *poll, func() bool {
		if r.catchupConnectS == 0 && rcv.connection(snd.id).Connected {
			r.catchupConnectS = time.Since(start).Seconds()
		}
		return rcv.holds(wantFiles, wantBytes)
	})
	r.catchupS = time.Since(start).Seconds()
	if !ok {
		failStock(fmt.Sprintf("stock run %d: the restarted receiver did not complete within 2 minutes", run), snd, rcv)
	}
	r.inBytes = rcv.connection(snd.id).InBytesTotal
	if files, bytes := onDisk(rcv.folder()); files != wantFiles || bytes != wantBytes {
		failStock(fmt.Sprintf("stock run %d: after the catch-up the receiver holds %d files, %d bytes; want %d, %d", run, files, bytes, wantFiles, wantBytes), snd, rcv)
	}
	progress("stock run %d: caught up in %.2f s, verified", run, r.catchupS)
	return r
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func printRun(r result) {
	fmt.Printf("run %d %-5s  initial sync %7.2f s (connected after %.2f s; %d files hashed to check), peak memory receiver %6.1f MiB, sender %6.1f MiB; CPU meanwhile receiver %.1f s, sender %.1f s\n",
		r.run, r.kind, r.syncS, r.connectS, r.sampled, mib(r.recvRSS), mib(r.sendRSS), r.recvCPU, r.sendCPU)
	fmt.Printf("run %d %-5s  catch-up %6.2f s (connected after %.2f s), received %d bytes for %d new (%d journal/text + %d drive): %.4f per new byte\n",
		r.run, r.kind, r.catchupS, r.catchupConnectS, r.inBytes, r.newBytes, r.newJournal, r.newDrv, r.bytesPerByte())
	if d := r.delay; d != nil {
		fmt.Printf("run %d %-5s  pad edit delay p50 %.0f ms, p99 %.0f ms, max %.0f ms; lost %d of %d\n",
			r.run, r.kind, d.P50, d.P99, d.Max, d.Sent-d.Arrived, d.Sent)
	}
}

func median(rs []result, f func(result) float64) float64 {
	var v []float64
	for _, r := range rs {
		v = append(v, f(r))
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func summarize(results []result) {
	var box, st []result
	for _, r := range results {
		if r.kind == "box" {
			box = append(box, r)
		} else {
			st = append(st, r)
		}
	}
	if len(box) == 0 || len(st) == 0 {
		fmt.Println("\n(one side only: no comparison)")
		return
	}
	of := "the run"
	if len(box) > 1 {
		of = fmt.Sprintf("medians of %d runs each", len(box))
	}
	fmt.Printf("\nsummary (%s; %d MiB, %d small files)\n", of, *sizeMiB, *smallFiles)
	fmt.Printf("%-36s %10s %10s %10s   %-22s %s\n", "", "box", "stock", "box/stock", "goal", "")
	row := func(label string, f func(result) float64, format string, goal float64, goalText string) {
		b, s := median(box, f), median(st, f)
		ratio := b / s
		fmt.Printf("%-36s %10s %10s %10.2f   %-22s %s\n", label, fmt.Sprintf(format, b), fmt.Sprintf(format, s), ratio, goalText, verdict(ratio <= goal))
	}
	row("initial sync, s", func(r result) float64 { return r.syncS }, "%.2f", goalSyncRatio, fmt.Sprintf("ratio ≤ %.2f", goalSyncRatio))
	row("peak memory, receiver, MiB", func(r result) float64 { return mib(r.recvRSS) }, "%.1f", goalMemRatio, fmt.Sprintf("ratio ≤ %.2f", goalMemRatio))
	row("peak memory, sender, MiB", func(r result) float64 { return mib(r.sendRSS) }, "%.1f", goalMemRatio, fmt.Sprintf("ratio ≤ %.2f", goalMemRatio))
	row("catch-up, s", func(r result) float64 { return r.catchupS }, "%.2f", goalCatchupRatio, "ratio < 0.33")
	bpb := func(r result) float64 { return r.bytesPerByte() }
	b, s := median(box, bpb), median(st, bpb)
	fmt.Printf("%-36s %10.4f %10.4f %10s   %-22s %s\n", "bytes received per new byte", b, s, "", fmt.Sprintf("box ≤ %.2f", goalBytesPerByte), verdict(b <= goalBytesPerByte))
	p50 := median(box, func(r result) float64 { return r.delay.P50 })
	p99 := median(box, func(r result) float64 { return r.delay.P99 })
	mx := median(box, func(r result) float64 { return r.delay.Max })
	var lost, sent int
	for _, r := range box {
		lost += r.delay.Sent - r.delay.Arrived
		sent += r.delay.Sent
	}
	fmt.Printf("%-36s %10s %10s %10s   %-22s %s\n", "pad edit delay p50/p99/max, ms", fmt.Sprintf("%.0f/%.0f/%.0f", p50, p99, mx), "-", "", fmt.Sprintf("p99 < %d", goalP99ms), verdict(p99 < goalP99ms))
	fmt.Printf("%-36s %10s %10s %10s   %-22s %s\n", "pad edits lost", fmt.Sprintf("%d/%d", lost, sent), "-", "", "0", verdict(lost == 0))
	fmt.Println(strings.TrimSpace(`
(Bytes received: for the box, the growth of the receiver's in_bytes in
tiersbox peers --json, TCP bytes with TLS; for stock, inBytesTotal of the
new connection in /rest/system/connections, BEP bytes inside TLS. New
bytes: for the box, the growth of the sender's journal and drive folders;
for stock, the new files. Memory is VmHWM of the box daemons and of the
stock 'syncthing serve' child processes, not their monitors.)`))
}

// firstDifference shows where two texts part.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("from byte %d, %q instead of %q", i, got[i:min(i+40, len(got))], want[i:min(i+40, len(want))])
}
