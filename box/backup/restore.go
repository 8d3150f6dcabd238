package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/identity"
	"tiersbox/box/pad"
	"tiersbox/box/staff"
	"tiersbox/box/store"
	"tiersbox/internal/durable"
)

// Folders and files of a restore inside the data folder.
const (
	// PendingDir holds a verified archive, extracted, until ApplyPending
	// puts it in place.
	PendingDir = "restore-pending"
	// stagingDir receives an archive as it is read; it becomes
	// PendingDir only once verified.
	stagingDir = "restore-staging"
	// optionsFile, in PendingDir, says how to apply it.
	optionsFile = "restore.json"
	// preparedFile, in PendingDir, says that the database was adjusted
	// and the folders readied: from then on only renames remain, each
	// done at most once, so an interrupted ApplyPending can run again.
	preparedFile = "prepared"
	// asidePrefix names the folder where what a restore replaced is
	// kept, with the date: nothing of the old box is deleted.
	asidePrefix = "before-restore-"
)

// ErrNotFresh is returned when a restore would mix two boxes' data.
var ErrNotFresh = errors.New("backup: the data folder already holds a box")

// ErrBadDatabase is returned when the archive's database does not open.
var ErrBadDatabase = errors.New("backup: the archive's database cannot be used")

type pendingOptions struct {
	TakeIdentity bool `json:"take_identity"`
}

// CheckFresh returns nil when dataDir holds no box content, only perhaps
// an identity and an empty drive folder: no database, no drive file and
// no restore waiting.
func CheckFresh(dataDir string) error {
	if _, err := os.Lstat(filepath.Join(dataDir, store.FileName)); err == nil {
		return fmt.Errorf("%w: %s exists; restore into a new data folder", ErrNotFresh, filepath.Join(dataDir, store.FileName))
	}
	if entries, err := os.ReadDir(DriveDir(dataDir)); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: its drive folder %s is not empty", ErrNotFresh, DriveDir(dataDir))
	}
	if Pending(dataDir) {
		return fmt.Errorf("%w: a restore is already waiting in %s", ErrNotFresh, filepath.Join(dataDir, PendingDir))
	}
	return nil
}

// Pending reports whether a verified restore waits in dataDir.
func Pending(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, PendingDir, optionsFile))
	return err == nil
}

// Stage reads an archive whole and, once every check passed, leaves it in
// DATA/restore-pending (replacing a restore that waited there), for
// ApplyPending. takeIdentity says whether the box is to become the
// archive's device. On any error nothing of the archive is left and the
// data folder is as it was.
func Stage(dataDir string, r io.Reader, takeIdentity bool) (m *Manifest, err error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	staging := filepath.Join(dataDir, stagingDir)
	if err := os.RemoveAll(staging); err != nil { // left by an interrupted upload
		return nil, fmt.Errorf("backup: %w", err)
	}
	m, err = Extract(r, staging, diskFree(dataDir))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(staging)
		}
	}()
	if err := checkDatabase(staging); err != nil {
		return nil, err
	}
	opts, _ := json.Marshal(pendingOptions{TakeIdentity: takeIdentity})
	if err := writeSynced(filepath.Join(staging, optionsFile), opts); err != nil {
		return nil, err
	}
	pending := filepath.Join(dataDir, PendingDir)
	if err := os.RemoveAll(pending); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(staging, pending); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// checkDatabase opens the extracted database, which brings its schema up
// to this program's (an archive made by a newer tiersbox is refused).
// bbolt trusts its file, so a damaged one may panic: that is an error
// here, not a crash of the box.
func checkDatabase(dir string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrBadDatabase, p)
		}
	}()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadDatabase, err)
	}
	return st.Close()
}

// ApplyOptions configure ApplyPending.
type ApplyOptions struct {
	// Adjust, when not nil, runs on the restored database in one write
	// transaction before it is put in place, with whether the box takes
	// the archive's identity: cmd gives there what sync keeps of the
	// old box's links and index (see cmd/tiersbox).
	Adjust func(tx *bolt.Tx, takeIdentity bool) error
	Logger *slog.Logger
	// Now dates the folder of what the restore replaced; nil means
	// time.Now.
	Now func() time.Time
}

// Applied says what ApplyPending did.
type Applied struct {
	TakeIdentity bool
	// Aside is the folder where what was replaced is kept, "" when
	// nothing was.
	Aside string
}

// ApplyPending puts a restore that waits in dataDir in place: the
// database, the drive folder and, when asked, the identity. What they
// replace is moved to DATA/before-restore-DATE, never deleted. It must
// run before anything opens the database. ok is false when no restore
// waited.
//
// Journal and identity: entries are stored under the origin (the device
// ID) of the box that wrote them, so the archive's database holds the old
// box's own entries under the old device ID. A box that keeps its own
// identity simply holds them as the copy of another box's journal, as it
// holds any linked box's, and starts its own journal under its own device
// ID: pads, chat and drive derive their state from all origins alike, and
// the old box's entries, which this box never appends to, are never
// refused as its own by Ingest. A box that takes the archive's identity
// goes on with the old journal itself: it must replace a box that is gone
// for good, since two boxes appending under one origin would write
// different entries with the same numbers.
func ApplyPending(dataDir string, opts ApplyOptions) (applied *Applied, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	os.RemoveAll(filepath.Join(dataDir, stagingDir)) // an upload cut short
	pending := filepath.Join(dataDir, PendingDir)
	raw, err := os.ReadFile(filepath.Join(pending, optionsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: the restore waiting in %s: %w", pending, err)
	}
	var po pendingOptions
	if err := json.Unmarshal(raw, &po); err != nil {
		return nil, fmt.Errorf("backup: the restore waiting in %s is damaged (delete the folder to start without it): %w", pending, err)
	}
	if _, err := os.Stat(filepath.Join(pending, preparedFile)); errors.Is(err, fs.ErrNotExist) {
		if err := prepare(pending, po, opts.Adjust); err != nil {
			return nil, err
		}
	}

	applied = &Applied{TakeIdentity: po.TakeIdentity}
	aside := filepath.Join(dataDir, asidePrefix+now().UTC().Format("20060102-150405"))
	type move struct{ from, to string } // from "": to is only set aside
	var moves []move
	if po.TakeIdentity {
		// The key first, as identity.Create writes them.
		moves = append(moves, move{NameKey, identity.KeyFile}, move{NameCert, identity.CertFile})
	}
	// The pads' write-ahead log goes aside with the database it belongs
	// to, and no restored one replaces it (a backup journals it first).
	// The database last: until it is in place, the restore is not done.
	moves = append(moves, move{"drive", "drive"}, move{"drive-thumbs", "drive-thumbs"}, move{"", pad.WALFolder}, move{NameDatabase, store.FileName})
	for _, mv := range moves {
		from, to := filepath.Join(pending, filepath.FromSlash(mv.from)), filepath.Join(dataDir, mv.to)
		if mv.from != "" {
			if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
				continue // moved by an earlier, interrupted run
			}
		}
		if fi, err := os.Lstat(to); err == nil && fi.IsDir() && os.Remove(to) == nil {
			// An empty folder (a new box's drive): nothing to keep.
		} else if err == nil {
			if applied.Aside == "" {
				if aside, err = newFolder(aside); err != nil {
					return nil, err
				}
			}
			if err := os.Rename(to, filepath.Join(aside, mv.to)); err != nil {
				return nil, fmt.Errorf("backup: move %s aside: %w", to, err)
			}
			applied.Aside = aside
		}
		if mv.from == "" {
			continue // set aside, and nothing takes its place
		}
		if err := os.Rename(from, to); err != nil {
			return nil, fmt.Errorf("backup: put %s in place: %w", to, err)
		}
	}
	if err := durable.SyncDir(dataDir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := os.RemoveAll(pending); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if applied.Aside != "" {
		logger.Info("restore applied; what it replaced is kept aside", "aside", applied.Aside, "take_identity", po.TakeIdentity)
	} else {
		logger.Info("restore applied", "take_identity", po.TakeIdentity)
	}
	return applied, nil
}

// prepare adjusts the pending database (Adjust, and every staff session
// ended) and readies the folders that
// replace the box's: an empty drive folder when the archive held no file
// (the old drive is replaced all the same), and an empty thumbnail folder
// (the old box's thumbnails are of other files).
func prepare(pending string, po pendingOptions, adjust func(*bolt.Tx, bool) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrBadDatabase, p)
		}
	}()
	st, err := store.Open(pending, store.Options{})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadDatabase, err)
	}
	if adjust != nil {
		err = st.Update(func(tx *bolt.Tx) error { return adjust(tx, po.TakeIdentity) })
	}
	// The old box's staff sessions end: a session left open on a
	// computer, or a cookie taken from the old box, must not open the
	// new one. Staff log in again, with the password of the backup.
	if err == nil {
		err = staff.EndAll(st)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: adjust the restored database: %w", err)
	}
	for _, d := range []string{"drive", "drive-thumbs"} {
		if err := os.MkdirAll(filepath.Join(pending, d), 0o750); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := durable.SyncDir(pending); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := writeSynced(filepath.Join(pending, preparedFile), nil); err != nil {
		return err
	}
	return durable.SyncDir(pending)
}

// newFolder makes a new folder named base, or base-2, base-3... when
// taken: two restores in one second must not mix what they replaced.
func newFolder(base string) (string, error) {
	for i := 1; ; i++ {
		dir := base
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", base, i)
		}
		err := os.Mkdir(dir, 0o750)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) || i > 1000 {
			return "", fmt.Errorf("backup: %w", err)
		}
	}
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
