package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand: `tiersbox export` on a stopped box's folder writes a
// ZIP whose front page names the venue; called wrong, it says how to call
// it and writes nothing.
func TestExportCommand(t *testing.T) {
	data := initBox(t, "Café des Possibles", "mot de passe du café")
	dir := t.TempDir()
	out := filepath.Join(dir, "export.zip")
	stdout, stderr, code := tiersbox(t, "", "export", "--data", data, "--out", out)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("export: %d %q %q", code, stdout, stderr)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	for _, want := range []string{"index.html", "drive/index.html", "chat/général.html", "chat/général.txt"} {
		if !names[want] {
			t.Errorf("the ZIP lacks %s: %v", want, names)
		}
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--data", data}, 2, "--out FILE.zip"},
		{[]string{"export", "--data", filepath.Join(dir, "nothing"), "--out", filepath.Join(dir, "x.zip")}, 1, "no box in"},
		{[]string{"export", "--data", data, "--out", filepath.Join(dir, "missing", "x.zip")}, 1, "export:"},
	} {
		if _, stderr, code := tiersbox(t, "", tt.args...); code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("tiersbox %v: %d %q, want %d with %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("the folder holds %d files after the failed exports, want only export.zip", len(left))
	}
}
