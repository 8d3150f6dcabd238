package bep

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/journal"
)

// SegmentSize is where a journal segment closes: entries are added to a
// segment while it is smaller than this, so a segment is at most
// SegmentSize plus one entry. Only the entries decide the boundaries, so
// every box cuts an origin's journal the same way.
const SegmentSize = 1 << 20

// segment is one segment file of an origin: entries first..last, of
// which erased were erased.
type segment struct {
	first, last uint64
	erased      uint64
	size        int64
	lastTime    journal.Time
}

// version is the segment's version counter: it grows by one with every
// entry added and every entry erased, which only the origin does, so the
// versions of one segment are totally ordered and any holder of the same
// entries announces the same one.
func (s segment) version() uint64 { return s.last + s.erased }

func segmentName(o journal.Origin, first uint64) string {
	return fmt.Sprintf("%s/%016d.tj", hex.EncodeToString(o[:]), first)
}

// parseSegmentName is the inverse of segmentName.
func parseSegmentName(name string) (journal.Origin, uint64, bool) {
	var o journal.Origin
	if !segmentRE.MatchString(name) {
		return o, 0, false
	}
	dir, file, _ := strings.Cut(name, "/")
	b, err := hex.DecodeString(dir)
	if err != nil {
		return o, 0, false
	}
	copy(o[:], b)
	first, err := strconv.ParseUint(strings.TrimSuffix(file, ".tj"), 10, 64)
	return o, first, err == nil && first > 0
}

func shortOf(o journal.Origin) protocol.ShortID { return protocol.DeviceID(o).Short() }

// journalFolder announces the journal as segment files and takes in the
// segments that peers send.
type journalFolder struct {
	j        *journal.Journal
	idx      *localIndex
	logger   *slog.Logger
	ingested func([]journal.Entry)

	mu   sync.Mutex // guards segs, tails and the index's journal files
	segs map[journal.Origin][]segment
	// tails hashes each origin's last segment as entries are added to
	// it, so that a segment growing by one entry is not read and hashed
	// again in full: a pad being typed into grows its box's journal every
	// second, and the open segment is up to 1 MiB.
	tails map[journal.Origin]*segmentTail

	// served is the segment last read for a peer's block requests. A
	// peer asks for all the blocks of a segment it lacks (eight of a full
	// one) and each request would otherwise read and encode the whole
	// segment again from the journal.
	servedMu sync.Mutex
	served   servedSegment
}

// servedSegment is the content of origin o's segment s.
type servedSegment struct {
	o    journal.Origin
	s    segment
	data []byte
}

// segmentTail is the running hash of the segment starting at first.
type segmentTail struct {
	first uint64
	h     *blockHasher
}

func newJournalFolder(j *journal.Journal, idx *localIndex, logger *slog.Logger, ingested func([]journal.Entry)) (*journalFolder, error) {
	jf := &journalFolder{j: j, idx: idx, logger: logger, ingested: ingested,
		segs: make(map[journal.Origin][]segment), tails: make(map[journal.Origin]*segmentTail)}
	heads, err := j.Heads()
	if err != nil {
		return nil, err
	}
	for o := range heads {
		if err := jf.refresh(o, 0); err != nil {
			return nil, err
		}
	}
	return jf, nil
}

// refresh reads the entries of origin o that are not yet in its
// segments, cuts them into segments, and announces the segments that
// changed. Entries from erasedFrom on (0: none) were erased since they
// were read: their segments are read again.
func (jf *journalFolder) refresh(o journal.Origin, erasedFrom uint64) error {
	jf.mu.Lock()
	defer jf.mu.Unlock()
	segs := jf.segs[o]
	if erasedFrom > 0 {
		for i, s := range segs {
			if s.last >= erasedFrom {
				segs = segs[:i]
				break
			}
		}
	}
	after := uint64(0)
	if n := len(segs); n > 0 {
		after = segs[n-1].last
	}
	touched := map[uint64]bool{}
	err := jf.j.Since(o, after, func(e journal.Entry) error {
		frame := e.Encode()
		n := len(segs)
		if n == 0 || segs[n-1].size >= SegmentSize {
			segs = append(segs, segment{first: e.Seq})
			n++
			jf.tails[o] = &segmentTail{first: e.Seq, h: newBlockHasher(protocol.MinBlockSize)}
		}
		s := &segs[n-1]
		if h := jf.tailOf(o, *s); h != nil {
			h.write(frame)
		} else {
			delete(jf.tails, o) // read in full below, once
		}
		s.last, s.size, s.lastTime = e.Seq, s.size+int64(len(frame)), e.Time
		if e.Erased {
			s.erased++
		}
		touched[s.first] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("bep: read journal of %v: %w", o, err)
	}
	jf.segs[o] = segs
	var changed []protocol.FileInfo
	dir := hex.EncodeToString(o[:])
	if _, ok := jf.idx.get(dir); !ok && len(segs) > 0 {
		changed = append(changed, protocol.FileInfo{
			Name: dir, Type: protocol.FileInfoTypeDirectory, Permissions: 0o755,
			ModifiedBy: shortOf(o), Version: protocol.Vector{Counters: []protocol.Counter{{ID: shortOf(o), Value: 1}}},
		})
	}
	for i, s := range segs {
		name := segmentName(o, s.first)
		old, ok := jf.idx.get(name)
		if ok && !touched[s.first] && old.Size == s.size && old.Version.Counter(shortOf(o)) == s.version() {
			continue // announced already, as it is
		}
		bs := protocol.BlockSize(s.size)
		var blocks []protocol.BlockInfo
		if h := jf.tailOf(o, s); h != nil && h.bs == bs {
			blocks = h.blocks()
		} else {
			data, err := jf.read(o, s)
			if err != nil {
				return err
			}
			h := newBlockHasher(bs)
			h.write(data)
			blocks = h.blocks()
			if i == len(segs)-1 && bs == protocol.MinBlockSize {
				jf.tails[o] = &segmentTail{first: s.first, h: h}
			}
		}
		f := segmentFile(name, o, s, blocks)
		if ok && old.Size == f.Size && old.Version.Equal(f.Version) && string(old.BlocksHash) == string(f.BlocksHash) {
			continue
		}
		changed = append(changed, f)
	}
	return jf.idx.commit(changed...)
}

// tailOf returns the running hash of origin o's segment s, if it has
// followed all of s so far. The caller holds mu.
func (jf *journalFolder) tailOf(o journal.Origin, s segment) *blockHasher {
	if t := jf.tails[o]; t != nil && t.first == s.first && t.h.size == s.size {
		return t.h
	}
	return nil
}

// read returns the bytes of segment s of origin o: its entries' frames,
// one after the other.
func (jf *journalFolder) read(o journal.Origin, s segment) ([]byte, error) {
	buf := make([]byte, 0, s.size)
	stop := errors.New("stop")
	err := jf.j.Since(o, s.first-1, func(e journal.Entry) error {
		if e.Seq > s.last {
			return stop
		}
		buf = append(buf, e.Encode()...)
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return nil, fmt.Errorf("bep: read segment %v/%d: %w", o, s.first, err)
	}
	return buf, nil
}

// segmentFile describes a segment as Syncthing describes a file. The
// version vector has one counter, the origin's (segment.version), so it
// grows with the segment and is the same at every box that holds the same
// entries.
func segmentFile(name string, o journal.Origin, s segment, blocks []protocol.BlockInfo) protocol.FileInfo {
	wall := s.lastTime.Wall()
	f := protocol.FileInfo{
		Name: name, Type: protocol.FileInfoTypeFile, Size: s.size, Permissions: 0o644,
		ModifiedS: wall.Unix(), ModifiedNs: int32(wall.Nanosecond()), ModifiedBy: shortOf(o),
		Version: protocol.Vector{Counters: []protocol.Counter{{ID: shortOf(o), Value: s.version()}}},
	}
	f.RawBlockSize = int32(protocol.BlockSize(f.Size))
	f.Blocks = blocks
	f.BlocksHash = protocol.BlocksHash(f.Blocks)
	return f
}

// blocksOf hashes data in blocks of size bs; an empty file has one empty
// block, as BEP requires.
func blocksOf(data []byte, bs int) []protocol.BlockInfo {
	h := newBlockHasher(bs)
	h.write(data)
	return h.blocks()
}

// blockHasher hashes a file that grows at its end, block by block: the
// blocks already full are hashed once, only the last one is followed.
type blockHasher struct {
	bs     int
	size   int64
	full   []protocol.BlockInfo
	cur    hash.Hash // the block being filled, curLen bytes so far
	curLen int
}

func newBlockHasher(bs int) *blockHasher { return &blockHasher{bs: bs, cur: sha256.New()} }

func (h *blockHasher) write(p []byte) {
	for len(p) > 0 {
		n := min(h.bs-h.curLen, len(p))
		h.cur.Write(p[:n])
		h.curLen += n
		h.size += int64(n)
		p = p[n:]
		if h.curLen == h.bs {
			h.full = append(h.full, protocol.BlockInfo{Offset: h.size - int64(h.bs), Size: h.bs, Hash: h.cur.Sum(nil)})
			h.cur.Reset()
			h.curLen = 0
		}
	}
}

// blocks returns the file's blocks so far, a copy the caller may keep.
func (h *blockHasher) blocks() []protocol.BlockInfo {
	out := make([]protocol.BlockInfo, len(h.full), len(h.full)+1)
	copy(out, h.full)
	if h.curLen > 0 || h.size == 0 {
		// Sum leaves the running hash as it is, so the block goes on
		// growing with the next entries.
		out = append(out, protocol.BlockInfo{Offset: h.size - int64(h.curLen), Size: h.curLen, Hash: h.cur.Sum(nil)})
	}
	return out
}

// readAt serves a peer's request for size bytes at off of a segment.
func (jf *journalFolder) readAt(name string, off int64, size int) ([]byte, error) {
	o, first, ok := parseSegmentName(name)
	if !ok {
		return nil, protocol.ErrNoSuchFile
	}
	seg, ok := jf.segment(o, first)
	if !ok {
		return nil, protocol.ErrNoSuchFile
	}
	// A segment of the same entries, of which as many were erased, has
	// the same content: the cached one serves while seg is unchanged.
	jf.servedMu.Lock()
	defer jf.servedMu.Unlock()
	if jf.served.o != o || jf.served.s != seg || jf.served.data == nil {
		data, err := jf.read(o, seg)
		if err != nil {
			return nil, err
		}
		jf.served = servedSegment{o: o, s: seg, data: data}
	}
	data := jf.served.data
	if off < 0 || off+int64(size) > int64(len(data)) {
		return nil, protocol.ErrNoSuchFile
	}
	// Not a copy: a segment read is never written to, only replaced.
	return data[off : off+int64(size)], nil
}

// segment returns the segment of origin o that starts at first.
func (jf *journalFolder) segment(o journal.Origin, first uint64) (segment, bool) {
	jf.mu.Lock()
	defer jf.mu.Unlock()
	for _, s := range jf.segs[o] {
		if s.first == first {
			return s, true
		}
	}
	return segment{}, false
}

// errSegment marks a segment whose content cannot be taken in.
var errSegment = errors.New("bep: journal segment refused")

// ingest takes in the bytes of a segment a peer sent: every frame must
// decode, come from the segment's origin and follow the one before. A
// torn last frame is left for later. Entries this box holds already are
// taken again only when the segment has them erased. It returns the
// entries that were new.
func (jf *journalFolder) ingest(name string, data []byte) ([]journal.Entry, error) {
	o, first, ok := parseSegmentName(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a segment name", errSegment, name)
	}
	if o == jf.j.Origin() {
		return nil, nil // this box's own journal is written here only
	}
	heads, err := jf.j.Heads()
	if err != nil {
		return nil, err
	}
	head := heads[o]
	if first > head+1 {
		return nil, fmt.Errorf("%w: %s starts at %d, after this box's %d entries of that origin", errGap, name, first, head)
	}
	all, err := parseSegment(name, o, first, data)
	if err != nil {
		return nil, err
	}
	var entries, fresh []journal.Entry
	for _, e := range all {
		if e.Seq > head {
			fresh = append(fresh, e)
		}
		if e.Seq > head || e.Erased {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	if _, err := jf.j.Ingest(entries...); err != nil {
		if errors.Is(err, journal.ErrConflict) || errors.Is(err, journal.ErrInvalid) || errors.Is(err, journal.ErrOwnOrigin) {
			return nil, fmt.Errorf("%w: %s: %v", errSegment, name, err)
		}
		return nil, fmt.Errorf("bep: take in %s: %w", name, err)
	}
	if jf.ingested != nil && len(fresh) > 0 {
		jf.ingested(fresh)
	}
	return fresh, nil
}

// parseSegment reads the frames of segment name (origin o, first entry
// first): every frame must decode, come from o and follow the one before.
// A torn last frame ends the segment early.
func parseSegment(name string, o journal.Origin, first uint64, data []byte) ([]journal.Entry, error) {
	var entries []journal.Entry
	next := first
	for rest := data; len(rest) > 0; {
		e, n, err := journal.Decode(rest)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "truncated") {
				break // a torn tail: what came before is good
			}
			return nil, fmt.Errorf("%w: %s at entry %d: %v", errSegment, name, next, err)
		}
		if e.Origin != o || e.Seq != next {
			return nil, fmt.Errorf("%w: %s holds entry %v/%d where %v/%d belongs", errSegment, name, e.Origin, e.Seq, o, next)
		}
		entries = append(entries, e)
		next++
		rest = rest[n:]
	}
	return entries, nil
}

// errGap says a segment came before the ones it follows; it is tried
// again once they arrived.
var errGap = errors.New("bep: segment arrived before the ones before it")
