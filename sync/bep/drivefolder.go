package bep

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/drive"
	"tiersbox/internal/durable"
)

// DriveHooks is what the drive service learns from sync: files that a
// peer sent were put in place, or one that a peer deleted was removed.
type DriveHooks interface {
	Received(files ...drive.Arrival) error
	Departed(path string) error
}

// driveFolder is the drive's folder on disk as a BEP folder.
type driveFolder struct {
	root   string
	me     protocol.ShortID
	idx    *localIndex
	hooks  DriveHooks
	logger *slog.Logger
	disk   *durable.Syncer // while the node runs

	// mu is held while the disk and the index are compared or changed
	// together, so that a scan never mistakes a file being put in place
	// by the puller for a local edit.
	mu sync.Mutex

	qmu     sync.Mutex // guards queue and placing
	queue   []placing  // received files waiting to be put in place
	placing bool       // a goroutine is putting the queue in place

	amu      sync.Mutex      // guards arrivals and telling
	arrivals []drive.Arrival // files put in place, not yet told to the drive
	telling  bool            // a goroutine is telling the drive
	told     sync.WaitGroup
}

// scan compares the folder on disk with the index and announces what
// changed: new or modified files get a new version from this box,
// missing ones are marked deleted.
func (df *driveFolder) scan() error {
	_, _, known := df.idx.snapshot()
	type found struct {
		info fs.FileInfo
		dir  bool
	}
	seen := map[string]found{}
	err := filepath.WalkDir(df.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == df.root {
				return err
			}
			df.logger.Warn("sync: cannot read a path in the drive folder", "path", p, "error", err)
			return nil
		}
		if p == df.root {
			return nil
		}
		rel := filepath.ToSlash(p[len(df.root)+1:])
		if ignored(rel) || checkName(rel) != nil {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // symbolic links and devices are not synced
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		seen[rel] = found{info, d.IsDir()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bep: scan the drive folder: %w", err)
	}
	var changed []protocol.FileInfo
	for name, fd := range seen {
		e, had := known[name]
		old := e.info(name)
		if had && !old.IsDeleted() && unchanged(old, fd.info, fd.dir) {
			continue
		}
		var f protocol.FileInfo
		if fd.dir {
			f = protocol.FileInfo{Name: name, Type: protocol.FileInfoTypeDirectory, Permissions: 0o755,
				ModifiedS: fd.info.ModTime().Unix(), ModifiedNs: int32(fd.info.ModTime().Nanosecond())}
		} else {
			var err error
			if f, err = hashFile(filepath.Join(df.root, filepath.FromSlash(name)), name, fd.info); err != nil {
				df.logger.Warn("sync: cannot read a drive file", "path", name, "error", err)
				continue
			}
		}
		if had && !old.IsDeleted() && !fd.dir && old.Size == f.Size && string(old.BlocksHash) == string(f.BlocksHash) {
			// Same content, only the time changed: keep the version,
			// remember the time.
			f.Version = old.Version
			f.ModifiedBy = old.ModifiedBy
		} else {
			// Update may change the vector's array in place: copy it,
			// since the index still holds the old version.
			f.Version = old.Version.Copy().Update(df.me)
			f.ModifiedBy = df.me
		}
		changed = append(changed, f)
	}
	var gone []seqName
	for name, e := range known {
		if _, ok := seen[name]; !ok && !e.deleted {
			gone = append(gone, seqName{e.sequence, name})
		}
	}
	// From the whole descriptions, as Syncthing deletes: a file that
	// came from a peer keeps what it said (no permissions, platform
	// data). One read for all; a name committed again since is left out
	// there, and below.
	descs, err := df.idx.whole(gone)
	if err != nil {
		df.logger.Warn("sync: cannot read this box's description of deleted files", "error", err)
	}
	byName := make(map[string]protocol.FileInfo, len(descs))
	for _, f := range descs {
		byName[f.Name] = f
	}
	for _, g := range gone {
		f, ok := byName[g.name]
		if !ok {
			f = known[g.name].info(g.name)
		}
		// SetDeleted may change the vector's array in place.
		f.Version = f.Version.Copy()
		f.SetDeleted(df.me)
		changed = append(changed, f)
	}
	if len(changed) == 0 {
		return nil
	}
	// Announced in name order, as a walk of the folder finds them: peers
	// then write their copy of the index in key order, which fills the
	// database's pages (seen is a map, in no order).
	slices.SortFunc(changed, func(a, b protocol.FileInfo) int { return strings.Compare(a.Name, b.Name) })
	df.mu.Lock()
	defer df.mu.Unlock()
	// Keep only what nobody changed meanwhile (the puller may have put
	// a file in place while this scan was hashing).
	keep := changed[:0]
	for _, f := range changed {
		now, _ := df.idx.get(f.Name)
		if now.Sequence != known[f.Name].sequence {
			continue
		}
		info, err := os.Lstat(filepath.Join(df.root, filepath.FromSlash(f.Name)))
		switch {
		case f.IsDeleted() && err == nil:
			continue
		case !f.IsDeleted() && (err != nil || !unchanged(f, info, f.IsDirectory())):
			continue
		}
		keep = append(keep, f)
	}
	return df.idx.commit(keep...)
}

// unchanged reports whether the file on disk is the one f describes, by
// size and modification time as Syncthing does.
func unchanged(f protocol.FileInfo, info fs.FileInfo, dir bool) bool {
	if dir {
		return f.IsDirectory()
	}
	return f.Type == protocol.FileInfoTypeFile && f.Size == info.Size() && f.ModTime().Equal(info.ModTime())
}

// hashFile describes the file at p.
func hashFile(p, name string, info fs.FileInfo) (protocol.FileInfo, error) {
	fd, err := os.Open(p)
	if err != nil {
		return protocol.FileInfo{}, err
	}
	defer fd.Close()
	f := protocol.FileInfo{Name: name, Type: protocol.FileInfoTypeFile, Size: info.Size(), Permissions: 0o644,
		ModifiedS: info.ModTime().Unix(), ModifiedNs: int32(info.ModTime().Nanosecond())}
	bs := protocol.BlockSize(f.Size)
	f.RawBlockSize = int32(bs)
	// A small file needs a buffer of its own size, not of a block (128
	// KiB at least): a scan of thousands of small files then allocates
	// their size, not a block each.
	buf := make([]byte, max(1, min(int64(bs), f.Size)))
	var off int64
	for {
		n, err := io.ReadFull(fd, buf)
		if n > 0 {
			h := sha256.Sum256(buf[:n])
			f.Blocks = append(f.Blocks, protocol.BlockInfo{Offset: off, Size: n, Hash: h[:]})
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return protocol.FileInfo{}, err
		}
	}
	if off != f.Size {
		return protocol.FileInfo{}, fmt.Errorf("%s changed while it was read", name)
	}
	if len(f.Blocks) == 0 {
		f.Blocks = blocksOf(nil, bs)
	}
	f.BlocksHash = protocol.BlocksHash(f.Blocks)
	return f, nil
}

// tempName is where a file being received is written: a dot-name in the
// same folder (so the rename is atomic), which scans and the drive
// ignore. It is Syncthing's own temporary name, so an interrupted
// transfer can be resumed by either.
func tempName(name string) string {
	dir, base := path.Split(name)
	if len(base) > 200 {
		sum := sha256.Sum256([]byte(base))
		base = fmt.Sprintf("%x", sum[:8])
	}
	return dir + ".syncthing." + base + ".tmp"
}

// conflictName is Syncthing's name for the losing side of a conflict.
func conflictName(name string, by protocol.ShortID, now time.Time) string {
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	return fmt.Sprintf("%s.sync-conflict-%s-%s%s", base, now.Format("20060102-150405"), by.String(), ext)
}

// place moves a received file into place and records it, unless the file
// at name changed on disk since the index last described it (a local edit
// the next scan will announce). Files received at the same time are put in
// place together: one sync of each folder and one index transaction for
// the lot, which is what makes thousands of small files quick.
func (df *driveFolder) place(tmp string, f protocol.FileInfo, told drive.Arrival, afterConflict bool) error {
	told.Path = f.Name
	r := placing{tmp: tmp, f: f, told: told, afterConflict: afterConflict, done: make(chan error, 1)}
	df.qmu.Lock()
	df.queue = append(df.queue, r)
	leader := !df.placing
	df.placing = true
	df.qmu.Unlock()
	if leader {
		for {
			df.qmu.Lock()
			batch := df.queue
			df.queue = nil
			if len(batch) == 0 {
				df.placing = false
				df.qmu.Unlock()
				break
			}
			df.qmu.Unlock()
			df.arrived(df.placeBatch(batch))
		}
	}
	return <-r.done
}

// arrived tells the drive about files put in place, on a goroutine of
// its own: the drive reads each (its type, and its SHA-256 when sync does
// not know it), which would otherwise hold up the next files' placing.
// Files that arrive meanwhile are told together, in one call and one
// transaction.
func (df *driveFolder) arrived(files []drive.Arrival) {
	if df.hooks == nil || len(files) == 0 {
		return
	}
	df.amu.Lock()
	df.arrivals = append(df.arrivals, files...)
	start := !df.telling
	df.telling = true
	if start {
		df.told.Add(1)
	}
	df.amu.Unlock()
	if !start {
		return
	}
	go func() {
		defer df.told.Done()
		for {
			df.amu.Lock()
			files := df.arrivals
			df.arrivals = nil
			if len(files) == 0 {
				df.telling = false
				df.amu.Unlock()
				return
			}
			df.amu.Unlock()
			if err := df.hooks.Received(files...); err != nil {
				df.logger.Error("sync: the drive could not list files that arrived", "error", err)
			}
		}
	}()
}

// placing is a received file waiting to be put in place.
type placing struct {
	tmp           string
	f             protocol.FileInfo
	told          drive.Arrival // what the drive is told once it is in place
	afterConflict bool
	done          chan error
}

// placeBatch puts a batch in place and returns the files it placed: their
// data is made durable first, then they are renamed, then the names are
// made durable, then they are recorded, each step once for the batch.
func (df *driveFolder) placeBatch(batch []placing) []drive.Arrival {
	df.mu.Lock()
	defer df.mu.Unlock()
	tmps := make([]string, len(batch))
	for i, r := range batch {
		tmps[i] = r.tmp
	}
	if err := df.disk.Sync(tmps...); err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("bep: write received files: %w", err)
		}
		return nil
	}
	dirs := map[string]bool{}
	var placed []placing
	for _, r := range batch {
		if err := df.rename(r); err != nil {
			r.done <- err
			continue
		}
		dirs[filepath.Dir(filepath.Join(df.root, filepath.FromSlash(r.f.Name)))] = true
		placed = append(placed, r)
	}
	err := df.disk.Sync(slices.Collect(maps.Keys(dirs))...)
	if err == nil {
		files := make([]protocol.FileInfo, len(placed))
		for i, r := range placed {
			files[i] = r.f
		}
		err = df.idx.commit(files...)
	}
	var out []drive.Arrival
	for _, r := range placed {
		r.done <- err
		if err == nil {
			out = append(out, r.told)
		}
	}
	return out
}

// rename puts one received file in place; the caller holds mu.
func (df *driveFolder) rename(r placing) error {
	f := r.f
	dst := filepath.Join(df.root, filepath.FromSlash(f.Name))
	if !r.afterConflict {
		if err := df.checkUntouched(f.Name); err != nil {
			return err
		}
	}
	rename := os.Rename // a new version replaces the one announced
	if cur, had := df.idx.get(f.Name); r.afterConflict || !had || cur.IsDeleted() {
		// Nothing should be there: if an upload took the name
		// meanwhile, it stays, and the next scan settles the conflict.
		rename = durable.RenameNoReplace
	}
	if err := rename(r.tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", errLocalChange, f.Name)
		}
		return fmt.Errorf("bep: put %s in place: %w", f.Name, err)
	}
	return nil
}

// errLocalChange says a file changed on disk since it was announced; the
// next scan announces the change and a conflict is settled then.
var errLocalChange = errors.New("bep: the file changed here meanwhile")

func (df *driveFolder) checkUntouched(name string) error {
	cur, had := df.idx.get(name)
	info, err := os.Lstat(filepath.Join(df.root, filepath.FromSlash(name)))
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	case err != nil: // nothing on disk
		if had && !cur.IsDeleted() {
			return errLocalChange
		}
	case !had || cur.IsDeleted() || !unchanged(cur, info, info.IsDir()):
		return errLocalChange
	}
	return nil
}

// remove deletes what a peer deleted, unless it changed here meanwhile.
func (df *driveFolder) remove(f protocol.FileInfo) error {
	df.mu.Lock()
	defer df.mu.Unlock()
	p := filepath.Join(df.root, filepath.FromSlash(f.Name))
	if _, err := os.Lstat(p); err == nil {
		if err := df.checkUntouched(f.Name); err != nil {
			return err
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bep: delete %s: %w", f.Name, err)
		}
		if err := durable.SyncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return df.idx.commit(f)
}

// mkdir makes a folder a peer announced.
func (df *driveFolder) mkdir(f protocol.FileInfo) error {
	df.mu.Lock()
	defer df.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(df.root, filepath.FromSlash(f.Name)), 0o755); err != nil {
		return fmt.Errorf("bep: make folder %s: %w", f.Name, err)
	}
	return df.idx.commit(f)
}

// moveForConflict renames this box's losing version of name aside, as
// Syncthing does; the next scan announces the copy as a new file.
func (df *driveFolder) moveForConflict(name string, now time.Time) (string, error) {
	df.mu.Lock()
	defer df.mu.Unlock()
	copyName := conflictName(name, df.me, now)
	src := filepath.Join(df.root, filepath.FromSlash(name))
	dst := filepath.Join(df.root, filepath.FromSlash(copyName))
	if err := os.Rename(src, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("bep: keep a conflict copy of %s: %w", name, err)
	}
	return copyName, nil
}
