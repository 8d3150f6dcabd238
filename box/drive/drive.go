package drive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/internal/durable"
)

// DefaultMaxFileSize is the largest file when Options.MaxFileSize is
// zero: a recorded talk or a short video, not a film library.
const DefaultMaxFileSize = 1 << 30

// Errors, told apart with errors.Is by the portal, which explains them to
// visitors in their language.
var (
	// ErrNotFound is returned for a path the drive does not list (never
	// added, or removed).
	ErrNotFound = errors.New("drive: no such file")
	// ErrMissing is returned by Open for a file whose metadata came from
	// another box before its content did.
	ErrMissing = errors.New("drive: the file has not reached this box yet")
	// ErrTooLarge is returned by Upload for a file larger than the
	// largest allowed.
	ErrTooLarge = errors.New("drive: the file is too large")
	// ErrQuota is returned by Upload when the drive would hold more than
	// its quota.
	ErrQuota = errors.New("drive: the drive is full")
	// ErrNotYours is returned by RemoveOwn for a file someone else added.
	ErrNotYours = errors.New("drive: the file was added by someone else")
	// ErrInvalid is returned (wrapped with the reason) for file details
	// that cannot be stored: a description too long, control characters.
	ErrInvalid = errors.New("drive: invalid file details")
	// ErrNoThumbnail is returned by Thumbnail for a file that is not an
	// image it can read, or whose picture is too large to decode safely.
	ErrNoThumbnail = errors.New("drive: no thumbnail for this file")
)

// Options configure New. Dir, TmpDir and ThumbDir are required.
type Options struct {
	// Dir is the drive folder: the files, under their names. Box-to-box
	// sync shares it as it is.
	Dir string
	// TmpDir holds uploads under way. It must be outside Dir (so that
	// sync never sees a partial file) and on the same file system (so
	// that an upload enters Dir by a rename). New empties it.
	TmpDir string
	// ThumbDir holds the thumbnails, named by the SHA-256 of their image.
	ThumbDir string
	// MaxFileSize is the largest file accepted, in bytes. Zero means
	// DefaultMaxFileSize.
	MaxFileSize int64
	// Quota is the most the whole drive may hold, in bytes. Zero means no
	// limit but the disk's.
	Quota int64
	// Logger receives what staff should know. nil discards.
	Logger *slog.Logger
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
}

// Service is the drive. It is safe for concurrent use. Close it once, when
// nothing uses it any more.
type Service struct {
	st       *store.Store
	j        *journal.Journal
	dir      string
	root     *os.Root // dir: reads and removals cannot leave it, even through a symbolic link
	tmpDir   string
	thumbDir string
	maxFile  int64
	quota    int64
	logger   *slog.Logger
	now      func() time.Time

	// writeMu serialises changes to the derived state, so that the usage
	// below follows the commits in order.
	writeMu sync.Mutex

	mu      sync.Mutex
	used    int64 // bytes of the listed files, from the derived state
	pending int64 // bytes streamed by uploads under way

	nameMu sync.Mutex
	names  map[string]bool // foldKey of the paths reserved by uploads under way

	thumbMu sync.Mutex // one thumbnail at a time: decoding a photo takes memory

	changeMu sync.Mutex
	onChange []func(path string) // see OnChange

	// crashAt, in tests, stops an upload at a stage as a crash would:
	// without any cleaning up.
	crashAt func(stage string) bool
}

// New opens the drive: it creates the folders, cleans up after uploads a
// crash interrupted, and brings the derived metadata up to date with the
// journal.
func New(st *store.Store, j *journal.Journal, opts Options) (*Service, error) {
	if opts.Dir == "" || opts.TmpDir == "" || opts.ThumbDir == "" {
		return nil, errors.New("drive: Dir, TmpDir and ThumbDir are required")
	}
	if opts.MaxFileSize < 0 || opts.Quota < 0 {
		return nil, errors.New("drive: MaxFileSize and Quota cannot be negative")
	}
	s := &Service{st: st, j: j, dir: opts.Dir, tmpDir: opts.TmpDir, thumbDir: opts.ThumbDir,
		maxFile: opts.MaxFileSize, quota: opts.Quota, logger: opts.Logger, now: opts.Now,
		names: make(map[string]bool)}
	if s.maxFile == 0 {
		s.maxFile = DefaultMaxFileSize
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, d := range []string{s.dir, s.tmpDir, s.thumbDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("drive: create folder: %w", err)
		}
	}
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, fmt.Errorf("drive: open folder: %w", err)
	}
	s.root = root
	if err := s.start(); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

// start runs New's recovery, in an order that matters: the derived state
// first, since the cleaning of uploads asks it which files the journal
// names.
func (s *Service) start() error {
	var ok bool
	err := s.st.View(func(tx *bolt.Tx) error {
		_, ok = readMeta(tx)
		return nil
	})
	if err != nil {
		return fmt.Errorf("drive: read state: %w", err)
	}
	if !ok {
		if err := s.rebuild(); err != nil {
			return err
		}
	} else if err := s.catchUp(nil); err != nil {
		return err
	}
	if err := s.recoverUploads(); err != nil {
		return err
	}
	if err := s.sweepRemoved(); err != nil {
		return err
	}
	// After the cleaning: what is left in the folder and listed nowhere
	// came from sync.
	if err := s.scanFolder(); err != nil {
		return err
	}
	// scanFolder counted the usage whole.
	s.sweepThumbnails()
	return nil
}

// Close releases the drive folder.
func (s *Service) Close() error { return s.root.Close() }

// intent is an upload between its rename into the drive folder and its
// journal entry, in store.BucketDriveUploads under its path.
type intent struct {
	Tmp    string `json:"tmp"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Time   int64  `json:"time"` // Unix seconds, for the logs
}

// recoverUploads undoes the uploads a crash stopped before their journal
// entry: their file leaves the drive folder (unless a journal entry names
// that very content there), their temporary file goes, and so does
// anything else left in TmpDir.
func (s *Service) recoverUploads() error {
	var intents []intent
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketDriveUploads).ForEach(func(k, v []byte) error {
			var in intent
			if err := json.Unmarshal(v, &in); err != nil || in.Path != string(k) {
				s.logger.Error("dropping an unreadable upload record", "path", string(k), "error", err)
				in = intent{Path: string(k)}
			}
			intents = append(intents, in)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("drive: read uploads under way: %w", err)
	}
	for _, in := range intents {
		named := false
		err := s.st.View(func(tx *bolt.Tx) error {
			r, _, err := getRecord(tx, in.Path)
			named = r.live() && r.File.SHA256 == in.SHA256
			return err
		})
		if err != nil {
			return err
		}
		if !named && validPath(in.Path) && in.SHA256 != "" {
			if err := s.removeIfContent(in.Path, in.Size, in.SHA256); err != nil {
				return err
			}
		}
		if in.Tmp != "" && filepath.Dir(in.Tmp) == filepath.Clean(s.tmpDir) {
			if err := os.Remove(in.Tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("drive: remove interrupted upload: %w", err)
			}
		}
		if err := s.st.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(store.BucketDriveUploads).Delete([]byte(in.Path))
		}); err != nil {
			return fmt.Errorf("drive: forget interrupted upload: %w", err)
		}
		s.logger.Warn("upload interrupted by an unclean stop, undone", "path", in.Path, "started", time.Unix(in.Time, 0))
	}
	leftovers, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("drive: read temporary folder: %w", err)
	}
	for _, e := range leftovers {
		if err := os.RemoveAll(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return fmt.Errorf("drive: empty temporary folder: %w", err)
		}
	}
	return nil
}

// sweepRemoved deletes the content of removed files still on disk: a crash
// can come between a removal's journal entry and the deletion.
func (s *Service) sweepRemoved() error {
	var gone []fileRecord
	err := s.st.View(func(tx *bolt.Tx) error {
		// Only the removed files' records are decoded: at each start,
		// that halves the reading of the records (nearly all are not).
		return forEachRecordHolding(tx, removedJSON, func(path string, r record) error {
			if r.Removed && r.File != nil {
				gone = append(gone, *r.File)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("drive: read removed files: %w", err)
	}
	for _, f := range gone {
		if err := s.removeIfContent(f.Path, f.Size, f.SHA256); err != nil {
			return err
		}
	}
	return nil
}

// removeIfContent deletes the file at path if it holds the content of
// that size and hash, no upload has taken the path again and sync has not
// brought that content again since, then its thumbnail if no listed file
// shares it. Any other content stays: it may be a newer file that sync
// brought before its metadata.
func (s *Service) removeIfContent(path string, size int64, sum string) error {
	_, err := s.deleteContent(path, size, sum, false)
	return err
}

// deleteContent deletes the file at path if it holds the content of that
// size and hash and nothing lists that content there: neither the
// journal's live file, nor an upload under way, nor (unless arrived is
// set) a file sync placed. With arrived set, it deletes the file sync
// placed (Remove). It reports whether it deleted the file, and tells the
// OnChange callbacks.
func (s *Service) deleteContent(path string, size int64, sum string, arrived bool) (bool, error) {
	fp := filepath.FromSlash(path)
	fi, err := s.root.Lstat(fp)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("drive: remove %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	got, err := s.hashFile(path)
	if err != nil {
		return false, err
	}
	if got != sum {
		return false, nil
	}
	deleted, err := s.deleteChecked(path, fi, sum, arrived)
	if !deleted || err != nil {
		return false, err
	}
	s.removeThumbnail(sum)
	s.changed(path)
	return true, nil
}

// deleteChecked is deleteContent's deletion, once the content is known:
// under the locks that keep uploads and the derived state from changing
// in between.
func (s *Service) deleteChecked(path string, hashed fs.FileInfo, sum string, arrived bool) (bool, error) {
	// A removed file's name is free: an upload may have reserved it, or
	// already added the same content under it, while the hash was read.
	s.nameMu.Lock()
	defer s.nameMu.Unlock()
	if s.names[foldKey(path)] {
		return false, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	fp := filepath.FromSlash(path)
	// Sync may have put another file in its place while it was read.
	if fi, err := s.root.Lstat(fp); err != nil || !sameFile(fi, hashed) {
		return false, nil
	}
	var r record
	if err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		r, _, err = getRecord(tx, path)
		return err
	}); err != nil {
		return false, err
	}
	placed := r.Disk != nil && r.Disk.SHA256 == sum
	if arrived && (!placed || r.describes(sum)) || !arrived && (r.live() || placed) {
		return false, nil
	}
	if err := s.root.Remove(fp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("drive: remove %s: %w", path, err)
	}
	if err := durable.SyncDir(filepath.Dir(filepath.Join(s.dir, fp))); err != nil {
		s.logger.Warn("syncing the drive folder", "path", path, "error", err)
	}
	if r.Disk != nil {
		// Whatever sync had placed there is gone.
		if err := s.dropDiskLocked(path); err != nil {
			return true, err
		}
	}
	return true, nil
}

// sameFile reports whether two looks at a path saw the same, unchanged
// file.
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode().IsRegular() && b.Mode().IsRegular()
}

// hashBuffers are the buffers files are read through to be hashed: sync
// may hand the drive thousands of small files at once, and a fresh buffer
// for each (what io.Copy does) kept the collector busy and the memory up.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// hashInto reads r to its end into h.
func hashInto(h io.Writer, r io.Reader) error {
	buf := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(buf)
	// Only the Reader: an *os.File's WriteTo would copy through a buffer
	// of its own.
	_, err := io.CopyBuffer(h, struct{ io.Reader }{r}, *buf)
	return err
}

func (s *Service) hashFile(path string) (string, error) {
	f, err := s.root.Open(filepath.FromSlash(path))
	if err != nil {
		return "", fmt.Errorf("drive: read %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if err := hashInto(h, f); err != nil {
		return "", fmt.Errorf("drive: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// catchUp applies the drive entries of other boxes that reached the
// journal after the derived state last read it: of the origins given, or
// of all when origins is nil. This box's own entries need no catching up:
// each reaches the derived state in the transaction that appends it.
func (s *Service) catchUp(origins map[journal.Origin]bool, also ...journal.Entry) error {
	s.writeMu.Lock()
	eff, err := s.catchUpLocked(origins, also)
	s.writeMu.Unlock()
	if err != nil {
		return err
	}
	s.deleteGone(eff)
	return nil
}

func (s *Service) catchUpLocked(origins map[journal.Origin]bool, also []journal.Entry) (effect, error) {
	heads, err := s.j.Heads()
	if err != nil {
		return effect{}, fmt.Errorf("drive: journal heads: %w", err)
	}
	var m meta
	err = s.st.View(func(tx *bolt.Tx) error {
		m, _ = readMeta(tx)
		return nil
	})
	if err != nil {
		return effect{}, fmt.Errorf("drive: read state: %w", err)
	}
	if m.Heads == nil {
		m.Heads = make(map[string]uint64)
	}
	entries := slices.Clone(also)
	read := make(map[string]uint64)
	for o, head := range heads {
		key := hex.EncodeToString(o[:])
		if o == s.j.Origin() || (origins != nil && !origins[o]) || head <= m.Heads[key] {
			continue
		}
		err := s.j.Since(o, m.Heads[key], func(e journal.Entry) error {
			if isDriveKind(e.Kind) {
				entries = append(entries, cloneEntry(e))
			}
			read[key] = e.Seq
			return nil
		})
		if err != nil {
			return effect{}, fmt.Errorf("drive: read journal of %v: %w", o, err)
		}
	}
	if len(entries) == 0 && len(read) == 0 {
		return effect{}, nil
	}
	return s.commit(entries, func(tx *bolt.Tx) error {
		m, _ := readMeta(tx)
		if m.Heads == nil {
			m.Heads = make(map[string]uint64)
		}
		for k, seq := range read {
			m.Heads[k] = max(m.Heads[k], seq)
		}
		return writeMeta(tx, m)
	})
}

// cloneEntry copies an entry out of the transaction whose memory holds it.
func cloneEntry(e journal.Entry) journal.Entry {
	e.Kind = journal.Kind(strings.Clone(string(e.Kind)))
	e.Target = strings.Clone(e.Target)
	e.Author = strings.Clone(e.Author)
	e.Payload = slices.Clone(e.Payload)
	return e
}

// commit applies entries to the derived state in one transaction (with
// also, if not nil), then updates the usage. The caller holds writeMu,
// and then passes the effect to deleteGone.
func (s *Service) commit(entries []journal.Entry, also func(tx *bolt.Tx) error) (effect, error) {
	var eff effect
	err := s.st.Update(func(tx *bolt.Tx) error {
		eff = effect{}
		if err := s.applyEntries(tx, entries, &eff); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return effect{}, fmt.Errorf("drive: apply entries: %w", err)
	}
	s.afterCommit(eff)
	return eff, nil
}

// applyEntries applies the drive entries among entries, skipping (with a
// log) those that are invalid.
func (s *Service) applyEntries(tx *bolt.Tx, entries []journal.Entry, eff *effect) error {
	for _, e := range entries {
		if !isDriveKind(e.Kind) || e.Erased {
			continue // an erased file entry's removal did the work
		}
		c, err := parseEntry(e)
		if err != nil {
			s.logger.Warn("skipping a drive entry", "origin", e.Origin.String(), "seq", e.Seq, "error", err)
			continue
		}
		if err := applyTx(tx, c, eff); err != nil {
			return err
		}
	}
	return nil
}

// afterCommit updates the usage after a committed change. The caller
// holds writeMu, so that changes count in the order they were committed.
func (s *Service) afterCommit(eff effect) {
	s.mu.Lock()
	s.used += eff.delta
	s.mu.Unlock()
}

// deleteGone deletes from disk the content of the files a committed
// change removed. It runs without writeMu: hashing a large file takes
// seconds on a Pi, and other changes need not wait.
func (s *Service) deleteGone(eff effect) {
	for _, f := range eff.gone {
		if err := s.removeIfContent(f.Path, f.Size, f.SHA256); err != nil {
			// The next start tries again (sweepRemoved).
			s.logger.Error("deleting a removed file", "path", f.Path, "error", err)
		}
	}
}

// Apply applies entries that reached the journal from other boxes (after
// journal.Ingest) to the derived state, and deletes from disk the files
// they remove. Entries of other kinds are ignored; invalid ones are
// logged and skipped. Applying is idempotent and commutative: the same
// entries in any order, any number of times, give the same state.
//
// Apply also reads, from the journal, whatever of those boxes it had not
// read yet, so that the derived state never lags behind the journal.
func (s *Service) Apply(entries ...journal.Entry) error {
	origins := make(map[journal.Origin]bool)
	for _, e := range entries {
		if e.Origin != s.j.Origin() {
			origins[e.Origin] = true
		}
	}
	return s.catchUp(origins, entries...)
}

// Rebuild derives the drive's metadata again from the journal, and the
// listing of the files sync placed without details from the drive folder
// (what it knew of them is kept, so that unchanged files are not read
// again). It changes nothing on disk.
func (s *Service) Rebuild() error {
	if err := s.rebuild(); err != nil {
		return err
	}
	return s.scanFolder()
}

// rebuild is Rebuild without the scan of the folder.
func (s *Service) rebuild() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	heads, err := s.j.Heads()
	if err != nil {
		return fmt.Errorf("drive: rebuild: %w", err)
	}
	var entries []journal.Entry
	m := meta{Heads: make(map[string]uint64)}
	for o, head := range heads {
		err := s.j.Since(o, 0, func(e journal.Entry) error {
			if isDriveKind(e.Kind) {
				entries = append(entries, cloneEntry(e))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("drive: rebuild: read journal of %v: %w", o, err)
		}
		if o != s.j.Origin() {
			m.Heads[hex.EncodeToString(o[:])] = head
		}
	}
	var used int64
	err = s.st.Update(func(tx *bolt.Tx) error {
		// What the folder showed is not the journal's: keep it.
		disk := make(map[string]*diskRecord)
		forEachRecord(tx, func(path string, r record) error {
			if r.Disk != nil {
				disk[path] = r.Disk
			}
			return nil
		})
		b := tx.Bucket(store.BucketDrive)
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.First() {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		var eff effect
		if err := s.applyEntries(tx, entries, &eff); err != nil {
			return err
		}
		for path, d := range disk {
			if err := updateRecord(tx, path, &eff, func(r *record) bool {
				if r.describes(d.SHA256) {
					return false
				}
				r.Disk = d
				return true
			}); err != nil {
				return err
			}
		}
		used = eff.delta
		return writeMeta(tx, m)
	})
	if err != nil {
		return fmt.Errorf("drive: rebuild: %w", err)
	}
	s.mu.Lock()
	s.used = used
	s.mu.Unlock()
	return nil
}

// File describes a file of the drive.
type File struct {
	Path        string // Folder and Name joined by "/"
	Folder      string // "" at the top of the drive
	Name        string
	Size        int64
	SHA256      string // lower-case hex
	ContentType string
	Licence     string
	Description string
	Nickname    string // the uploader's nickname, as shown
	Author      string // the uploader's pseudonymous visitor ID
	Time        time.Time
	Hidden      bool // hidden by staff: shown to staff only
	Origin      journal.Origin
	// Arrived is set for a file that sync placed in the drive folder
	// without its details (from a stock Syncthing, or before its journal
	// entry): it has no author, nickname, licence nor description, its
	// Time is the file's modification time and its Origin is zero.
	Arrived bool
}

// LogValue logs a file by its path and size.
func (f File) LogValue() slog.Value {
	return slog.GroupValue(slog.String("path", f.Path), slog.Int64("size", f.Size))
}

// file is what the listing shows at path.
func (r *record) file(path string) File {
	folder, name := splitPath(path)
	if d := r.Disk; d != nil {
		return File{Path: path, Folder: folder, Name: name, Size: d.Size, SHA256: d.SHA256, ContentType: d.ContentType,
			Time: time.Unix(0, d.ModTime), Hidden: r.live() && r.hidden(), Arrived: true}
	}
	var o journal.Origin
	hex.Decode(o[:], []byte(r.File.At.Origin))
	return File{Path: r.File.Path, Folder: folder, Name: name, Size: r.File.Size, SHA256: r.File.SHA256,
		ContentType: r.File.ContentType, Licence: r.File.Licence, Description: r.File.Description,
		Nickname: r.File.Nickname, Author: r.File.Author, Time: r.File.At.Time.Wall(), Hidden: r.hidden(), Origin: o}
}

// ListOptions choose what ListAll and ListIn return.
type ListOptions struct {
	// Hidden includes the files staff hid (the staff view).
	Hidden bool
}

// List returns the files shown in folder ("" for the top), newest first.
func (s *Service) List(folder string) ([]File, error) { return s.ListIn(folder, ListOptions{}) }

// ListIn returns the files in folder, newest first.
func (s *Service) ListIn(folder string, o ListOptions) ([]File, error) {
	return s.list(func(f *File) bool { return f.Folder == folder }, o)
}

// ListAll returns the files of every folder, newest first.
func (s *Service) ListAll(o ListOptions) ([]File, error) {
	return s.list(func(*File) bool { return true }, o)
}

func (s *Service) list(keep func(*File) bool, o ListOptions) ([]File, error) {
	type item struct {
		at stamp
		f  File
	}
	var items []item
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachRecord(tx, func(path string, r record) error {
			if !r.listed() {
				return nil
			}
			f := r.file(path)
			if (f.Hidden && !o.Hidden) || !keep(&f) {
				return nil
			}
			at := stamp{Time: journal.Time(max(f.Time.UnixMilli(), 0)) << 16}
			if !f.Arrived {
				at = r.File.At
			}
			items = append(items, item{at, f})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("drive: list: %w", err)
	}
	// By the entries' order, finer than their times in milliseconds.
	slices.SortFunc(items, func(a, b item) int {
		switch {
		case a.at.after(b.at):
			return -1
		case b.at.after(a.at):
			return 1
		}
		return strings.Compare(a.f.Path, b.f.Path)
	})
	out := make([]File, len(items))
	for i, it := range items {
		out[i] = it.f
	}
	return out, nil
}

// Folders returns the folders that hold shown files, and the folders
// above them, in order ("" is not among them).
func (s *Service) Folders() ([]string, error) {
	seen := make(map[string]bool)
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachRecord(tx, func(path string, r record) error {
			if !r.listed() || r.file(path).Hidden {
				return nil
			}
			for folder, _ := splitPath(path); folder != ""; folder, _ = splitPath(folder) {
				seen[folder] = true
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("drive: folders: %w", err)
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	slices.Sort(out)
	return out, nil
}

// Stat returns the file at path, hidden or not (File.Hidden says), or
// ErrNotFound.
func (s *Service) Stat(path string) (File, error) {
	var r record
	var found bool
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		r, found, err = getRecord(tx, path)
		return err
	})
	if err != nil {
		return File{}, err
	}
	if !found || !r.listed() {
		return File{}, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	return r.file(path), nil
}

// Open opens the file at path for reading (for http.ServeContent, which
// answers range requests from it), hidden or not: the caller decides who
// may see a hidden file. The caller closes it. It returns
// ErrNotFound for a path the drive does not list and ErrMissing when the
// content on disk is not (yet) the listed file's.
func (s *Service) Open(path string) (*os.File, File, error) {
	f, err := s.Stat(path)
	if err != nil {
		return nil, File{}, err
	}
	// Through the root: a symbolic link in the drive folder (sync could
	// bring one) cannot lead outside it.
	fh, err := s.root.Open(filepath.FromSlash(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, File{}, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	if err != nil {
		return nil, File{}, fmt.Errorf("drive: open %s: %w", path, err)
	}
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size {
		fh.Close()
		return nil, File{}, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	return fh, f, nil
}

// Usage returns the bytes the listed files take (hidden ones included).
func (s *Service) Usage() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, nil
}
