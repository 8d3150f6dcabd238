package bep

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersbox/box/journal"
	"tiersbox/box/ydoc"
	"tiersbox/sync/link"
)

// proxy stands for the network between two boxes: it forwards loopback
// TCP to a box's sync address, and can cut every connection through it
// and refuse new ones until healed.
type proxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	t.Cleanup(func() { l.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return "tcp://" + p.l.Addr().String() }

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// linkVia links a and b through a proxy to b that a dials.
func linkVia(t *testing.T, a, b *testBox) *proxy {
	t.Helper()
	p := newProxy(t, b.node.Addr().String())
	if _, err := a.links.Add(link.Device{ID: b.id.DeviceID, Addresses: []string{p.addr()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.links.Add(link.Device{ID: a.id.DeviceID}); err != nil {
		t.Fatal(err)
	}
	return p
}

// journalDigest sums every entry a box holds, from every origin.
func journalDigest(t *testing.T, b *testBox) string {
	h := sha256.New()
	hs := heads(t, b)
	for _, o := range sortedOrigins(hs) {
		fmt.Fprintf(h, "%x:%d;", o, hs[o])
		b.j.Since(o, 0, func(e journal.Entry) error { h.Write(e.Encode()); return nil })
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func sortedOrigins(m map[journal.Origin]uint64) []journal.Origin {
	var out []journal.Origin
	for o := range m {
		out = append(out, o)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if bytes.Compare(out[j][:], out[i][:]) < 0 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// driveDigest sums the drive folder's visible files.
func driveDigest(t *testing.T, b *testBox) string {
	h := sha256.New()
	filepath.WalkDir(b.drive, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(b.drive, p)
		if ignored(filepath.ToSlash(rel)) {
			return nil
		}
		data, _ := os.ReadFile(p)
		fmt.Fprintf(h, "%s:%x;", rel, sha256.Sum256(data))
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

func converged(t *testing.T, boxes ...*testBox) bool {
	j0, d0 := journalDigest(t, boxes[0]), driveDigest(t, boxes[0])
	for _, b := range boxes[1:] {
		if journalDigest(t, b) != j0 || driveDigest(t, b) != d0 {
			return false
		}
	}
	return true
}

// TestConvergenceUnderPartitions runs three boxes A–B–C, where A and C
// are linked only through B, makes random journal entries and drive
// files at each while random links are cut and healed, and checks that
// after the last heal all three hold the same journals and drive.
func TestConvergenceUnderPartitions(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			a, b, c := newTestBox(t, "a"), newTestBox(t, "b"), newTestBox(t, "c")
			boxes := []*testBox{a, b, c}
			links := []*proxy{linkVia(t, a, b), linkVia(t, c, b)}
			for step := range 40 {
				box := boxes[rng.IntN(3)]
				switch rng.IntN(5) {
				case 0:
					box.j.Append(journalDraft(fmt.Sprintf("seed %d step %d", seed, step)))
				case 1, 4:
					editPad(t, box, rng, fmt.Sprintf("[%s%d]", box.node.opts.Name, step))
				case 2:
					name := fmt.Sprintf("f%d.txt", rng.IntN(6))
					data := bytes.Repeat(fmt.Appendf(nil, "%s %d ", name, step), 1+rng.IntN(30_000))
					os.WriteFile(filepath.Join(box.drive, name), data, 0o644)
					box.node.DriveChanged()
				case 3:
					l := links[rng.IntN(len(links))]
					l.setCut(rng.IntN(2) == 0)
				}
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			}
			for _, l := range links {
				l.setCut(false)
			}
			for _, box := range boxes {
				box.node.DriveChanged()
			}
			waitFor(t, "the three boxes to converge", 60*time.Second, func() bool { return converged(t, a, b, c) })
			// The pad, made from each box's journal, reads the same.
			text := padText(t, a)
			if text == "" {
				t.Fatal("no pad edit was made")
			}
			for _, box := range boxes[1:] {
				if got := padText(t, box); got != text {
					t.Fatalf("the pad differs:\n%s: %q\n%s: %q", a.node.opts.Name, text, box.node.opts.Name, got)
				}
			}
		})
	}
}

// padDoc makes the shared pad from a box's journal, as the box's pad
// service would.
func padDoc(t *testing.T, box *testBox) *ydoc.Doc {
	o := box.j.Origin()
	doc := ydoc.NewDoc(ydoc.Options{ClientID: uint64(o[0])<<8 | uint64(o[1]) | 1})
	err := box.j.Target("pad/commun", func(e journal.Entry) error { return doc.ApplyUpdate(e.Payload) })
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func padText(t *testing.T, box *testBox) string { return padDoc(t, box).Text("content").String() }

// editPad types text at a random place of the pad as the box knows it,
// and writes the edit to the box's journal as the pad service does.
func editPad(t *testing.T, box *testBox, rng *rand.Rand, text string) {
	doc := padDoc(t, box)
	var update []byte
	doc.OnUpdate(func(u []byte) { update = bytes.Clone(u) })
	c := doc.Text("content")
	c.Insert(rng.IntN(c.Len()+1), text)
	if _, err := box.j.Append(journal.Draft{Kind: "pad.update", Target: "pad/commun", Payload: update}); err != nil {
		t.Fatal(err)
	}
}

// TestRestartMidTransfer stops the receiving box while a large file and
// many entries are on their way, starts it again, and checks that it
// finishes with everything, byte for byte.
func TestRestartMidTransfer(t *testing.T) {
	a, b := newTestBox(t, "a"), newTestBox(t, "b")
	big := make([]byte, 24<<20)
	for i := range big {
		big[i] = byte(i * 7 % 251)
	}
	os.WriteFile(filepath.Join(a.drive, "video.bin"), big, 0o644)
	for i := range 2000 {
		a.j.Append(journalDraft(fmt.Sprintf("entry %d %s", i, bytes.Repeat([]byte("x"), 500))))
	}
	a.node.DriveChanged()
	linkBoxes(t, a, b)
	waitFor(t, "the transfer to begin", 20*time.Second, func() bool { return heads(t, b)[a.j.Origin()] > 0 })
	b.stop()
	a.logs.reset()
	b.logs.reset()
	b.start(t, "b again")
	waitFor(t, "b to finish after its restart", 60*time.Second, func() bool { return converged(t, a, b) })
	// Both resumed from the index sequences they had, rather than
	// sending everything again.
	if a.logs.contains("peer has a new index") || b.logs.contains("peer has a new index") {
		t.Fatal("a restart made a peer start its index over")
	}
	if got, _ := os.ReadFile(filepath.Join(b.drive, "video.bin")); !bytes.Equal(got, big) {
		t.Fatal("video.bin differs")
	}
}

// TestManyFilesArriveInBatches: a folder of more files than the puller
// takes at once (wantsAtOnce) arrives whole; the rest waits its turn.
func TestManyFilesArriveInBatches(t *testing.T) {
	a, b := newTestBox(t, "a"), newTestBox(t, "b")
	const files = 2*wantsAtOnce + 500
	for i := range files {
		dir := filepath.Join(a.drive, fmt.Sprintf("d%02d", i%25))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.txt", i)), fmt.Appendf(nil, "file %d", i), 0o644)
	}
	a.node.DriveChanged()
	linkBoxes(t, a, b)
	waitFor(t, "b to hold every file", 120*time.Second, func() bool { return converged(t, a, b) })
	n := 0
	filepath.WalkDir(b.drive, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	if n != files {
		t.Fatalf("b holds %d files, want %d", n, files)
	}
}
