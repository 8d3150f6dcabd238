// Package wal is a write-ahead log: records appended to segment files in
// a folder, each one durable (written and fdatasync'ed) before Append
// returns, for the writes that must be on disk before anyone is told of
// them but are soon kept elsewhere.
//
// Appends that arrive while a sync runs share the next one (group
// commit): at thousands of small appends a second, the log syncs as often
// as the disk allows, with no timer to wait for and one sync per group
// where a database transaction needs two. A record is released once its
// content is kept elsewhere; a segment file is removed when every record
// in it is released and appends have moved on to a newer one.
//
// A segment starts with an 8-byte header, then records framed as
// uint32 length, uint32 CRC-32C of the length's four bytes and the data
// (both big-endian), data. A crash can leave the last record of a segment
// torn: it was never acknowledged, and reading stops there.
package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// header opens every segment file; its last byte is the format version.
var header = [8]byte{'t', 'b', 'w', 'a', 'l', '\n', 0, 2}

// MaxRecord bounds one record's data.
const MaxRecord = 16 << 20

// DefaultSegmentSize is the size past which appends move to a new
// segment, so that released records leave the disk soon.
const DefaultSegmentSize = 4 << 20

// Options configure Open.
type Options struct {
	// SegmentSize is the size past which appends move to a new segment.
	// Zero means DefaultSegmentSize.
	SegmentSize int64
	// Logger is told of segments whose reading stopped before their end.
	// nil discards.
	Logger *slog.Logger
}

const frameSize = 8 // length and checksum

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrTooLarge is returned by Append for data over MaxRecord bytes.
var ErrTooLarge = errors.New("wal: record too large")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("wal: closed")

// Pos says which segment holds a record: what Release needs.
type Pos struct{ seg uint64 }

// Record is a record found at Open: its data, and where it is.
type Record struct {
	Data []byte
	Pos  Pos
}

// Log is an open write-ahead log. It is safe for concurrent use.
type Log struct {
	dir         string
	segmentSize int64

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a group is synced
	file    *os.File   // the segment appends go to
	seg     uint64     // its number
	size    int64      // what is written in it
	next    *group     // the appends waiting for the next sync
	spare   []byte     // a previous group's buffer, for reuse
	syncing bool       // a goroutine is writing and syncing a group
	err     error      // a failed sync: the log takes no more
	torn    bool       // a write failed: the next goes to a new segment
	closed  bool
	live    map[uint64]int // segment → records not yet released
}

// group is appends synced together.
type group struct {
	buf  []byte // their framed records
	n    int    // how many
	seg  uint64 // the segment they were written to
	done bool
	err  error
}

// Open opens the log in dir, creating the folder if needed, and returns
// the records of every segment earlier runs left with records not
// released, oldest first. A record released may so come back, with the
// others of its segment: the caller must recognise what it keeps
// already. Each is live until released. Appends go to a new segment.
func Open(dir string, opts Options) (*Log, []Record, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("wal: create %s: %w", dir, err)
	}
	l := &Log{dir: dir, segmentSize: opts.SegmentSize, live: make(map[uint64]int), next: &group{}}
	if l.segmentSize <= 0 {
		l.segmentSize = DefaultSegmentSize
	}
	l.cond = sync.NewCond(&l.mu)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	segs, recs, err := read(dir, logger)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range recs {
		l.live[r.Pos.seg]++
	}
	next := uint64(1)
	for _, seg := range segs {
		next = seg + 1
		if _, ok := l.live[seg]; ok {
			continue
		}
		// No record in it: a crash caught it as it was made (no more
		// than a header, or less), or it is damaged from its first
		// record on, and is set aside for a look rather than removed.
		path := l.path(seg)
		if fi, err := os.Stat(path); err == nil && fi.Size() > int64(len(header)) {
			logger.Warn("a write-ahead segment has no readable record; set aside", "path", path+".damaged", "size", fi.Size())
			if err := os.Rename(path, path+".damaged"); err != nil {
				return nil, nil, fmt.Errorf("wal: %w", err)
			}
			continue
		}
		if err := os.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("wal: %w", err)
		}
	}
	if err := l.startSegment(next); err != nil {
		return nil, nil, err
	}
	return l, recs, nil
}

// Read returns the records of the log in dir without opening it for
// appends, as Open would: for a look at what a log holds.
func Read(dir string) ([]Record, error) {
	_, recs, err := read(dir, slog.New(slog.DiscardHandler))
	return recs, err
}

func read(dir string, logger *slog.Logger) (segs []uint64, recs []Record, err error) {
	if segs, err = segments(dir); err != nil {
		return nil, nil, err
	}
	for _, seg := range segs {
		data, err := readSegment(segmentPath(dir, seg), logger)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range data {
			recs = append(recs, Record{Data: d, Pos: Pos{seg}})
		}
	}
	return segs, recs, nil
}

func segmentPath(dir string, seg uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x.wal", seg))
}

func (l *Log) path(seg uint64) string { return segmentPath(l.dir, seg) }

// segments lists the segment numbers in dir, in order.
func segments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var segs []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".wal")
		if !ok || len(name) != 16 {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

// readSegment returns the records of one segment, and logs where reading
// stopped if before the end: at a record a crash tore (never
// acknowledged), or damaged since.
func readSegment(path string, logger *slog.Logger) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	data, end, err := readRecords(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("wal: %s: %w", filepath.Base(path), err)
	}
	if fi, err := f.Stat(); err == nil && len(data) > 0 && end < fi.Size() {
		logger.Warn("a write-ahead segment ends with a torn or damaged record, not read", "path", path, "records", len(data), "offset", end, "size", fi.Size())
	}
	return data, nil
}

// readRecords reads a segment's header and records, up to its end or its
// first torn or damaged record, and returns the offset where the records
// read end. A file too short for a header, or whose header is zeros, is a
// segment a crash caught as it was made. An error is a file this program
// did not write, or one the disk cannot read: nothing is taken for
// damage that a later read might get right.
func readRecords(r io.Reader) (recs [][]byte, end int64, err error) {
	var h [len(header)]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if short(err) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	if h == [len(header)]byte{} {
		return nil, 0, nil
	}
	if h != header {
		return nil, 0, fmt.Errorf("not a write-ahead segment (header %x)", h)
	}
	end = int64(len(header))
	for {
		var fr [frameSize]byte
		if _, err := io.ReadFull(r, fr[:]); err != nil {
			if short(err) {
				return recs, end, nil
			}
			return nil, 0, err
		}
		n := binary.BigEndian.Uint32(fr[:4])
		if n > MaxRecord {
			return recs, end, nil
		}
		d := make([]byte, n)
		if _, err := io.ReadFull(r, d); err != nil {
			if short(err) {
				return recs, end, nil
			}
			return nil, 0, err
		}
		if checksum(fr[:4], d) != binary.BigEndian.Uint32(fr[4:]) {
			return recs, end, nil
		}
		recs = append(recs, d)
		end += int64(frameSize) + int64(n)
	}
}

// short reports a read that met the end of the file: where a crash cut
// the segment, not an error.
func short(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// checksum covers the length too, so that zeros never read as a record.
func checksum(length, data []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, data)
}

// frame returns the frame header of data.
func frame(data []byte) [frameSize]byte {
	var fr [frameSize]byte
	binary.BigEndian.PutUint32(fr[:4], uint32(len(data)))
	binary.BigEndian.PutUint32(fr[4:], checksum(fr[:4], data))
	return fr
}

// startSegment makes seg the segment appends go to. Called with l.mu
// held, or before l is shared.
func (l *Log) startSegment(seg uint64) error {
	// A file of that name can only be an earlier try that failed, with
	// nothing acknowledged in it.
	f, err := os.OpenFile(l.path(seg), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wal: new segment: %w", err)
	}
	if _, err = f.Write(header[:]); err == nil {
		err = fdatasync(f)
	}
	if err == nil {
		// The new name must survive a crash as well as the records in
		// it.
		err = syncDir(l.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(l.path(seg))
		return fmt.Errorf("wal: new segment: %w", err)
	}
	old := l.file
	l.file, l.seg, l.size = f, seg, int64(len(header))
	if old != nil {
		old.Close()
		l.removeIfDone(l.seg - 1)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: sync folder: %w", err)
	}
	return nil
}

// Append writes data as one record and returns once it is on disk.
func (l *Log) Append(data []byte) (Pos, error) {
	if len(data) > MaxRecord {
		return Pos{}, ErrTooLarge
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Pos{}, ErrClosed
	}
	if l.err != nil {
		return Pos{}, l.err
	}
	fr := frame(data)
	g := l.next
	g.buf = append(append(g.buf, fr[:]...), data...)
	g.n++
	for !g.done {
		if l.syncing {
			l.cond.Wait()
			continue
		}
		l.syncNext()
	}
	if g.err != nil {
		return Pos{}, g.err
	}
	return Pos{g.seg}, nil
}

// syncNext writes and syncs the waiting appends as one group; those that
// arrive meanwhile gather for the next. Called with l.mu held; it is
// released during the write.
func (l *Log) syncNext() {
	g := l.next
	l.next = &group{buf: l.spare[:0]}
	l.spare = nil
	if l.err == nil && l.closed {
		l.err = ErrClosed
	}
	// A group is written to one segment: move on before it, not during.
	// After a failed write the segment may end in part of a record, and
	// nothing may follow it; otherwise a segment that cannot be made
	// leaves appends where they are, to try again at the next group.
	if l.err == nil && (l.torn || l.size >= l.segmentSize) {
		if err := l.startSegment(l.seg + 1); err == nil {
			l.torn = false
		} else if l.torn {
			g.done, g.err = true, err
			l.cond.Broadcast()
			return
		}
	}
	if l.err != nil {
		g.done, g.err = true, l.err
		l.cond.Broadcast()
		return
	}
	l.syncing = true
	f := l.file
	g.seg = l.seg
	l.live[g.seg] += g.n
	l.size += int64(len(g.buf))
	l.mu.Unlock()
	_, werr := f.Write(g.buf)
	var serr error
	if werr == nil {
		serr = fdatasync(f)
	}
	l.mu.Lock()
	l.syncing = false
	if cap(g.buf) <= 1<<20 { // not a rare large record's buffer
		l.spare = g.buf
	}
	g.buf = nil
	switch {
	case werr != nil:
		// The disk full, say: this group fails, the next may not.
		g.err = fmt.Errorf("wal: write %s: %w", filepath.Base(f.Name()), werr)
		l.live[g.seg] -= g.n
		l.torn = true
	case serr != nil:
		// After a failed sync the kernel may have dropped the pages:
		// nothing says what is on disk, so nothing more is promised.
		l.err = fmt.Errorf("wal: sync %s: %w", filepath.Base(f.Name()), serr)
		l.live[g.seg] -= g.n
		g.err = l.err
	}
	g.done = true
	l.cond.Broadcast()
}

// Seal moves appends to a new segment now, so that the current one goes
// as soon as its records are released: for a record released without
// being kept elsewhere, which must not outlive them. If the new segment
// cannot be made, the next group tries again.
func (l *Log) Seal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.err != nil {
		return
	}
	if l.syncing {
		l.size = l.segmentSize // the running group's successor moves on
		return
	}
	if err := l.startSegment(l.seg + 1); err != nil {
		l.size = l.segmentSize
		return
	}
	l.torn = false
}

// Release says the records at ps are kept elsewhere now: the log need not
// keep them past a crash.
func (l *Log) Release(ps ...Pos) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range ps {
		if l.live[p.seg] <= 0 {
			continue
		}
		l.live[p.seg]--
		l.removeIfDone(p.seg)
	}
}

// removeIfDone removes segment seg once every record in it is released
// and appends go elsewhere. Called with l.mu held.
func (l *Log) removeIfDone(seg uint64) {
	if l.live[seg] > 0 || seg == l.seg {
		return
	}
	delete(l.live, seg)
	// A file left by a failed remove is read again at the next start,
	// with records all released: its reader must recognise what it keeps
	// already (see Open).
	os.Remove(l.path(seg))
}

// Close closes the log. An append whose sync is under way gets its
// result; those still gathering for the next, and later ones, get
// ErrClosed. Records not released stay for the next Open.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.cond.Wait()
	}
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.file.Close()
	if l.live[l.seg] == 0 && l.err == nil {
		// Nothing to read at the next start.
		os.Remove(l.path(l.seg))
	}
	if err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}
