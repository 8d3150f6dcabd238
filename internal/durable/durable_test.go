package durable

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from"), filepath.Join(dir, "to")
	os.WriteFile(from, []byte("new"), 0o600)
	os.WriteFile(to, []byte("there"), 0o600)
	if err := RenameNoReplace(from, to); !errors.Is(err, os.ErrExist) {
		t.Fatalf("error %v, want one wrapping fs.ErrExist", err)
	}
	if data, _ := os.ReadFile(to); string(data) != "there" {
		t.Fatalf("replaced")
	}
	os.Remove(to)
	if err := RenameNoReplace(from, to); err != nil {
		t.Fatal(err)
	}
	if err := renameIfFree(to, to+"2"); err != nil {
		t.Fatal(err)
	}
}

func TestSyncerSyncsFilesAndFolders(t *testing.T) {
	dir := t.TempDir()
	s, err := NewSyncer(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sub := filepath.Join(dir, "atelier")
	os.Mkdir(sub, 0o755)
	var paths []string
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := s.Sync(append(paths, sub, dir)...); err != nil {
		t.Fatalf("sync: %v", err)
	}
	missing := filepath.Join(sub, "parti.txt")
	err = s.Sync(paths[0], missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("sync of a missing file: error %v, want one naming it", err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("sync of nothing: %v", err)
	}
}
