package bep

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

var conflictRE = regexp.MustCompile(`^programme\.sync-conflict-\d{8}-\d{6}-[A-Z0-9]{7}\.txt$`)

// TestConflictCopy: a file changed at two boxes while they were apart
// ends the same at both, and the losing version is kept at both as a
// Syncthing conflict copy.
func TestConflictCopy(t *testing.T) {
	a, b := newTestBox(t, "a"), newTestBox(t, "b")
	os.WriteFile(filepath.Join(a.drive, "programme.txt"), []byte("version commune\n"), 0o644)
	a.node.DriveChanged()
	link := linkVia(t, a, b)
	expect(t, b.hooks.arrived, "programme.txt")

	link.setCut(true)
	waitFor(t, "the link to drop", 10*time.Second, func() bool { return !connected(a) })
	os.WriteFile(filepath.Join(a.drive, "programme.txt"), []byte("version de A, plus longue\n"), 0o644)
	os.WriteFile(filepath.Join(b.drive, "programme.txt"), []byte("version de B\n"), 0o644)
	// Different times, so that the newer edit wins as in Syncthing.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(b.drive, "programme.txt"), old, old)
	a.node.DriveChanged()
	b.node.DriveChanged()
	time.Sleep(100 * time.Millisecond)
	link.setCut(false)

	waitFor(t, "both boxes to settle the conflict", 30*time.Second, func() bool { return converged(t, a, b) })
	for _, box := range []*testBox{a, b} {
		got, _ := os.ReadFile(filepath.Join(box.drive, "programme.txt"))
		if string(got) != "version de A, plus longue\n" {
			t.Fatalf("%s holds %q, want A's newer version", box.dir, got)
		}
		entries, _ := os.ReadDir(box.drive)
		var copies []string
		for _, e := range entries {
			if conflictRE.MatchString(e.Name()) {
				copies = append(copies, e.Name())
				if got, _ := os.ReadFile(filepath.Join(box.drive, e.Name())); string(got) != "version de B\n" {
					t.Fatalf("the conflict copy holds %q", got)
				}
			}
		}
		if len(copies) != 1 {
			t.Fatalf("%s has conflict copies %v, want one", box.dir, copies)
		}
	}
}
