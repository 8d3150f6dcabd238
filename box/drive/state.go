package drive

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// Journal kinds of the drive's entries. Each entry's target is
// TargetPrefix followed by the file's path.
const (
	// KindFile records a file added, with a FilePayload.
	KindFile journal.Kind = "drive.file"
	// KindRemove records a file removed, with a PathPayload.
	KindRemove journal.Kind = "drive.remove"
	// KindHide and KindShow record staff hiding a file from the listing
	// without deleting it, and showing it again, with a PathPayload.
	KindHide journal.Kind = "drive.hide"
	KindShow journal.Kind = "drive.show"
)

// TargetPrefix prefixes a file's path in journal targets.
const TargetPrefix = "drive/"

// FilePayload is the JSON payload of a KindFile entry. The uploader's
// pseudonym is the entry's Author.
type FilePayload struct {
	Path        string `json:"path"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"` // lower-case hex
	ContentType string `json:"content_type"`
	Licence     string `json:"licence,omitempty"`
	Description string `json:"description,omitempty"`
	Nickname    string `json:"nickname,omitempty"`
}

// PathPayload is the JSON payload of KindRemove, KindHide and KindShow
// entries.
type PathPayload struct {
	Path string `json:"path"`
}

// Limits on what a file's details may hold, in bytes.
const (
	MaxLicence     = 100
	MaxDescription = 2000
	MaxNickname    = 128
)

// stamp is an entry's place in the one order all boxes agree on: HLC
// time, then origin, then sequence number. Two different entries never
// have equal stamps.
type stamp struct {
	Time   journal.Time `json:"t"`
	Origin string       `json:"o"` // hex of the whole origin: its order is the bytes' order
	Seq    uint64       `json:"s"`
}

func stampOf(e journal.Entry) stamp {
	return stamp{Time: e.Time, Origin: hex.EncodeToString(e.Origin[:]), Seq: e.Seq}
}

// after reports whether a comes after b. The zero stamp (Seq 0, which no
// entry has) comes before every other.
func (a stamp) after(b stamp) bool {
	switch {
	case a.Time != b.Time:
		return a.Time > b.Time
	case a.Origin != b.Origin:
		return a.Origin > b.Origin
	}
	return a.Seq > b.Seq
}

// record is the derived state of one path in store.BucketDrive. Each part
// is the greatest of a set of entries, so the record depends only on
// which entries were applied, never on their order, and applying an entry
// twice changes nothing:
//
//   - File is the greatest KindFile entry (kept after a removal, so that
//     the removed file's content can be recognised on disk);
//   - Op is the greatest KindFile or KindRemove entry, and Removed says
//     which kind it is;
//   - Vis is the greatest KindHide or KindShow entry, and Hidden says
//     which. A hide applies to the file it was issued for: a file added
//     later at the same path (after a removal) is shown.
//
// Disk is not from the journal but from the drive folder: a file that
// sync placed at the path and that the journal's file here does not
// describe, with what the box could see of it (see Arrived). While it is
// set, the listing shows it rather than the journal's file. A KindFile
// entry with its content that makes the path live, or the file leaving
// the disk, drops it; a removal does not, since content that arrives
// after a removal is a new arrival.
type record struct {
	File    *fileRecord `json:"file,omitempty"`
	Op      stamp       `json:"op"`
	Removed bool        `json:"removed,omitempty"`
	Vis     stamp       `json:"vis"`
	Hidden  bool        `json:"hidden,omitempty"`
	Disk    *diskRecord `json:"disk,omitempty"`
}

// diskRecord is a file that sync placed without its details.
type diskRecord struct {
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	ModTime     int64  `json:"mtime"` // Unix nanoseconds; the file's date in the listing
}

type fileRecord struct {
	FilePayload
	Author string `json:"author,omitempty"`
	At     stamp  `json:"at"`
}

// live reports a file the journal lists: one that staff or its author
// can remove, hide or show.
func (r *record) live() bool { return r.File != nil && !r.Removed }

// listed reports a path that is listed (to staff, at least) and counts in
// the drive's usage: from the journal, or from sync without details.
func (r *record) listed() bool { return r.live() || r.Disk != nil }

// describes reports whether the journal's live file at the path has the
// content sum.
func (r *record) describes(sum string) bool { return r.live() && r.File.SHA256 == sum }

func (r *record) hidden() bool { return r.Hidden && r.File != nil && r.Vis.after(r.File.At) }

// usage is the bytes of what the path lists.
func (r *record) usage() int64 {
	switch {
	case r.Disk != nil:
		return r.Disk.Size
	case r.live():
		return r.File.Size
	}
	return 0
}

// change is a drive entry, checked and decoded.
type change struct {
	kind journal.Kind
	path string
	at   stamp
	file *fileRecord // KindFile only
}

func isDriveKind(k journal.Kind) bool {
	return k == KindFile || k == KindRemove || k == KindHide || k == KindShow
}

// errEntry marks a drive entry that cannot be applied: it is skipped,
// since one bad entry from another box must not stop the drive.
var errEntry = errors.New("drive: invalid journal entry")

// parseEntry checks a drive entry, which may come from another box: its
// path must be one this package could have written, so that nothing in a
// journal can make the box touch a file outside the drive folder.
func parseEntry(e journal.Entry) (change, error) {
	path, ok := strings.CutPrefix(e.Target, TargetPrefix)
	if !ok || !validPath(path) {
		return change{}, fmt.Errorf("%w: target %q", errEntry, e.Target)
	}
	c := change{kind: e.Kind, path: path, at: stampOf(e)}
	if e.Kind != KindFile {
		var p PathPayload
		if err := json.Unmarshal(e.Payload, &p); err != nil || p.Path != path {
			return change{}, fmt.Errorf("%w: %s payload does not name %q", errEntry, e.Kind, path)
		}
		return c, nil
	}
	var p FilePayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return change{}, fmt.Errorf("%w: %s payload: %v", errEntry, e.Kind, err)
	}
	if err := checkFilePayload(p, path); err != nil {
		return change{}, err
	}
	c.file = &fileRecord{FilePayload: p, Author: e.Author, At: c.at}
	return c, nil
}

func checkFilePayload(p FilePayload, path string) error {
	switch {
	case p.Path != path:
		return fmt.Errorf("%w: payload path %q for target %q", errEntry, p.Path, path)
	case p.Size < 0:
		return fmt.Errorf("%w: size %d", errEntry, p.Size)
	case !validSHA256(p.SHA256):
		return fmt.Errorf("%w: sha256 %q", errEntry, p.SHA256)
	case p.ContentType == "" || len(p.ContentType) > 255:
		return fmt.Errorf("%w: content type %q", errEntry, p.ContentType)
	case len(p.Licence) > MaxLicence || len(p.Description) > MaxDescription || len(p.Nickname) > MaxNickname:
		return fmt.Errorf("%w: details too long", errEntry)
	case !utf8.ValidString(p.ContentType + p.Licence + p.Description + p.Nickname):
		return fmt.Errorf("%w: details not UTF-8", errEntry)
	}
	return nil
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// merge applies c to r and reports whether r changed.
func (r *record) merge(c change) bool {
	switch c.kind {
	case KindFile:
		changed := false
		if r.File == nil || c.at.after(r.File.At) {
			r.File = c.file
			changed = true
		}
		if c.at.after(r.Op) {
			r.Op, r.Removed = c.at, false
			changed = true
		}
		// The journal now describes what sync placed: its details take
		// over.
		if r.Disk != nil && r.describes(r.Disk.SHA256) {
			r.Disk = nil
			changed = true
		}
		return changed
	case KindRemove:
		if c.at.after(r.Op) {
			r.Op, r.Removed = c.at, true
			return true
		}
	case KindHide, KindShow:
		if c.at.after(r.Vis) {
			r.Vis, r.Hidden = c.at, c.kind == KindHide
			return true
		}
	}
	return false
}

// metaKey holds the drive's own bookkeeping in store.BucketDrive; no path
// can collide with it since names have no control characters.
var metaKey = []byte("\x00meta")

// metaVersion changes when the records' layout does; a database with
// another version is rebuilt from the journal.
const metaVersion = 1

// meta says how far the derived state has read other boxes' journals:
// their entries reach the journal (Ingest) and the drive (Apply) in two
// transactions, so at start-up the drive reads what came after.
type meta struct {
	Version int               `json:"v"`
	Heads   map[string]uint64 `json:"heads"` // hex origin → last sequence number read
}

func readMeta(tx *bolt.Tx) (meta, bool) {
	var m meta
	v := tx.Bucket(store.BucketDrive).Get(metaKey)
	if v == nil || json.Unmarshal(v, &m) != nil || m.Version != metaVersion {
		return meta{}, false
	}
	if m.Heads == nil {
		m.Heads = make(map[string]uint64)
	}
	return m, true
}

func writeMeta(tx *bolt.Tx, m meta) error {
	m.Version = metaVersion
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(store.BucketDrive).Put(metaKey, v)
}

func getRecord(tx *bolt.Tx, path string) (record, bool, error) {
	var r record
	v := tx.Bucket(store.BucketDrive).Get([]byte(path))
	if v == nil {
		return r, false, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("drive: record of %s: %w", path, err)
	}
	return r, true, nil
}

func putRecord(tx *bolt.Tx, path string, r record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b := tx.Bucket(store.BucketDrive)
	b.FillPercent = store.DenseFill
	return b.Put([]byte(path), v)
}

// forEachRecord calls f for every path's record, in path order.
func forEachRecord(tx *bolt.Tx, f func(path string, r record) error) error {
	return forEachRecordHolding(tx, nil, f)
}

// removedJSON is how a record's Removed field reads when it is set. No
// other part of a record can read so: a quote inside a JSON string is
// escaped.
var removedJSON = []byte(`"removed":true`)

// forEachRecordHolding is forEachRecord over the records whose JSON holds
// text (every record when text is nil); the others are not decoded.
func forEachRecordHolding(tx *bolt.Tx, text []byte, f func(path string, r record) error) error {
	return tx.Bucket(store.BucketDrive).ForEach(func(k, v []byte) error {
		if len(k) > 0 && k[0] == 0 || text != nil && !bytes.Contains(v, text) {
			return nil
		}
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("drive: record of %s: %w", k, err)
		}
		return f(string(k), r)
	})
}

// effect is what applying entries asks of the disk once committed: files
// whose removal won, to delete if the disk still holds their content.
type effect struct {
	delta int64 // change in the bytes the drive uses
	gone  []fileRecord
}

// applyOwn applies an entry this box is appending, in the transaction
// that appends it. Unlike another box's, an invalid one is an error, so
// that the journal never holds an entry of this box the drive skipped.
func applyOwn(tx *bolt.Tx, e journal.Entry, eff *effect) error {
	c, err := parseEntry(e)
	if err != nil {
		return err
	}
	return applyTx(tx, c, eff)
}

// applyTx applies c to the derived state in tx.
func applyTx(tx *bolt.Tx, c change, eff *effect) error {
	r, _, err := getRecord(tx, c.path)
	if err != nil {
		return err
	}
	before := r.usage()
	if !r.merge(c) {
		return nil
	}
	if err := putRecord(tx, c.path, r); err != nil {
		return err
	}
	eff.delta += r.usage() - before
	if r.Removed && r.File != nil {
		eff.gone = append(eff.gone, *r.File)
	}
	return nil
}

// ParseFile reads the details of a KindFile entry, checked as the drive
// checks them before applying the entry.
func ParseFile(e journal.Entry) (FilePayload, error) {
	if e.Kind != KindFile {
		return FilePayload{}, fmt.Errorf("%w: %s is not a file entry", errEntry, e.Kind)
	}
	c, err := parseEntry(e)
	if err != nil {
		return FilePayload{}, err
	}
	return c.file.FilePayload, nil
}
