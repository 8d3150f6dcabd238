package drive

import (
	bolt "go.etcd.io/bbolt"
)

// ContentFile is a file that the drive's state lists, with the content the
// state expects on disk under Path in the drive folder.
type ContentFile struct {
	Path   string // slash-separated, relative to the drive folder
	Size   int64
	SHA256 string // lower-case hex
}

// ContentFiles returns, as of the transaction tx, every file the drive
// lists (the journal's live files, hidden or not, and the files sync placed
// without details), in path order. A backup copies these and only these: a
// removed file's content may still be on disk for a moment, an upload
// under way is not listed yet, and both are rightly left out.
func ContentFiles(tx *bolt.Tx) ([]ContentFile, error) {
	var out []ContentFile
	err := forEachRecord(tx, func(path string, r record) error {
		switch {
		case r.Disk != nil:
			out = append(out, ContentFile{Path: path, Size: r.Disk.Size, SHA256: r.Disk.SHA256})
		case r.live():
			out = append(out, ContentFile{Path: path, Size: r.File.Size, SHA256: r.File.SHA256})
		}
		return nil
	})
	return out, err
}
