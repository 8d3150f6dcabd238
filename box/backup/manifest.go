// Package backup writes the box's data to one archive and restores it on
// another box (or the same one, rebuilt).
//
// # The archive
//
// A tar file (gzip-compressed or not: readers accept both) with, in order:
//
//	identity/cert.pem, identity/key.pem   the source box's identity
//	tiersbox.db                           the database, as of one read transaction
//	drive/PATH ...                        the drive's files, as that same snapshot lists them
//	manifest.json                         what the archive holds (Manifest)
//
// The manifest comes last because only once a file is copied is it known
// to be in the archive: a file the drive removed between the snapshot and
// its copy is left out of both. Every entry is a regular file; the
// manifest lists every other entry in order with its size and SHA-256,
// and a reader refuses an archive whose entries and manifest differ in
// anything. The archive holds the box's private key: it is as secret as
// the staff password.
//
// # Restoring
//
// Stage reads an archive whole into a folder beside the data (checking
// every name, size and SHA-256 as it goes, and the manifest at the end),
// and only a complete, verified archive becomes DATA/restore-pending;
// anything else is deleted and the data folder is left as it was.
// ApplyPending then puts a staged restore in place, either at once
// (`tiersbox restore` on a stopped box) or when the daemon next starts
// (a restore uploaded on the staff page), before anything opens the
// database.
//
// Who may import it: cmd and portal. It imports box packages, never
// portal or sync; what restoring means to sync's own buckets is given by
// the caller (ApplyOptions.Adjust).
package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// FormatVersion is the archive format this program writes and reads.
const FormatVersion = 1

// Names of the entries in an archive.
const (
	NameCert     = "identity/cert.pem"
	NameKey      = "identity/key.pem"
	NameDatabase = "tiersbox.db"
	NameManifest = "manifest.json"
	// DrivePrefix prefixes a drive file's path.
	DrivePrefix = "drive/"
)

// Limits on entries that are read into memory.
const (
	maxManifest = 64 << 20 // a drive of several hundred thousand files
	maxPEM      = 64 << 10
	maxName     = 4096
)

// ErrArchive wraps every reason an archive is refused.
var ErrArchive = errors.New("backup: the archive is not a complete tiersbox backup")

// Manifest describes an archive.
type Manifest struct {
	Format     int       `json:"format"`
	BoxVersion string    `json:"box_version"`
	DeviceID   string    `json:"device_id"` // of the box the backup was made on
	Created    time.Time `json:"created"`
	Files      []File    `json:"files"` // every entry but the manifest, in archive order
}

// File is one entry of the archive.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lower-case hex
}

// DriveFiles counts the drive's files in the archive and their bytes.
func (m *Manifest) DriveFiles() (n int, bytes int64) {
	for _, f := range m.Files {
		if strings.HasPrefix(f.Name, DrivePrefix) {
			n++
			bytes += f.Size
		}
	}
	return n, bytes
}

func archiveErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrArchive, fmt.Sprintf(format, args...))
}

// ReadManifest decodes and checks a manifest: a known format, a device ID,
// and entries with valid names, sizes and hashes, each named once, the
// database among them.
func ReadManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifest {
		return nil, archiveErr("the manifest is %d bytes long", len(b))
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, archiveErr("the manifest does not decode: %v", err)
	}
	if dec.More() {
		return nil, archiveErr("the manifest has data after its end")
	}
	if m.Format != FormatVersion {
		return nil, archiveErr("format %d, this tiersbox reads format %d (a newer tiersbox made it?)", m.Format, FormatVersion)
	}
	id, err := protocol.DeviceIDFromString(m.DeviceID)
	if err == nil && id == protocol.EmptyDeviceID {
		err = errors.New("empty")
	}
	if err != nil {
		return nil, archiveErr("the manifest's device ID: %v", err)
	}
	m.DeviceID = id.String()
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if err := checkName(f.Name); err != nil {
			return nil, err
		}
		if f.Name == NameManifest {
			return nil, archiveErr("the manifest lists itself")
		}
		if seen[f.Name] {
			return nil, archiveErr("%q is listed twice", f.Name)
		}
		seen[f.Name] = true
		if f.Size < 0 {
			return nil, archiveErr("%q has a negative size", f.Name)
		}
		if !validSHA256(f.SHA256) {
			return nil, archiveErr("%q has no valid SHA-256", f.Name)
		}
	}
	if !seen[NameDatabase] {
		return nil, archiveErr("the manifest lists no database")
	}
	return &m, nil
}

// checkName accepts the names an archive may hold: the fixed ones, and
// drive files under a clean relative path (no "..", no leading "/", no
// empty or "." element, no backslash or control character).
func checkName(name string) error {
	switch name {
	case NameCert, NameKey, NameDatabase, NameManifest:
		return nil
	}
	p, ok := strings.CutPrefix(name, DrivePrefix)
	if !ok || len(name) > maxName || p == "" || !fs.ValidPath(p) || p == "." ||
		strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == '\\' || r == 0x7f }) {
		return archiveErr("unexpected entry name %q", name)
	}
	return nil
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
