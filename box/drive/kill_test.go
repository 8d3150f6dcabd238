package drive

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// TestKillDuringUploads runs uploads, removals and hides in a child
// process, kills it (SIGKILL) at a random moment, restarts the drive and
// checks that it is consistent (every listed file whole on disk, nothing
// else there, nothing left in TmpDir) and that every upload the child saw
// acknowledged is there. A kill does not lose what the kernel holds in
// its page cache, so this tests the order of the steps, not the fsyncs.
func TestKillDuringUploads(t *testing.T) {
	data := t.TempDir()
	acked := make(map[string]string) // path → SHA-256 the child was told
	unsure := make(map[string]bool)  // paths the kill may have caught mid-removal
	total := 0
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
		cmd.Env = append(os.Environ(), "TIERSBOX_DRIVE_KILL_CHILD="+data, fmt.Sprint("TIERSBOX_DRIVE_KILL_SEED=", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		lines := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Split(sc.Text(), "\t") // paths have spaces
				mu.Lock()
				switch {
				case len(f) == 3 && f[0] == "ACK":
					acked[f[1]] = f[2]
					delete(unsure, f[1])
					lines++
				case len(f) == 2 && f[0] == "RMSTART":
					unsure[f[1]] = true
				case len(f) == 2 && f[0] == "RM":
					delete(acked, f[1])
					delete(unsure, f[1])
				}
				mu.Unlock()
			}
		}()
		// Let it work a while, then kill it wherever it is.
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Kill()
		<-done
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: the child ended by itself: %v", round, err)
		}

		b := openBox(t, data, Options{})
		b.checkConsistent(t)
		all, err := b.svc.ListAll(ListOptions{Hidden: true})
		if err != nil {
			t.Fatal(err)
		}
		listed := make(map[string]string)
		for _, f := range all {
			listed[f.Path] = f.SHA256
		}
		mu.Lock()
		for p, sha := range acked {
			if !unsure[p] && listed[p] != sha {
				t.Errorf("round %d: acknowledged upload %s is not listed (%q)", round, p, listed[p])
			}
		}
		t.Logf("round %d: %d uploads acknowledged, %d files listed", round, lines, len(all))
		total += lines
		mu.Unlock()
		b.close()
	}
	if total == 0 {
		t.Fatal("the child never completed an upload: the test tested nothing")
	}
}

// TestKillChild is the child process of TestKillDuringUploads.
func TestKillChild(t *testing.T) {
	data := os.Getenv("TIERSBOX_DRIVE_KILL_CHILD")
	if data == "" {
		t.Skip("the child of TestKillDuringUploads")
	}
	var seed uint64
	fmt.Sscan(os.Getenv("TIERSBOX_DRIVE_KILL_SEED"), &seed)
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	st, err := store.Open(data, store.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(st, ownOrigin, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBox{data: data}
	svc, err := New(st, j, Options{Dir: b.dir(), TmpDir: b.tmp(), ThumbDir: b.thumb(), Quota: 50 << 20})
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\n", args...)
		w.Flush()
	}
	var mine []string
	for i := 0; ; i++ {
		switch op := rng.IntN(10); {
		case op < 7 || len(mine) == 0:
			// Uploads of a few names, so that numbering is exercised,
			// in chunks, so that a kill often lands mid-stream.
			content := make([]byte, rng.IntN(400<<10))
			for k := range content {
				content[k] = byte(rng.Uint32())
			}
			f, err := svc.Upload(context.Background(), UploadRequest{Folder: "k", Name: fmt.Sprintf("f%d.bin", i%4), Author: "v"},
				&chunkReader{r: bytes.NewReader(content), n: 16 << 10})
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, f.Path)
			say("ACK\t%s\t%s", f.Path, f.SHA256)
		case op < 9:
			k := rng.IntN(len(mine))
			p := mine[k]
			mine = append(mine[:k], mine[k+1:]...)
			say("RMSTART\t%s", p)
			if err := svc.Remove(p, "staff"); err != nil {
				t.Fatal(err)
			}
			say("RM\t%s", p)
		default:
			if err := svc.Hide(mine[rng.IntN(len(mine))], "staff"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// chunkReader reads at most n bytes at a time.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }
