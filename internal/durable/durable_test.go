package durable

import (
	"errors"
	"os"
	"path/filepath"
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
