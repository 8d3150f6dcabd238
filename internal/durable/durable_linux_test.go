package durable

import (
	"os"
	"path/filepath"
	"testing"
)

// A file on another file system than the Syncer's folder is synced by
// itself: syncing the folder's file system would not reach it.
func TestSyncerOtherFileSystem(t *testing.T) {
	other, err := os.MkdirTemp("/dev/shm", "durable-")
	if err != nil {
		t.Fatalf("a tmpfs to sync a file on: %v", err)
	}
	defer os.RemoveAll(other)
	dir := t.TempDir()
	a, _ := os.Stat(dir)
	b, _ := os.Stat(other)
	if device(a) == 0 || device(a) == device(b) {
		t.Fatalf("devices %d and %d: want two known file systems", device(a), device(b))
	}
	s, err := NewSyncer(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := filepath.Join(other, "f")
	os.WriteFile(p, []byte("x"), 0o644)
	if err := s.Sync(p, other); err != nil {
		t.Fatalf("sync: %v", err)
	}
	os.Remove(p)
	if err := s.Sync(p); err == nil {
		t.Fatal("sync of a missing file on another file system: no error")
	}
}
