package drive

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// OnChange registers f, called with a file's path (as in File.Path)
// whenever the drive itself changes a file in the drive folder: an upload
// put in place, a file deleted (removed here, removed by another box's
// journal entry, or cleaned up after a crash). Box-to-box sync uses it to
// announce the change without waiting for its next scan of the folder.
//
// f is called without any of the drive's locks held, on the goroutine
// that made the change (any goroutine), and must return quickly. Changes
// made by New, before anyone could register, are not told: sync scans the
// folder when it starts. Several callbacks may be registered; none can be
// removed.
func (s *Service) OnChange(f func(path string)) {
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	s.onChange = append(s.onChange, f)
}

// changed tells the OnChange callbacks about path. The caller holds none
// of the drive's locks.
func (s *Service) changed(path string) {
	s.changeMu.Lock()
	fs := s.onChange
	s.changeMu.Unlock()
	for _, f := range fs {
		f(path)
	}
}

// Received tells the drive that sync put files it received in place, each
// at its Path (a drive path, with '/' separators).
//
// If the journal lists a file at path with that content (its entry came
// first), nothing more is needed. Otherwise the file is listed all the
// same, without details: the drive reads it (its SHA-256, and its type
// from its name and first bytes; see Arrival for the sum sync knows) and
// lists it with its size and its
// modification time as its date, no author and no licence, File.Arrived
// set. That listing is derived from the folder, not a journal entry (a
// box writes entries only about what happened at it): if the file's
// journal entry comes later, its details take over. Content that arrives
// at the path of a file removed here is listed too: a peer brought it
// back, or it is a new file with the same content whose entry has not
// come yet.
//
// A path the drive could not have written (a name CleanName would change,
// folders deeper than MaxFolderDepth) is ignored: not listed, and left on
// disk. A path with no file (any more) is no longer listed.
//
// Files that arrived together are best told together: they are read one
// by one and listed in one transaction.
func (s *Service) Received(files ...Arrival) error {
	var valid []Arrival
	for _, a := range files {
		if !validPath(a.Path) {
			s.logger.Info("a file sync placed is not listed: the drive does not take its name", "path", a.Path)
			continue
		}
		valid = append(valid, a)
	}
	return s.arrive(valid, true)
}

// Arrival is a file sync put in place, with what sync knows of it: the
// SHA-256 of the content it wrote (hex; empty when unknown), and that file
// as sync left it (its Lstat, before the rename that put it in place).
// When the file at Path is still that one (same inode, size and time),
// the drive takes the sum instead of reading the whole file again (sync
// computed it from the blocks it checked as it wrote them): for a first
// sync of a large video that second reading alone took a second, and the
// files behind it waited. Syncthing trusts size and time the same way
// when it scans.
type Arrival struct {
	Path   string
	SHA256 string
	Placed fs.FileInfo
}

// arrive reads the files at paths and lists, in one transaction, those
// that nothing else describes; a file that changed while it was read is
// read again, three times at most. bySync is false for a scan of the
// folder: the content of a file removed here is then what a crash kept
// the removal from deleting (sweepRemoved deletes it at the next start),
// not an arrival.
func (s *Service) arrive(files []Arrival, bySync bool) error {
	var errs []error
	for range 3 {
		if len(files) == 0 {
			return errors.Join(errs...)
		}
		again, err := s.arriveOnce(files, bySync)
		errs = append(errs, err)
		files = again
	}
	for _, a := range files {
		errs = append(errs, fmt.Errorf("drive: file from sync %s: it keeps changing", a.Path))
	}
	return errors.Join(errs...)
}

// arriveOnce is one round of arrive; it returns the files that changed
// while they were read, to be read again (whole: the sum sync knew is no
// longer theirs).
func (s *Service) arriveOnce(files []Arrival, bySync bool) (again []Arrival, _ error) {
	type read struct {
		path string
		fi   fs.FileInfo
		sum  string
		head []byte
	}
	var reads []read
	var errs []error
	for _, a := range files {
		path := a.Path
		fi, err := s.root.Lstat(filepath.FromSlash(path))
		if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
			errs = append(errs, s.forgetDisk(path))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("drive: file from sync %s: %w", path, err))
			continue
		}
		known := ""
		if a.Placed != nil && sameFile(fi, a.Placed) {
			known = a.SHA256
		}
		sum, head, err := s.hashHead(path, known)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reads = append(reads, read{path, fi, sum, head})
	}
	if len(reads) == 0 {
		return nil, errors.Join(errs...)
	}
	var listed []string
	var eff effect
	s.writeMu.Lock()
	err := s.st.Update(func(tx *bolt.Tx) error {
		eff, again, listed = effect{}, nil, nil
		for _, r := range reads {
			if fi, err := s.root.Lstat(filepath.FromSlash(r.path)); err != nil || !sameFile(fi, r.fi) {
				again = append(again, Arrival{Path: r.path})
				continue
			}
			isListed := false
			if err := updateRecord(tx, r.path, &eff, diskUpdate(newDiskRecord(r.path, r.fi, r.sum, r.head), r.sum, bySync, &isListed)); err != nil {
				return err
			}
			if isListed {
				listed = append(listed, r.path)
			}
		}
		return nil
	})
	s.writeMu.Unlock()
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("drive: files from sync: %w", err))...)
	}
	s.afterCommit(eff)
	// Debug: on a first sync most files come before the journal entries
	// that describe them, thousands of lines on a Pi's SD card at Info.
	for _, p := range listed {
		s.logger.Debug("file from sync listed without its details", "path", p)
	}
	return again, errors.Join(errs...)
}

// hashHead returns the SHA-256 of the file at path and its first sniffLen
// bytes. A known sum is returned as it is, and only the first bytes read.
func (s *Service) hashHead(path, known string) (string, []byte, error) {
	f, err := s.root.Open(filepath.FromSlash(path))
	if err != nil {
		return "", nil, fmt.Errorf("drive: read %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", nil, fmt.Errorf("drive: read %s: %w", path, err)
	}
	head = head[:n]
	if known != "" {
		return known, head, nil
	}
	h := sha256.New()
	h.Write(head)
	if err := hashInto(h, f); err != nil {
		return "", nil, fmt.Errorf("drive: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), head, nil
}

func newDiskRecord(path string, read fs.FileInfo, sum string, head []byte) *diskRecord {
	_, name := splitPath(path)
	return &diskRecord{Size: read.Size(), SHA256: sum, ContentType: detectType(name, head, ""), ModTime: read.ModTime().UnixNano()}
}

// diskUpdate lists the file read at a path (d, of content sum) unless the
// journal describes it; listed says whether it did.
func diskUpdate(d *diskRecord, sum string, bySync bool, listed *bool) func(r *record) bool {
	return func(r *record) bool {
		*listed = false
		switch {
		case r.describes(sum):
			// The journal's file: its details are the listing.
			if r.Disk == nil {
				return false
			}
			r.Disk = nil
		case !bySync && r.File != nil && r.Removed && r.File.SHA256 == sum && r.Disk == nil:
			return false
		default:
			if r.Disk != nil && *r.Disk == *d {
				return false
			}
			r.Disk, *listed = d, true
		}
		return true
	}
}

// forgetDisk stops listing the file sync placed at path, if there is no
// file there any more.
func (s *Service) forgetDisk(path string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if fi, err := s.root.Lstat(filepath.FromSlash(path)); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	return s.dropDiskLocked(path)
}

// dropDiskLocked stops listing the file sync placed at path. The caller
// holds writeMu.
func (s *Service) dropDiskLocked(path string) error {
	var eff effect
	err := s.st.Update(func(tx *bolt.Tx) error {
		eff = effect{}
		return updateRecord(tx, path, &eff, dropDisk)
	})
	if err != nil {
		return fmt.Errorf("drive: forget %s: %w", path, err)
	}
	s.afterCommit(eff)
	return nil
}

func dropDisk(r *record) bool {
	if r.Disk == nil {
		return false
	}
	r.Disk = nil
	return true
}

// updateRecord changes the record of path in tx with f, which reports
// whether it changed anything, and counts the change of usage in eff. A
// record left empty is deleted.
func updateRecord(tx *bolt.Tx, path string, eff *effect, f func(r *record) bool) error {
	r, _, err := getRecord(tx, path)
	if err != nil {
		return err
	}
	before := r.usage()
	if !f(&r) {
		return nil
	}
	eff.delta += r.usage() - before
	if r == (record{}) {
		return tx.Bucket(store.BucketDrive).Delete([]byte(path))
	}
	return putRecord(tx, path, r)
}

// Departed tells the drive that sync deleted the file at path because a
// peer deleted it. If the journal lists a file there, this box appends a
// KindRemove entry (with no author), so that the removal shows here and
// reaches the boxes that learn of it only through the journal; a file
// listed without details is no longer listed. If a file is at path again
// (an upload took the free name, or sync placed another), it is not the
// one deleted, and nothing changes.
func (s *Service) Departed(path string) error {
	if !validPath(path) {
		return nil
	}
	payload, err := json.Marshal(PathPayload{Path: path})
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	if _, err := s.root.Lstat(filepath.FromSlash(path)); !errors.Is(err, fs.ErrNotExist) {
		s.writeMu.Unlock()
		if err != nil {
			return fmt.Errorf("drive: deleted by sync %s: %w", path, err)
		}
		return nil
	}
	var r record
	err = s.st.View(func(tx *bolt.Tx) error {
		var err error
		r, _, err = getRecord(tx, path)
		return err
	})
	var eff effect
	switch {
	case err != nil:
	case r.live():
		_, err = s.j.AppendWith(func(tx *bolt.Tx, entries []journal.Entry) error {
			eff = effect{}
			if err := applyOwn(tx, entries[0], &eff); err != nil {
				return err
			}
			return updateRecord(tx, path, &eff, dropDisk)
		}, journal.Draft{Kind: KindRemove, Target: TargetPrefix + path, Payload: payload})
	case r.Disk != nil:
		err = s.st.Update(func(tx *bolt.Tx) error {
			eff = effect{}
			return updateRecord(tx, path, &eff, dropDisk)
		})
	}
	if err == nil {
		s.afterCommit(eff)
	}
	s.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("drive: deleted by sync %s: %w", path, err)
	}
	if r.live() {
		s.logger.Info("file deleted by a peer, removed", "path", path)
		s.removeThumbnail(r.File.SHA256)
	}
	if r.Disk != nil {
		s.removeThumbnail(r.Disk.SHA256)
	}
	return nil
}

// removeArrived deletes the file that sync placed at path without
// details, if the listing shows one, and reports whether it did.
func (s *Service) removeArrived(path string) (bool, error) {
	var d *diskRecord
	err := s.st.View(func(tx *bolt.Tx) error {
		r, _, err := getRecord(tx, path)
		d = r.Disk
		return err
	})
	if err != nil || d == nil {
		return false, err
	}
	deleted, err := s.deleteContent(path, d.Size, d.SHA256, true)
	if err != nil || deleted {
		return deleted, err
	}
	// Not what the listing said: look again at what is there.
	return false, s.arrive([]Arrival{{Path: path}}, true)
}

// walkFolder returns the regular files of the drive folder with valid
// paths, by path.
func (s *Service) walkFolder() (map[string]fs.FileInfo, error) {
	found := make(map[string]fs.FileInfo)
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if p == "." {
			return err
		}
		if err != nil {
			s.logger.Warn("reading the drive folder", "path", p, "error", err)
			return nil
		}
		if d.IsDir() {
			if strings.Count(p, "/") >= MaxFolderDepth || !validPath(p) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !validPath(p) {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			found[p] = fi
		}
		return nil
	})
	return found, err
}

// scanFolder brings the listing of files without details up to date with
// the drive folder: files that nothing lists (sync placed them while the
// box was stopped, or a stop came before Received) are read and listed,
// and those listed that left the disk are forgotten. Files the journal
// lists are recognised by their size and listed files without details by
// their size and time, without reading them; uploads under way are left
// to Upload.
func (s *Service) scanFolder() error {
	// The walk (system calls) and the read of the records (decoding) do
	// not depend on each other: side by side, a start with 10,000 files
	// waits for the longer of the two rather than for both.
	var found map[string]fs.FileInfo
	var walkErr error
	walked := make(chan struct{})
	go func() {
		defer close(walked)
		found, walkErr = s.walkFolder()
	}()
	listed := make(map[string]record)
	uploads := make(map[string]bool)
	var used int64
	err := s.st.View(func(tx *bolt.Tx) error {
		err := forEachRecord(tx, func(p string, r record) error {
			used += r.usage()
			listed[p] = r
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(store.BucketDriveUploads).ForEach(func(k, _ []byte) error {
			uploads[string(k)] = true
			return nil
		})
	})
	<-walked
	if err := cmp.Or(walkErr, err); err != nil {
		return fmt.Errorf("drive: scan folder: %w", err)
	}
	s.nameMu.Lock()
	reserved := maps.Clone(s.names)
	s.nameMu.Unlock()
	// What is listed from disk but gone, and what is on disk and
	// described nowhere (or differently).
	var check []Arrival
	var gone []string
	for p, r := range listed {
		fi := found[p]
		switch {
		case fi == nil:
			if r.Disk != nil {
				gone = append(gone, p)
			}
		case r.Disk != nil && r.Disk.Size == fi.Size() && r.Disk.ModTime == fi.ModTime().UnixNano():
		case r.Disk == nil && r.live() && r.File.Size == fi.Size():
		default:
			continue // read below
		}
		delete(found, p)
	}
	for p := range found {
		if !reserved[foldKey(p)] && !uploads[p] {
			check = append(check, Arrival{Path: p})
		}
	}
	// The usage is counted whole here; what the reads below change is
	// added to it as they commit.
	s.mu.Lock()
	s.used = used
	s.mu.Unlock()
	if err := s.arrive(check, false); err != nil {
		s.logger.Warn("reading files in the drive folder", "error", err)
	}
	for _, p := range gone {
		if err := s.forgetDisk(p); err != nil {
			return err
		}
	}
	return nil
}
