package drive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/unicode/norm"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/internal/durable"
)

// UploadRequest describes a file a visitor adds.
type UploadRequest struct {
	Folder      string // cleaned with CleanFolder; "" for the top
	Name        string // cleaned with CleanName; a taken name gets a number
	Licence     string // such as "CC BY-SA 4.0"; at most MaxLicence bytes
	Description string // at most MaxDescription bytes; may hold line breaks
	Author      string // the uploader's pseudonymous visitor ID
	Nickname    string // the uploader's nickname, at most MaxNickname bytes
	ContentType string // what the browser said, a hint at most
}

// errCrash ends an upload stopped by the test hook.
var errCrash = errors.New("drive: simulated crash")

// errAppeared says a file took an upload's name between its choice and
// the upload's placing.
var errAppeared = errors.New("drive: a file appeared at that name meanwhile")

// Upload adds the file read from r to the drive and returns it.
//
// The content is streamed to a temporary file (never held in memory),
// hashed on the way, and refused with ErrTooLarge or ErrQuota as soon as
// it passes a limit; the temporary file is then removed and nothing else
// was written. A name already taken in the folder (ignoring case, as
// Windows and macOS do) becomes "name (2).ext", and uploads under way
// reserve theirs, so that no upload ever replaces a file. The order of the
// steps that follow makes a crash at any moment harmless (see the package
// documentation).
func (s *Service) Upload(ctx context.Context, req UploadRequest, r io.Reader) (File, error) {
	folder, err := CleanFolder(req.Folder)
	if err != nil {
		return File{}, err
	}
	name, err := CleanName(req.Name)
	if err != nil {
		return File{}, err
	}
	if req, err = cleanDetails(req); err != nil {
		return File{}, err
	}

	tmp, err := os.CreateTemp(s.tmpDir, "upload-*")
	if err != nil {
		return File{}, fmt.Errorf("drive: upload: %w", err)
	}
	tmpName := tmp.Name()
	crashed := false
	defer func() {
		if crashed {
			return
		}
		tmp.Close()
		os.Remove(tmpName) // gone already once renamed
	}()
	var streamed int64 // counted in s.pending until committed or abandoned
	defer func() {
		if !crashed {
			s.unpend(streamed)
		}
	}()
	stop := func(stage string) bool {
		crashed = s.crashAt != nil && s.crashAt(stage)
		return crashed
	}

	hs := newHasher()
	defer hs.stop()
	head := make([]byte, 0, sniffLen)
	for {
		buf := hs.buffer()
		if err := ctx.Err(); err != nil {
			return File{}, fmt.Errorf("drive: upload %s: %w", name, err)
		}
		// Whole buffers: a multipart body reads a few kilobytes at a time,
		// and as many writes and hash calls would halve the throughput.
		// (Not io.ReadFull: it reports a short last read as
		// io.ErrUnexpectedEOF, which is also how a cut-off body ends.)
		n, rerr := 0, error(nil)
		for n < len(buf) && rerr == nil && ctx.Err() == nil {
			var m int
			m, rerr = r.Read(buf[n:])
			n += m
		}
		if n > 0 {
			chunk := buf[:n]
			if streamed+int64(n) > s.maxFile {
				return File{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.maxFile)
			}
			if !s.pend(int64(n)) {
				return File{}, ErrQuota
			}
			streamed += int64(n)
			if _, err := tmp.Write(chunk); err != nil {
				return File{}, fmt.Errorf("drive: upload %s: write: %w", name, err)
			}
			hs.add(chunk)
			if len(head) < sniffLen {
				head = append(head, chunk[:min(n, sniffLen-len(head))]...)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return File{}, fmt.Errorf("drive: upload %s: read: %w", name, rerr)
		}
	}
	// The content reaches the disk before anything points at it.
	if err := tmp.Sync(); err != nil {
		return File{}, fmt.Errorf("drive: upload %s: sync: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return File{}, fmt.Errorf("drive: upload %s: close: %w", name, err)
	}
	if stop("streamed") {
		return File{}, errCrash
	}

	sum := hex.EncodeToString(hs.sum())
	var path string
	renamed := false
	abandon := func() {
		// Undo what the journal does not name; if this fails too, New
		// finishes the job from the intent.
		if renamed {
			if err := s.root.Remove(filepath.FromSlash(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.logger.Error("removing an upload that failed", "path", path, "error", err)
				return
			}
			s.changed(path)
		}
		if err := s.st.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(store.BucketDriveUploads).Delete([]byte(path))
		}); err != nil {
			s.logger.Error("forgetting an upload that failed", "path", path, "error", err)
		}
	}
	for attempt := 1; ; attempt++ {
		p, release, err := s.reserveName(folder, name)
		if err != nil {
			return File{}, err
		}
		defer release()
		path = p

		// The intent first: from here on, a crash leaves a record that
		// tells New what to undo.
		in, err := json.Marshal(intent{Tmp: tmpName, Path: path, Size: streamed, SHA256: sum, Time: s.now().Unix()})
		if err != nil {
			return File{}, err
		}
		if err := s.st.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(store.BucketDriveUploads).Put([]byte(path), in)
		}); err != nil {
			return File{}, fmt.Errorf("drive: upload %s: record intent: %w", path, err)
		}
		if stop("intent") {
			return File{}, errCrash
		}
		renamed, err = s.placeFile(tmpName, folder, path)
		if err == nil {
			break
		}
		abandon()
		if !errors.Is(err, errAppeared) || attempt == 3 {
			return File{}, err
		}
		// Sync put a file there since the name was chosen: choose again.
	}
	if stop("renamed") {
		return File{}, errCrash
	}
	payload := FilePayload{Path: path, Size: streamed, SHA256: sum, ContentType: detectType(name, head, req.ContentType),
		Licence: req.Licence, Description: req.Description, Nickname: req.Nickname}

	p, err := json.Marshal(payload)
	if err != nil {
		abandon()
		return File{}, err
	}
	draft := journal.Draft{Kind: KindFile, Target: TargetPrefix + path, Author: req.Author, Payload: p}
	s.writeMu.Lock()
	var eff effect
	entries, err := s.j.AppendWith(func(tx *bolt.Tx, entries []journal.Entry) error {
		eff = effect{}
		// The entry, the derived state and the end of the intent in one
		// transaction: after it the file is the drive's, before it New
		// undoes the upload.
		if err := tx.Bucket(store.BucketDriveUploads).Delete([]byte(path)); err != nil {
			return err
		}
		if err := applyOwn(tx, entries[0], &eff); err != nil {
			return err
		}
		// What the folder holds at path is this upload, whatever sync
		// placed there before.
		return updateRecord(tx, path, &eff, dropDisk)
	}, draft)
	if err != nil {
		s.writeMu.Unlock()
		abandon()
		return File{}, fmt.Errorf("drive: upload %s: %w", path, err)
	}
	// The bytes move from pending to used at once, so the quota never
	// counts them twice nor forgets them.
	s.mu.Lock()
	s.pending -= streamed
	s.used += eff.delta
	streamed = 0
	s.mu.Unlock()
	s.writeMu.Unlock()
	if stop("journaled") {
		return File{}, errCrash
	}
	s.changed(path)

	f := File{Path: path, Size: payload.Size, SHA256: sum, ContentType: payload.ContentType, Licence: payload.Licence,
		Description: payload.Description, Nickname: payload.Nickname, Author: req.Author,
		Time: entries[0].Time.Wall(), Origin: entries[0].Origin}
	f.Folder, f.Name = splitPath(path)
	s.logger.Info("file added to the drive", "file", f)
	return f, nil
}

// pend counts n more bytes of uploads under way, unless the drive would
// then hold more than its quota.
func (s *Service) pend(n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quota > 0 && s.used+s.pending+n > s.quota {
		return false
	}
	s.pending += n
	return true
}

func (s *Service) unpend(n int64) {
	s.mu.Lock()
	s.pending -= n
	s.mu.Unlock()
}

// reserveName picks the path of a new file called name in folder: the
// name itself if free, else "name (2)", "name (3)"… A name is taken when
// a listed file, a file on disk (sync may bring one before its metadata)
// or an upload under way has it, ignoring case and normalisation, which
// Windows and macOS ignore. The folder takes the spelling of an existing
// folder that differs only in case. release frees the reservation.
func (s *Service) reserveName(folder, name string) (path string, release func(), err error) {
	s.nameMu.Lock()
	defer s.nameMu.Unlock()
	folder, err = s.resolveFolder(folder)
	if err != nil {
		return "", nil, err
	}
	taken := make(map[string]bool)
	err = s.st.View(func(tx *bolt.Tx) error {
		return forEachRecord(tx, func(p string, r record) error {
			if f, n := splitPath(p); f == folder && r.listed() {
				taken[foldKey(n)] = true
			}
			return nil
		})
	})
	if err != nil {
		return "", nil, fmt.Errorf("drive: upload: %w", err)
	}
	if entries, err := fs.ReadDir(s.root.FS(), dirOf(folder)); err == nil {
		for _, e := range entries {
			taken[foldKey(e.Name())] = true
		}
	}
	for i := 1; i <= 10000; i++ {
		n := name
		if i > 1 {
			n = numbered(name, i)
		}
		p := joinPath(folder, n)
		if !taken[foldKey(n)] && !s.names[foldKey(p)] {
			s.names[foldKey(p)] = true
			return p, func() {
				s.nameMu.Lock()
				delete(s.names, foldKey(p))
				s.nameMu.Unlock()
			}, nil
		}
	}
	return "", nil, fmt.Errorf("%w: too many files called %q", ErrBadName, name)
}

// dirOf is the fs.FS name of a folder.
func dirOf(folder string) string {
	if folder == "" {
		return "."
	}
	return folder
}

// resolveFolder returns folder spelled as an existing folder (listed, or
// on disk) that differs only in case, level by level.
func (s *Service) resolveFolder(folder string) (string, error) {
	if folder == "" {
		return "", nil
	}
	known := make(map[string]string) // foldKey of a folder path → its spelling
	err := s.st.View(func(tx *bolt.Tx) error {
		return forEachRecord(tx, func(p string, r record) error {
			if !r.listed() {
				return nil
			}
			for f, _ := splitPath(p); f != ""; f, _ = splitPath(f) {
				if _, ok := known[foldKey(f)]; !ok {
					known[foldKey(f)] = f
				}
			}
			return nil
		})
	})
	if err != nil {
		return "", fmt.Errorf("drive: upload: %w", err)
	}
	resolved := ""
	for _, seg := range strings.Split(folder, "/") {
		want := joinPath(resolved, seg)
		if sp, ok := known[foldKey(want)]; ok {
			resolved = sp
			continue
		}
		if entries, err := fs.ReadDir(s.root.FS(), dirOf(resolved)); err == nil {
			for _, e := range entries {
				if e.IsDir() && foldKey(e.Name()) == foldKey(seg) {
					want = joinPath(resolved, e.Name())
					break
				}
			}
		}
		resolved = want
	}
	return resolved, nil
}

// placeFile moves the synced temporary file to path in the drive folder
// and makes the move durable.
func (s *Service) placeFile(tmpName, folder, path string) (renamed bool, err error) {
	if folder != "" {
		// Through the root, so that no folder is made outside the drive.
		if err := s.root.MkdirAll(filepath.FromSlash(folder), 0o750); err != nil {
			return false, fmt.Errorf("drive: upload %s: make folder: %w", path, err)
		}
		// The rename below follows symbolic links: each level must be a
		// real folder.
		for f := folder; f != ""; f, _ = splitPath(f) {
			fi, err := s.root.Lstat(filepath.FromSlash(f))
			if err != nil {
				return false, fmt.Errorf("drive: upload %s: %w", path, err)
			}
			if !fi.IsDir() {
				return false, fmt.Errorf("drive: upload %s: %s is not a folder", path, f)
			}
		}
	}
	// Sync may have brought a file since the name was chosen: never
	// replace it.
	final := filepath.Join(s.dir, filepath.FromSlash(path))
	if err := durable.RenameNoReplace(tmpName, final); errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("drive: upload %s: %w", path, errAppeared)
	} else if err != nil {
		return false, fmt.Errorf("drive: upload %s: %w", path, err)
	}
	// The rename, and any folder just made, must be on disk before the
	// journal says the file is there.
	for d := filepath.Dir(final); ; d = filepath.Dir(d) {
		if err := durable.SyncDir(d); err != nil {
			return true, fmt.Errorf("drive: upload %s: sync folder: %w", path, err)
		}
		if d == filepath.Clean(s.dir) || d == filepath.Dir(d) {
			break
		}
	}
	return true, nil
}

// cleanDetails checks and normalises what a visitor says about a file.
func cleanDetails(req UploadRequest) (UploadRequest, error) {
	fields := []struct {
		v         *string
		max       int
		multiline bool
		what      string
	}{
		{&req.Licence, MaxLicence, false, "licence"},
		{&req.Description, MaxDescription, true, "description"},
		{&req.Nickname, MaxNickname, false, "nickname"},
		{&req.Author, 256, false, "author"},
	}
	for _, f := range fields {
		if !utf8.ValidString(*f.v) {
			return req, fmt.Errorf("%w: the %s is not valid UTF-8", ErrInvalid, f.what)
		}
		v := norm.NFC.String(strings.TrimSpace(strings.ReplaceAll(*f.v, "\r\n", "\n")))
		for _, r := range v {
			if (r == '\n' && f.multiline) || r == '\t' {
				continue
			}
			if forbiddenRune(r) || unicode.Is(unicode.Cc, r) {
				return req, fmt.Errorf("%w: the %s contains the character %U", ErrInvalid, f.what, r)
			}
		}
		if len(v) > f.max {
			return req, fmt.Errorf("%w: the %s is longer than %d bytes", ErrInvalid, f.what, f.max)
		}
		*f.v = v
	}
	return req, nil
}

// hasher computes an upload's SHA-256 on a goroutine of its own, while
// the next buffer is read and written: with two cores or more, an upload
// then goes at the pace of the slowest of the three, not of their sum.
type hasher struct {
	h       hash.Hash
	in      chan []byte // buffers to hash
	free    chan []byte // buffers hashed, to fill again
	done    chan struct{}
	stopped bool
}

func newHasher() *hasher {
	hs := &hasher{h: sha256.New(), in: make(chan []byte, 2), free: make(chan []byte, 3), done: make(chan struct{})}
	for range cap(hs.free) {
		hs.free <- make([]byte, 64<<10)
	}
	go func() {
		defer close(hs.done)
		for b := range hs.in {
			hs.h.Write(b)
			hs.free <- b[:cap(b)]
		}
	}()
	return hs
}

// buffer returns a buffer to fill, once the hasher is done with it.
func (hs *hasher) buffer() []byte { return <-hs.free }

// add hands a filled buffer to the hasher.
func (hs *hasher) add(b []byte) { hs.in <- b }

// stop ends the hashing goroutine and waits for it; it may be called more
// than once.
func (hs *hasher) stop() {
	if !hs.stopped {
		hs.stopped = true
		close(hs.in)
	}
	<-hs.done
}

// sum returns the hash of everything added.
func (hs *hasher) sum() []byte {
	hs.stop()
	return hs.h.Sum(nil)
}
