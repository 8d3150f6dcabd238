package firmware

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Write writes files under root ("/" on a Pi, a temporary folder in tests) and
// returns the paths (as in File.Path) it changed, in the order given.
//
// A file whose content and permissions already match is left alone, so a
// second Write of the same files changes nothing. Any other is written to a
// temporary file beside it, synced and renamed over it, so a power cut leaves
// either the old or the new file; missing parent folders are created (0755).
// A file whose content matches but whose permissions differ only gets a chmod.
// Write never leaves root: it goes through [os.Root], so a symbolic link
// cannot send it elsewhere. It does not change owners (files belong to the
// caller, root on a Pi) and never removes anything.
//
// On error, Write returns the paths changed before it, and the files after
// are untouched.
func Write(root string, files []File) (changed []string, err error) {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("firmware: write %q: not a clean absolute file path", f.Path)
		}
		if f.Mode.Type() != 0 {
			return nil, fmt.Errorf("firmware: write %s: mode %v is not a regular file's", f.Path, f.Mode)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("firmware: write %s: given twice", f.Path)
		}
		seen[f.Path] = true
	}

	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("firmware: write: %w", err)
	}
	defer r.Close()

	for _, f := range files {
		did, err := writeFile(r, f)
		if err != nil {
			return changed, fmt.Errorf("firmware: write %s under %s: %w", f.Path, root, err)
		}
		if did {
			changed = append(changed, f.Path)
		}
	}
	return changed, nil
}

// writeFile writes one file under r unless it already holds f, and reports
// whether it changed anything.
func writeFile(r *os.Root, f File) (bool, error) {
	rel := strings.TrimPrefix(f.Path, "/")
	perm := f.Mode.Perm()

	old, err := r.ReadFile(rel)
	switch {
	case err == nil && bytes.Equal(old, f.Data):
		info, err := r.Stat(rel)
		if err != nil {
			return false, err
		}
		if info.Mode().Perm() == perm {
			return false, nil
		}
		return true, r.Chmod(rel, perm)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	}

	dir := path.Dir(rel)
	if err := r.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	var nonce [6]byte
	rand.Read(nonce[:])
	tmp := path.Join(dir, "."+path.Base(rel)+".tmp-"+hex.EncodeToString(nonce[:]))
	t, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return false, err
	}
	err = t.Chmod(perm) // OpenFile's permissions went through the umask
	if err == nil {
		_, err = t.Write(f.Data)
	}
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, rel)
	}
	if err != nil {
		r.Remove(tmp)
		return false, err
	}
	// The rename is durable once the folder is synced.
	d, err := r.Open(dir)
	if err != nil {
		return true, err
	}
	defer d.Close()
	return true, d.Sync()
}
