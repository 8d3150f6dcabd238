package backup

import (
	"archive/tar"
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
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/drive"
	"tiersbox/box/identity"
	"tiersbox/box/store"
)

// Source is the box a backup is made of.
type Source struct {
	// Store is the box's open database. Required.
	Store *store.Store
	// DataDir is the data folder: the identity's files and the drive
	// folder (DataDir/drive) are read there, and the database's copy is
	// written there for a moment unless TmpDir says otherwise. Required.
	DataDir string
	// TmpDir is where the database's copy is written for a moment; ""
	// means DataDir.
	TmpDir string
	// Version is the program's version, written in the manifest.
	Version string
	Logger  *slog.Logger
	// Now returns the time written in the manifest; nil means time.Now.
	Now func() time.Time
}

// DriveDir is the drive folder inside a data folder.
func DriveDir(dataDir string) string { return filepath.Join(dataDir, "drive") }

// Write writes an archive of the box to w and returns its manifest.
//
// The database is copied from one read transaction, and the drive files
// are those the drive's state in that transaction lists. The copy goes to
// a temporary file first and the transaction ends before anything is
// sent: a slow download must not hold a read transaction open, since
// bbolt cannot grow its file while one is. Drive files are never changed
// in place (an upload and sync both write a new file and rename it), so a
// file opened later holds either the snapshot's content or a whole newer
// one; one the drive removed meanwhile is left out, with a log line. The
// drive is streamed file by file, never held in memory.
//
// An error after the first bytes leaves w with a partial archive, which
// has no manifest and which every reader refuses.
func Write(w io.Writer, src Source) (*Manifest, error) {
	logger := src.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	id, err := identity.Load(src.DataDir)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(src.DataDir, identity.CertFile))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(src.DataDir, identity.KeyFile))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}

	// The snapshot: the database to a temporary file, and the drive's list.
	tmpDir := src.TmpDir
	if tmpDir == "" {
		tmpDir = src.DataDir
	}
	dbCopy, err := os.CreateTemp(tmpDir, "backup-*.db.tmp")
	if err != nil {
		return nil, fmt.Errorf("backup: copy the database: %w", err)
	}
	defer func() {
		dbCopy.Close()
		os.Remove(dbCopy.Name())
	}()
	var files []drive.ContentFile
	err = src.Store.View(func(tx *bolt.Tx) error {
		if _, err := tx.WriteTo(dbCopy); err != nil {
			return err
		}
		files, err = drive.ContentFiles(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backup: copy the database: %w", err)
	}
	created := now().UTC()

	aw := &archiveWriter{tw: tar.NewWriter(w)}
	aw.m = Manifest{Format: FormatVersion, BoxVersion: src.Version, DeviceID: id.DeviceID.String(), Created: created}
	if err := aw.addBytes(NameCert, certPEM, 0o644, created); err != nil {
		return nil, err
	}
	if err := aw.addBytes(NameKey, keyPEM, 0o600, created); err != nil {
		return nil, err
	}
	if _, err := dbCopy.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("backup: copy the database: %w", err)
	}
	if err := aw.addFile(NameDatabase, dbCopy, 0o600); err != nil {
		return nil, err
	}
	dbCopy.Close()
	os.Remove(dbCopy.Name())

	root, err := os.OpenRoot(DriveDir(src.DataDir))
	if err != nil && len(files) > 0 {
		return nil, fmt.Errorf("backup: open the drive folder: %w", err)
	}
	if root != nil {
		defer root.Close()
	}
	for _, cf := range files {
		if err := checkName(DrivePrefix + cf.Path); err != nil {
			logger.Warn("backup: a drive path the archive cannot hold was left out", "path", cf.Path)
			continue
		}
		f, err := root.Open(filepath.FromSlash(cf.Path))
		if errors.Is(err, fs.ErrNotExist) {
			logger.Info("backup: a drive file removed since the snapshot was left out", "path", cf.Path)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("backup: drive file %s: %w", cf.Path, err)
		}
		sum, err := aw.addFileSum(DrivePrefix+cf.Path, f, 0o644)
		f.Close()
		if errors.Is(err, errNotRegular) {
			logger.Warn("backup: a drive path that is not a regular file was left out", "path", cf.Path)
			continue
		}
		if err != nil {
			return nil, err
		}
		if sum != cf.SHA256 {
			// Sync replaced it after the snapshot: the archive holds the
			// newer content, as the box held it a moment later, and
			// the restored box sees a file that changed (as it would
			// after a stop at that moment).
			logger.Info("backup: a drive file replaced since the snapshot was copied as it is now", "path", cf.Path)
		}
	}

	mj, err := json.MarshalIndent(aw.m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("backup: manifest: %w", err)
	}
	manifest := aw.m
	if err := aw.write(NameManifest, int64(len(mj)), 0o644, created, func(w io.Writer) error {
		_, err := w.Write(mj)
		return err
	}); err != nil {
		return nil, err
	}
	if err := aw.tw.Close(); err != nil {
		return nil, fmt.Errorf("backup: write: %w", err)
	}
	return &manifest, nil
}

var errNotRegular = errors.New("backup: not a regular file")

// archiveWriter adds entries to the tar and to the manifest.
type archiveWriter struct {
	tw *tar.Writer
	m  Manifest
}

// write adds one entry of size bytes that body writes. PAX headers keep
// the modification time to the nanosecond: the drive and sync recognise
// an unchanged file by its size and time.
func (aw *archiveWriter) write(name string, size int64, mode int64, mtime time.Time, body func(io.Writer) error) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: mtime, Format: tar.FormatPAX}
	if err := aw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("backup: write %s: %w", name, err)
	}
	if err := body(aw.tw); err != nil {
		return fmt.Errorf("backup: write %s: %w", name, err)
	}
	return nil
}

func (aw *archiveWriter) addBytes(name string, b []byte, mode int64, mtime time.Time) error {
	sum := sha256.Sum256(b)
	if err := aw.write(name, int64(len(b)), mode, mtime, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}); err != nil {
		return err
	}
	aw.m.Files = append(aw.m.Files, File{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
	return nil
}

func (aw *archiveWriter) addFile(name string, f *os.File, mode int64) error {
	_, err := aw.addFileSum(name, f, mode)
	return err
}

// addFileSum copies an open file, as long as it was when opened, and
// returns the SHA-256 of what it copied.
func (aw *archiveWriter) addFileSum(name string, f *os.File, mode int64) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("backup: %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return "", errNotRegular
	}
	h := sha256.New()
	err = aw.write(name, fi.Size(), mode, fi.ModTime(), func(w io.Writer) error {
		n, err := io.CopyN(io.MultiWriter(w, h), f, fi.Size())
		if err != nil {
			return fmt.Errorf("copied %d of %d bytes: %w", n, fi.Size(), err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	aw.m.Files = append(aw.m.Files, File{Name: name, Size: fi.Size(), SHA256: sum})
	return sum, nil
}
