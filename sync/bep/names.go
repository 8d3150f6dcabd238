package bep

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/syncthing/syncthing/lib/protocol"
)

// Folder IDs, the same at every box and at any stock Syncthing that keeps
// a copy.
const (
	FolderJournal = "tiersbox-journal"
	FolderDrive   = "tiersbox-drive"
)

// Limits on what a peer may announce. A drive file may be as large as a
// disk; a journal segment is small (SegmentSize plus one entry).
const (
	maxNameBytes      = 1024
	maxComponentBytes = 255
	maxFileSize       = 1 << 40
	maxSegmentFile    = 64 << 20
)

var (
	segmentRE   = regexp.MustCompile(`^[0-9a-f]{64}/[0-9]{16}\.tj$`)
	originDirRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// errBadFile says why an announced file is refused.
var errBadFile = errors.New("refused file")

// checkName refuses a name that could escape the folder or that no
// filesystem the box runs on can hold: empty, absolute, with "." or ".."
// components, backslashes, control characters, or too long.
func checkName(name string) error {
	switch {
	case name == "" || len(name) > maxNameBytes:
		return fmt.Errorf("%w: name of %d bytes (%.40q)", errBadFile, len(name), name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not UTF-8", errBadFile)
	case strings.HasPrefix(name, "/") || strings.Contains(name, `\`):
		return fmt.Errorf("%w: %q is not a relative slash-separated path", errBadFile, name)
	case path.Clean(name) != name:
		return fmt.Errorf("%w: %q is not a clean path", errBadFile, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "." || part == ".." || part == "" || len(part) > maxComponentBytes {
			return fmt.Errorf("%w: component %q in %q", errBadFile, part, name)
		}
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character in %q", errBadFile, name)
		}
	}
	return nil
}

// ignored reports names that belong to Syncthing's or the box's machinery
// rather than to the drive: anything under a dot-name (.stfolder,
// .stversions, .syncthing.x.tmp, the drive's own temporary files). The
// drive never gives a visitor's file a name that starts with a dot.
func ignored(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasPrefix(part, "~syncthing~") {
			return true
		}
	}
	return false
}

// checkFile refuses an announced file that the box cannot take in folder:
// a bad name, an absurd size, blocks that do not tile the file, or, in the
// journal folder, anything but segment files and origin folders.
func checkFile(folder string, f protocol.FileInfo) error {
	if err := checkName(f.Name); err != nil {
		return err
	}
	if f.IsSymlink() {
		return fmt.Errorf("%w: %q is a symbolic link", errBadFile, f.Name)
	}
	if folder == FolderDrive && ignored(f.Name) {
		// Dot-names are Syncthing's and the box's own machinery
		// (temporary files above all); a peer has no business there.
		return fmt.Errorf("%w: %q is a dot-name", errBadFile, f.Name)
	}
	limit := int64(maxFileSize)
	if folder == FolderJournal {
		limit = maxSegmentFile
		ok := segmentRE.MatchString(f.Name) && f.Type == protocol.FileInfoTypeFile ||
			originDirRE.MatchString(f.Name) && f.IsDirectory()
		if !ok {
			return fmt.Errorf("%w: %q is not a journal segment", errBadFile, f.Name)
		}
	}
	if f.IsDeleted() || f.IsDirectory() || f.IsInvalid() {
		return nil
	}
	if f.Size < 0 || f.Size > limit {
		return fmt.Errorf("%w: %q has size %d", errBadFile, f.Name, f.Size)
	}
	bs := int64(f.RawBlockSize)
	if bs < protocol.MinBlockSize || bs > protocol.MaxBlockSize {
		return fmt.Errorf("%w: %q has block size %d", errBadFile, f.Name, bs)
	}
	want := (f.Size + bs - 1) / bs
	if want == 0 {
		want = 1
	}
	if int64(len(f.Blocks)) != want {
		return fmt.Errorf("%w: %q has %d blocks for %d bytes", errBadFile, f.Name, len(f.Blocks), f.Size)
	}
	var off int64
	for i, b := range f.Blocks {
		size := min(bs, f.Size-off)
		if b.Offset != off || int64(b.Size) != size && f.Size > 0 || len(b.Hash) != 32 {
			return fmt.Errorf("%w: %q block %d does not tile the file", errBadFile, f.Name, i)
		}
		off += size
	}
	return nil
}
