package durable

import (
	"errors"
	"fmt"
	"os"
)

// A Syncer makes many files and folders under one folder durable at once.
// Received files come by the thousand: one sync of each costs a disk
// round trip and a flush of the disk's cache per file, where one sync of
// the whole file system, when they are all written, costs one (see
// sync_linux.go). Files on another file system (a disk mounted inside the
// folder) are synced one by one.
//
// A Syncer is opened for as long as files are synced through it: on
// Linux the open folder is what reports a failed write-back of any file
// on its file system since it was opened, even one the kernel's flusher
// started before Sync was called.
type Syncer struct {
	dir *os.File
	dev uint64 // the folder's file system, or 0 when not known
}

// NewSyncer opens a Syncer for the files under dir.
func NewSyncer(dir string) (*Syncer, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("durable: open %s: %w", dir, err)
	}
	info, err := d.Stat()
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("durable: stat %s: %w", dir, err)
	}
	return &Syncer{dir: d, dev: device(info)}, nil
}

// Sync makes the content of the files and folders at paths durable: their
// data, their size and, for folders, the names in them.
func (s *Syncer) Sync(paths ...string) error {
	var errs []error
	together := false
	for _, p := range paths {
		info, err := os.Lstat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.dev != 0 && device(info) == s.dev {
			together = true
			continue
		}
		if err := SyncDir(p); err != nil { // a file or a folder alike
			errs = append(errs, fmt.Errorf("durable: sync %s: %w", p, err))
		}
	}
	if together {
		if err := syncFileSystem(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("durable: sync the file system of %s: %w", s.dir.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Close closes the folder.
func (s *Syncer) Close() error { return s.dir.Close() }
