package bep

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// TestRoomFor: on a 300 MiB disk, a box takes a small file but refuses
// one that would leave less than the 256 MiB it keeps free.
func TestRoomFor(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=300m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("TIERSBOX_E2E") == "1" {
			t.Fatalf("mounting a small disk for the test: %v\n%s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (root needed): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	if err := roomFor(dir, 1<<20); err != nil {
		t.Fatalf("a 1 MiB file: %v", err)
	}
	if err := roomFor(dir, 60<<20); !errors.Is(err, errDiskFull) {
		t.Fatalf("a 60 MiB file: got %v, want errDiskFull", err)
	}
}
