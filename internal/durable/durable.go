// Package durable holds the file-system steps that make a new file
// survive a power cut in the right state: put it in place without
// replacing anything, sync the folder that names it, and sync many files
// at once (Syncer). The drive and box-to-box sync both place files in the
// drive folder.
package durable

import (
	"errors"
	"io/fs"
	"os"
)

// SyncDir syncs a folder, so that the names created or removed in it
// survive a power cut. Given a file, it syncs the file.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// renameIfFree checks that nothing is at to, then renames: the fallback
// where the file system cannot do both in one step.
func renameIfFree(from, to string) error {
	if _, err := os.Lstat(to); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			err = &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
		}
		return err
	}
	return os.Rename(from, to)
}
