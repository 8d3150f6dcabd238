// Package pad keeps the box's pads: collaborative Markdown notes that are
// Yjs documents (their text is the Y.Text named "content").
//
// # Durability and the journal
//
// Every update a browser sends is written to a write-ahead log (box/wal),
// synced to disk, before it is applied for others to see (Apply returns
// then); the updates of one pad are merged each second or so into one
// journal entry of kind "pad.update", after which the log lets them go
// (edits applied while that entry is written wait for the next one).
// So the journal grows with the edit rate, not the keystroke rate, and
// nothing acknowledged is ever lost: at start-up, what the log still holds
// is journaled first, except what the pad holds already (a segment of the
// log goes only once all its records are released, most of them because
// they are journaled). For that test to be sound, a pad's cache only ever
// holds what the journal holds.
//
// A pad's state is cached (its encoded document and the journal positions
// it includes), so opening a pad with a long history reads only what came
// after the cache; the cache can always be rebuilt from the journal alone.
// The cache is also the list of pads (List), with their titles and the
// time of their last edit.
//
// # Edits from other boxes
//
// Box-to-box sync copies other boxes' pad.update entries into the journal
// (journal.Ingest) and then calls Service.Apply: an open pad applies them
// and passes them to its listeners like a browser's update, and the cache
// of every pad they touch is brought up to date, so that a pad written
// only at another box is listed. Nothing is appended to the journal: the
// entries are there already. The service also records how far it has read
// each other box's journal, and at start-up it reads whatever came after
// (a stop between Ingest and Apply loses nothing).
//
// # Locked and archived pads
//
// Staff lock a pad (it reads but takes no edit) or archive it (locked,
// and marked for lists to leave out): journal entries too, see flags.go.
//
// # Who may import it
//
// portal and cmd. It does no networking.
package pad

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/box/wal"
	"tiersbox/box/ydoc"
)

// KindUpdate is the journal kind of a pad's (merged) Yjs update.
const KindUpdate journal.Kind = "pad.update"

// ContentName is the Y.Text holding a pad's text.
const ContentName = "content"

// TargetPrefix prefixes a pad's name in journal targets.
const TargetPrefix = "pad/"

// DefaultWindow is how long updates of one pad are gathered into one
// journal entry.
const DefaultWindow = time.Second

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MaxBytes bounds a pad's encoded size: a pad is notes, not a library.
// Edits that would take it past this are refused with ErrFull.
const MaxBytes = 8 << 20

// ErrFull is returned by Apply for an edit that would make the pad larger
// than MaxBytes.
var ErrFull = errors.New("pad: this pad is full")

// ErrClosed is returned by Apply after the service closed (the box is
// stopping).
var ErrClosed = errors.New("pad: the box is stopping")

// ErrName is returned for a pad name that is not 1–64 letters, digits,
// '-' or '_'.
var ErrName = errors.New("pad: names are 1 to 64 letters, digits, - or _")

// ValidName reports whether name can name a pad.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Options configure a Service.
type Options struct {
	// Window is how long updates are gathered before they become one
	// journal entry. Zero means DefaultWindow.
	Window time.Duration
	Logger *slog.Logger
	// WALDir is the folder of the write-ahead log, which holds each edit
	// from its arrival to its journal entry. Empty means WALFolder beside
	// the database.
	WALDir string
}

// Service holds the open pads. It is safe for concurrent use.
type Service struct {
	st     *store.Store
	j      *journal.Journal
	window time.Duration
	logger *slog.Logger

	// wal holds each edit from its arrival to its journal entry: an
	// append there costs one disk sync shared by the edits of every pad
	// that arrive meanwhile (box/wal).
	wal *wal.Log

	mu     sync.Mutex
	pads   map[string]*Pad
	closed bool // after Close: no more timers, no more edits

	flags   map[string]Flags // pads staff locked or archived (flags.go)
	onFlags []func(string, Flags)

	editMu sync.Mutex // serialises Edit

	// remoteMu serialises the reading of other boxes' entries (Apply and
	// the catching up at start-up), so that the positions read, kept
	// under seenKey, only grow.
	remoteMu sync.Mutex

	// clientID names this box's own edits in every pad (a title set, an
	// import, a restored version): derived from the box's origin, so two
	// boxes never share one.
	clientID uint64
}

// New returns the pad service and flushes to the journal whatever the
// write-ahead log kept from before a crash.
func New(st *store.Store, j *journal.Journal, opts Options) (s *Service, err error) {
	o := j.Origin()
	s = &Service{st: st, j: j, window: opts.Window, logger: opts.Logger, pads: make(map[string]*Pad),
		clientID: uint64(binary.BigEndian.Uint32(o[:4])) | 1}
	if s.window <= 0 {
		s.window = DefaultWindow
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if err := s.loadFlags(); err != nil {
		return nil, err
	}
	dir := opts.WALDir
	if dir == "" {
		dir = walDir(st.Dir())
	}
	l, left, err := wal.Open(dir, wal.Options{Logger: s.logger})
	if err != nil {
		return nil, fmt.Errorf("pad: %w", err)
	}
	s.wal = l
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if err := s.recover(left); err != nil {
		return nil, err
	}
	// After recover: the pads it opened are in s.pads, and catching up
	// applies to them in memory.
	if err := s.catchUp(nil); err != nil {
		return nil, err
	}
	return s, nil
}

// WALFolder is the write-ahead log's folder in the data folder.
const WALFolder = "pad-wal"

func walDir(dataDir string) string { return filepath.Join(dataDir, WALFolder) }

// Waiting returns how many edits the write-ahead log in the data folder
// holds, when the box is not running: edits from before an unclean stop,
// some perhaps journaled already, that the next start journals.
func Waiting(dataDir string) (int, error) {
	recs, err := wal.Read(walDir(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return len(recs), err
}

// walRecord is one edit in the write-ahead log.
type walRecord struct {
	Author string
	Update []byte
	pos    wal.Pos // where it is in the write-ahead log
	// key is where an earlier version of the box kept it, in the
	// pad_wal bucket, if there: read at start-up, never written.
	key []byte
}

// encodeWAL writes a record as uvarint(len(name)), name,
// uvarint(len(author)), author, update.
func encodeWAL(name, author string, update []byte) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+len(name)+len(author)+len(update))
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(len(author)))
	b = append(b, author...)
	return append(b, update...)
}

var errDamagedRecord = errors.New("pad: damaged write-ahead record")

// decodeWAL reads a record encodeWAL wrote.
func decodeWAL(b []byte) (name string, r walRecord, err error) {
	name, b, ok := cutString(b)
	if !ok || !ValidName(name) {
		return "", walRecord{}, errDamagedRecord
	}
	r.Author, r.Update, ok = cutString(b)
	if !ok {
		return "", walRecord{}, errDamagedRecord
	}
	return name, r, nil
}

// cutString reads a uvarint length and that many bytes.
func cutString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// readLegacyWAL returns the records an earlier version of the box left
// in the pad_wal bucket, by pad: uvarint(len(author)), author, update,
// under the key name, NUL, uint64.
func (s *Service) readLegacyWAL() (map[string][]walRecord, error) {
	byPad := make(map[string][]walRecord)
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketPadWAL).ForEach(func(k, v []byte) error {
			if len(k) < 9 {
				return errDamagedRecord
			}
			author, update, ok := cutString(v)
			if !ok {
				return errDamagedRecord
			}
			name := string(k[:len(k)-9])
			byPad[name] = append(byPad[name], walRecord{Author: author, Update: bytes.Clone(update), key: bytes.Clone(k)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("pad: read write-ahead bucket: %w", err)
	}
	return byPad, nil
}

// deleteLegacyWAL removes records from the pad_wal bucket.
func deleteLegacyWAL(tx *bolt.Tx, recs []walRecord) error {
	b := tx.Bucket(store.BucketPadWAL)
	for _, r := range recs {
		if r.key != nil {
			if err := b.Delete(r.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// release tells the write-ahead log, and the bucket of earlier versions,
// that recs need not be kept any more: they are journaled, or no pad can
// apply them.
func (s *Service) release(recs []walRecord) error {
	s.wal.Release(positions(recs)...)
	if !slices.ContainsFunc(recs, func(r walRecord) bool { return r.key != nil }) {
		return nil
	}
	return s.st.Update(func(tx *bolt.Tx) error { return deleteLegacyWAL(tx, recs) })
}

// recover journals the edits the write-ahead log kept from before a
// crash. The log returns every record of a segment not wholly released,
// so some are journaled already: those the pad covers are let go.
func (s *Service) recover(left []wal.Record) error {
	byPad, err := s.readLegacyWAL()
	if err != nil {
		return err
	}
	var names []string
	for name := range byPad {
		names = append(names, name)
	}
	for _, r := range left {
		name, rec, err := decodeWAL(r.Data)
		if err != nil {
			// The log's checksum held, yet this program did not write
			// it: dropped with a log line, not read at every start.
			s.logger.Error("dropping an unreadable write-ahead record", "error", err)
			s.wal.Release(r.Pos)
			continue
		}
		rec.pos = r.Pos
		if _, ok := byPad[name]; !ok {
			names = append(names, name)
		}
		byPad[name] = append(byPad[name], rec)
	}
	for _, name := range names {
		recs := byPad[name]
		p, err := s.Open(name)
		if err != nil {
			// One damaged pad must not keep the box from starting: its
			// records stay in the log for another try.
			s.logger.Error("recovering pad edits", "pad", name, "error", err)
			continue
		}
		var done []walRecord
		p.mu.Lock()
		for _, r := range recs {
			// A record of the old bucket was never journaled (the
			// journal's entry deleted it), though that version's cache
			// may hold it: it is journaled whatever the pad holds.
			covered, err := false, error(nil)
			if r.key == nil {
				covered, err = p.doc.Covers(r.Update)
			}
			if err == nil && !covered {
				err = p.doc.ApplyUpdate(r.Update)
			}
			switch {
			case err != nil:
				s.logger.Error("dropping an unreadable write-ahead update", "pad", name, "error", err)
				done = append(done, r)
			case covered:
				done = append(done, r)
			default:
				p.unflushed = append(p.unflushed, r)
				p.size += len(r.Update)
			}
		}
		recovered := len(p.unflushed)
		p.mu.Unlock()
		// What is journaled already, or no pad can apply, is not kept to
		// be read at every start.
		if err := s.release(done); err != nil {
			s.logger.Error("dropping write-ahead updates", "pad", name, "error", err)
		}
		if err := p.flushPending(false); err != nil {
			s.logger.Error("recovering pad edits", "pad", name, "error", err)
			// They stay pending, in memory and in the log: the timer
			// tries again, as after any failed flush.
			p.mu.Lock()
			if p.timer == nil {
				p.timer = time.AfterFunc(s.window, p.flush)
			}
			p.mu.Unlock()
			continue
		}
		if recovered > 0 {
			s.logger.Info("pad edits recovered after an unclean stop", "pad", name, "count", recovered)
		}
	}
	return nil
}

// Pad is one open pad. Its methods are safe for concurrent use.
type Pad struct {
	s    *Service
	name string

	// flushMu lets one flush or catch-up at a time write the pad's
	// cache; taken before mu.
	flushMu sync.Mutex

	mu        sync.Mutex
	doc       *ydoc.Doc
	unflushed []walRecord // applied, in the write-ahead log, not yet journaled
	timer     *time.Timer
	listeners map[int]func(update []byte, origin any)
	nextID    int

	// heads are the journal positions doc includes, per origin: the last
	// sequence number of an entry about this pad that it applied. They
	// let Apply read only the entries the pad lacks, and are written to
	// the cache with the state they describe.
	heads   map[journal.Origin]uint64
	updated journal.Time // the latest entry applied

	// size is the pad's encoded size at the last flush plus the updates
	// applied since: an upper bound, checked on every edit without
	// encoding the whole pad.
	size int
}

// Open returns the pad called name, loading it from its cache and the
// journal (an unknown name is an empty pad: it exists once edited).
func (s *Service) Open(name string) (*Pad, error) {
	if !ValidName(name) {
		return nil, ErrName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pads[name]; ok {
		return p, nil
	}
	l, err := s.load(name)
	if err != nil {
		return nil, err
	}
	p := &Pad{s: s, name: name, doc: l.doc, listeners: make(map[int]func([]byte, any)), size: len(l.doc.EncodeStateAsUpdate(nil)),
		heads: l.heads, updated: l.updated}
	s.pads[name] = p
	return p, nil
}

// cacheRecord is a pad's cached state, in store.BucketPadCache under the
// pad's name. State includes every entry about the pad up to Heads[o] of
// each origin o (and may include more: Heads only says what a load can
// skip). Each write replaces the whole record with a state and the heads
// it was made with, so the record stays true whichever writer (a flush,
// Apply) comes last.
type cacheRecord struct {
	State   []byte            `json:"state"`
	Heads   map[string]uint64 `json:"heads"` // hex origin → last sequence included
	Title   string            `json:"title,omitempty"`
	Updated journal.Time      `json:"updated"`
}

// seenKey holds, in store.BucketPadCache, how far the caches reflect
// other boxes' journals: hex origin → last sequence number read. No pad
// name starts with a NUL.
var seenKey = []byte("\x00seen")

func originKey(o journal.Origin) string { return fmt.Sprintf("%x", o[:]) }

func encodeHeads(heads map[journal.Origin]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(heads))
	for o, seq := range heads {
		out[originKey(o)] = seq
	}
	return out
}

func decodeHeads(m map[string]uint64) map[journal.Origin]uint64 {
	heads := make(map[journal.Origin]uint64, len(m))
	for k, seq := range m {
		var o journal.Origin
		if b, err := hex.DecodeString(k); err == nil && len(b) == len(o) {
			copy(o[:], b)
			heads[o] = seq
		}
	}
	return heads
}

// loaded is a pad's document as load built it.
type loaded struct {
	doc     *ydoc.Doc
	heads   map[journal.Origin]uint64 // the journal positions doc includes
	updated journal.Time
	cached  bool // the cache had a readable state
	read    int  // journal entries read after the cache
}

// load builds a pad's document from its cache and the journal entries
// after it.
func (s *Service) load(name string) (loaded, error) {
	l := loaded{doc: ydoc.NewDoc(ydoc.Options{ClientID: s.clientID}), heads: make(map[journal.Origin]uint64)}
	var cache cacheRecord
	err := s.st.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(store.BucketPadCache).Get([]byte(name)); v != nil {
			return json.Unmarshal(v, &cache)
		}
		return nil
	})
	if err != nil {
		return loaded{}, fmt.Errorf("pad %s: read cache: %w", name, err)
	}
	if cache.State != nil {
		if err := l.doc.ApplyUpdate(cache.State); err != nil {
			s.logger.Warn("pad cache unreadable, rebuilding from the journal", "pad", name, "error", err)
			l.doc = ydoc.NewDoc(ydoc.Options{ClientID: s.clientID})
		} else {
			l.heads, l.updated, l.cached = decodeHeads(cache.Heads), cache.Updated, true
		}
	}
	err = s.j.TargetSince(TargetPrefix+name, l.heads, func(e journal.Entry) error {
		l.read++
		l.heads[e.Origin] = max(l.heads[e.Origin], e.Seq)
		if e.Kind != KindUpdate {
			return nil
		}
		l.updated = max(l.updated, e.Time)
		if err := l.doc.ApplyUpdate(e.Payload); err != nil {
			s.logger.Error("skipping an unreadable pad update in the journal", "pad", name, "origin", e.Origin.String(), "seq", e.Seq, "error", err)
		}
		return nil
	})
	if err != nil {
		return loaded{}, fmt.Errorf("pad %s: read journal: %w", name, err)
	}
	return l, nil
}

// Rebuild returns the pad's document built from the journal alone.
func (s *Service) Rebuild(name string) (*ydoc.Doc, error) {
	doc := ydoc.NewDoc(ydoc.Options{ClientID: s.clientID})
	err := s.j.Target(TargetPrefix+name, func(e journal.Entry) error {
		if e.Kind == KindUpdate {
			doc.ApplyUpdate(e.Payload)
		}
		return nil
	})
	return doc, err
}

// Name returns the pad's name.
func (p *Pad) Name() string { return p.name }

// Apply integrates an update from a client: written to disk first, then
// applied, then passed to every listener with origin (the sender, or nil),
// so that a listener can leave out the sender.
// A malformed update returns an error wrapping ydoc.ErrMalformed and
// changes nothing.
func (p *Pad) Apply(update []byte, author string, origin any) error {
	// Check it decodes before it reaches the disk: the write-ahead log
	// must only ever hold updates the pad can apply.
	if err := ydoc.CheckUpdate(update); err != nil {
		return err
	}
	if p.Flags().ReadOnly() {
		return ErrLocked
	}
	p.mu.Lock()
	full := p.size+len(update) > MaxBytes
	p.mu.Unlock()
	if full {
		return ErrFull
	}
	s := p.s
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	// The write-ahead log shares one disk sync among the edits of every
	// pad that arrive meanwhile.
	pos, err := s.wal.Append(encodeWAL(p.name, author, update))
	if errors.Is(err, wal.ErrClosed) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("pad %s: write-ahead: %w", p.name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Staff may have locked the pad while the update was written: under
	// the pad's lock, the flags are settled (setFlags), and the edit is
	// refused. Its record stays on disk, with the others of its segment,
	// until they are all released: appends move to a new segment now so
	// that this takes a flush window, not until the segment is full. A
	// crash meanwhile would let recovery journal it, as an edit that came
	// just before the lock.
	if p.Flags().ReadOnly() {
		s.wal.Release(pos)
		s.wal.Seal()
		return ErrLocked
	}
	if err := p.doc.ApplyUpdate(update); err != nil {
		// Cannot happen after the decode check, except for references a
		// decode cannot see; recovery would drop it too.
		s.wal.Release(pos)
		return err
	}
	// A copy of the exact size: the caller's buffer is often much larger
	// (a websocket read), and a second of edits waits here.
	p.unflushed = append(p.unflushed, walRecord{Author: author, Update: bytes.Clone(update), pos: pos})
	p.size += len(update)
	if p.timer == nil {
		p.timer = time.AfterFunc(s.window, p.flush)
	}
	for _, f := range p.listeners {
		f(update, origin)
	}
	return nil
}

// Listen registers f to receive every update applied from now on, with
// the origin Apply was given, and returns a function that removes it. f
// runs under the pad's lock: it must not block nor call the pad.
func (p *Pad) Listen(f func(update []byte, origin any)) (stop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.nextID
	p.nextID++
	p.listeners[id] = f
	return func() {
		p.mu.Lock()
		delete(p.listeners, id)
		p.mu.Unlock()
	}
}

// StateVector returns the pad's encoded state vector.
func (p *Pad) StateVector() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc.EncodeStateVector()
}

// Diff returns what the holder of the encoded state vector sv lacks.
func (p *Pad) Diff(sv []byte) ([]byte, error) {
	v, err := ydoc.DecodeStateVector(sv)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc.EncodeStateAsUpdate(v), nil
}

// Text returns the pad's text.
func (p *Pad) Text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc.Text(ContentName).String()
}

func (p *Pad) flush() {
	if err := p.flushPending(true); err != nil {
		p.s.logger.Error("writing pad edits to the journal", "pad", p.name, "error", err)
		// The write-ahead log still holds them; try again later.
		p.mu.Lock()
		if p.timer == nil {
			p.timer = time.AfterFunc(p.s.window, p.flush)
		}
		p.mu.Unlock()
	}
}

// testHookFlushing, when set by a test, runs while a flush writes, with
// the pad's lock free.
var testHookFlushing func(*Pad)

// Flush writes what is pending to the journal now (at shutdown).
func (p *Pad) Flush() error { return p.flushPending(false) }

// flushPending merges the unflushed updates into one journal entry,
// updating the cache in the same transaction, then lets the write-ahead
// log drop them. The pad's lock is held only to take what is pending
// and to drop it once written, not while the disk syncs: edits go on
// meanwhile, and are passed to the other visitors at once. Held during
// the sync, as before, it delayed every pad's edits for that long once a
// second, the p99 of the pad benchmark.
//
// A timer's flush (ifOpen) does nothing once the service is closed: Close
// has flushed, or is flushing, every pad.
func (p *Pad) flushPending(ifOpen bool) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	if ifOpen {
		p.s.mu.Lock()
		closed := p.s.closed
		p.s.mu.Unlock()
		if closed {
			return nil
		}
	}

	p.mu.Lock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	n := len(p.unflushed)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	recs := p.unflushed[:n:n]
	updates := make([][]byte, n)
	author := recs[0].Author
	for i, r := range recs {
		updates[i] = r.Update
		if r.Author != author {
			author = ""
		}
	}
	// The state holds exactly what the journal will: what it held at
	// heads, and the entry this flush appends.
	state := p.doc.EncodeStateAsUpdate(nil)
	title := p.titleLocked()
	heads := maps.Clone(p.heads)
	p.mu.Unlock()
	if testHookFlushing != nil {
		testHookFlushing(p)
	}

	merged, err := ydoc.MergeUpdates(updates...)
	if err != nil {
		return err
	}
	var at journal.Time
	_, err = p.s.j.AppendWith(func(tx *bolt.Tx, entries []journal.Entry) error {
		if err := deleteLegacyWAL(tx, recs); err != nil {
			return err
		}
		e := entries[len(entries)-1]
		heads[e.Origin] = e.Seq
		at = e.Time
		return writeCache(tx, p.name, state, title, heads, at)
	}, journal.Draft{Kind: KindUpdate, Target: TargetPrefix + p.name, Author: author, Payload: merged})
	if err != nil {
		return err
	}
	p.s.wal.Release(positions(recs)...)

	p.mu.Lock()
	defer p.mu.Unlock()
	// Edits applied meanwhile stay pending, and Apply has set the timer
	// for them.
	p.unflushed = slices.Clone(p.unflushed[n:])
	p.size = len(state)
	for _, r := range p.unflushed {
		p.size += len(r.Update)
	}
	// Only a catch-up changes heads otherwise, and it waits for flushMu.
	p.heads, p.updated = heads, max(p.updated, at)
	return nil
}

// positions returns where recs are in the write-ahead log (the old
// bucket's records are not there).
func positions(recs []walRecord) []wal.Pos {
	out := make([]wal.Pos, 0, len(recs))
	for _, r := range recs {
		if r.key == nil {
			out = append(out, r.pos)
		}
	}
	return out
}

// writeCache replaces the pad's cache with state, which includes the
// journal's entries about it up to heads. The time of the last edit only
// moves forward.
func writeCache(tx *bolt.Tx, name string, state []byte, title string, heads map[journal.Origin]uint64, updated journal.Time) error {
	b := tx.Bucket(store.BucketPadCache)
	var old struct {
		Updated journal.Time `json:"updated"`
	}
	if v := b.Get([]byte(name)); v != nil {
		json.Unmarshal(v, &old)
	}
	v, err := json.Marshal(cacheRecord{State: state, Heads: encodeHeads(heads), Title: title, Updated: max(old.Updated, updated)})
	if err != nil {
		return err
	}
	return b.Put([]byte(name), v)
}

// Apply brings the pads up to date with entries of other boxes that
// journal.Ingest stored: call it after Ingest, with the entries it was
// given. For every pad that a pad.update entry touches, an open pad
// applies the journal's updates it lacks and passes each to its listeners
// with a nil origin, as it does a browser's update, and the pad's cache
// (what List reads) is brought up to date. Nothing is appended to the
// journal, and the edits under way in the pad's coalescing window are
// left as they are.
//
// The updates are read from the journal, not from entries: entries say
// which boxes to read (this box's own entries and other kinds are
// ignored), and whatever of those boxes Apply had not read yet is read
// too, so that a missed call loses nothing. Applying again changes
// nothing. Apply is safe for concurrent use, also after Close.
func (s *Service) Apply(entries ...journal.Entry) error {
	origins := make(map[journal.Origin]bool)
	for _, e := range entries {
		if e.Origin != s.j.Origin() && (e.Kind == KindUpdate || e.Kind == KindLock || e.Kind == KindArchive) {
			origins[e.Origin] = true
		}
	}
	if len(origins) == 0 {
		return nil
	}
	return s.catchUp(origins)
}

// catchUp applies the pad updates of other boxes that reached the journal
// after the caches last read it: of the origins given, or of all when
// origins is nil.
func (s *Service) catchUp(origins map[journal.Origin]bool) error {
	s.remoteMu.Lock()
	defer s.remoteMu.Unlock()
	heads, err := s.j.Heads()
	if err != nil {
		return fmt.Errorf("pad: journal heads: %w", err)
	}
	seen := make(map[string]uint64)
	err = s.st.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(store.BucketPadCache).Get(seenKey); v != nil {
			return json.Unmarshal(v, &seen)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pad: read positions: %w", err)
	}
	names := make(map[string]bool)
	read := make(map[string]uint64)
	var decisions []journal.Entry // lock and archive entries
	for o, head := range heads {
		key := originKey(o)
		if o == s.j.Origin() || (origins != nil && !origins[o]) || head <= seen[key] {
			continue
		}
		err := s.j.Since(o, seen[key], func(e journal.Entry) error {
			read[key] = e.Seq
			if e.Kind == KindLock || e.Kind == KindArchive {
				decisions = append(decisions, e)
			}
			if name, ok := strings.CutPrefix(e.Target, TargetPrefix); ok && e.Kind == KindUpdate && ValidName(name) {
				names[name] = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("pad: read journal of %v: %w", o, err)
		}
	}
	var errs []error
	if err := s.applyFlags(decisions); err != nil {
		errs = append(errs, err)
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if err := s.refresh(name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The positions stay where they were: the next call tries again.
		return errors.Join(errs...)
	}
	if len(read) == 0 {
		return nil
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketPadCache)
		cur := make(map[string]uint64)
		if v := b.Get(seenKey); v != nil {
			json.Unmarshal(v, &cur)
		}
		for k, seq := range read {
			cur[k] = max(cur[k], seq)
		}
		v, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		return b.Put(seenKey, v)
	})
	if err != nil {
		return fmt.Errorf("pad: write positions: %w", err)
	}
	return nil
}

// refresh brings one pad up to date with the journal: in memory if it is
// open, in its cache either way.
func (s *Service) refresh(name string) error {
	s.mu.Lock()
	p, open := s.pads[name]
	s.mu.Unlock()
	if open {
		return p.catchUp()
	}
	// Not open: its cache alone. Should the pad be opened meanwhile, it
	// loads the journal's entries itself, and the cache written here, like
	// any, holds a state with the heads it includes.
	l, err := s.load(name)
	if err != nil {
		return err
	}
	if l.cached && l.read == 0 {
		return nil
	}
	state := l.doc.EncodeStateAsUpdate(nil)
	err = s.st.Update(func(tx *bolt.Tx) error {
		return writeCache(tx, name, state, titleOf(l.doc, name), l.heads, l.updated)
	})
	if err != nil {
		return fmt.Errorf("pad %s: write cache: %w", name, err)
	}
	return nil
}

// catchUp applies the journal's entries about the pad that it lacks, and
// passes their updates to the listeners.
func (p *Pad) catchUp() error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	var updates [][]byte
	heads := maps.Clone(p.heads)
	updated := p.updated
	err := p.s.j.TargetSince(TargetPrefix+p.name, p.heads, func(e journal.Entry) error {
		heads[e.Origin] = max(heads[e.Origin], e.Seq)
		if e.Kind != KindUpdate {
			return nil
		}
		updated = max(updated, e.Time)
		// Like a browser's update, it must apply whole or not at all, but
		// unlike one it cannot be refused: it is in the journal already.
		if err := ydoc.CheckUpdate(e.Payload); err != nil {
			p.s.logger.Error("skipping an unreadable pad update in the journal", "pad", p.name, "origin", e.Origin.String(), "seq", e.Seq, "error", err)
			return nil
		}
		if err := p.doc.ApplyUpdate(e.Payload); err != nil {
			p.s.logger.Error("skipping an unreadable pad update in the journal", "pad", p.name, "origin", e.Origin.String(), "seq", e.Seq, "error", err)
			return nil
		}
		updates = append(updates, e.Payload)
		return nil
	})
	if err != nil {
		return fmt.Errorf("pad %s: read journal: %w", p.name, err)
	}
	if maps.Equal(heads, p.heads) {
		return nil
	}
	p.heads, p.updated = heads, updated
	if len(updates) == 0 {
		return nil
	}
	for _, u := range updates {
		for _, f := range p.listeners {
			f(u, nil)
		}
	}
	// The cache must hold only what the journal holds: recovery lets go
	// of the write-ahead records a loaded pad covers. With edits pending,
	// the flush already due writes it, from a state and heads taken
	// together with them.
	if len(p.unflushed) > 0 {
		for _, u := range updates {
			p.size += len(u)
		}
		return nil
	}
	state := p.doc.EncodeStateAsUpdate(nil)
	p.size = len(state)
	err = p.s.st.Update(func(tx *bolt.Tx) error {
		return writeCache(tx, p.name, state, p.titleLocked(), p.heads, p.updated)
	})
	if err != nil {
		// The pad is right in memory; the next flush writes the cache.
		return fmt.Errorf("pad %s: write cache: %w", p.name, err)
	}
	return nil
}

// Flush journals every open pad's pending edits now: before a backup,
// which copies the database and not the write-ahead log.
func (s *Service) Flush() error {
	s.mu.Lock()
	pads := make([]*Pad, 0, len(s.pads))
	for _, p := range s.pads {
		pads = append(pads, p)
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range pads {
		if err := p.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close flushes every open pad.
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if err := s.Flush(); err != nil {
		errs = append(errs, err)
	}
	// Edits of an Apply that began before Close and ends after it stay
	// in the log, for the next start.
	if err := s.wal.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// MetaName is the Y.Map holding a pad's metadata; its "title" key is the
// pad's title.
const MetaName = "meta"

// MaxTitle bounds a title, in characters.
const MaxTitle = 120

func (p *Pad) titleLocked() string { return titleOf(p.doc, p.name) }

// titleOf returns a pad's title, or its name when it has none.
func titleOf(doc *ydoc.Doc, name string) string {
	if v, ok := doc.Map(MetaName).Get("title"); ok {
		if t, ok := v.(string); ok && t != "" {
			return t
		}
	}
	return name
}

// Title returns the pad's title, or its name when it has none.
func (p *Pad) Title() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.titleLocked()
}

// Edit makes a change as this box (setting a title, importing a file,
// restoring a version), stored like any client's edit.
//
// The edit is made on a copy of the pad and reaches the pad only through
// Apply, like any client's: written to disk first, refused whole if the
// pad is full. Edits of this box are made one at a time, since they share
// its client ID.
func (p *Pad) Edit(author string, f func(d *ydoc.Doc) error) error {
	if p.Flags().ReadOnly() {
		return ErrLocked // even an edit that would change nothing
	}
	p.s.editMu.Lock()
	defer p.s.editMu.Unlock()
	p.mu.Lock()
	state := p.doc.EncodeStateAsUpdate(nil)
	p.mu.Unlock()
	scratch := ydoc.NewDoc(ydoc.Options{ClientID: p.s.clientID})
	if err := scratch.ApplyUpdate(state); err != nil {
		return err
	}
	var ferr error
	update := scratch.Transact(func(*ydoc.Transaction) { ferr = f(scratch) })
	if ferr != nil {
		return ferr
	}
	if update == nil {
		return nil
	}
	return p.Apply(update, author, nil)
}

// Info describes a pad for the list.
type Info struct {
	Name    string
	Title   string
	Updated time.Time
	Flags   Flags // locked or archived by staff
}

// List returns every pad that has been written to, here or at another
// box, newest first: it reads the pads' caches, which every flush and
// Apply keep up to date.
func (s *Service) List() ([]Info, error) {
	var out []Info
	// A copy: the service's lock is not taken inside a transaction.
	s.mu.Lock()
	flags := maps.Clone(s.flags)
	s.mu.Unlock()
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketPadCache).ForEach(func(k, v []byte) error {
			if len(k) > 0 && k[0] == 0 {
				return nil // seenKey
			}
			var c struct {
				Title   string       `json:"title"`
				Updated journal.Time `json:"updated"`
			}
			if err := json.Unmarshal(v, &c); err != nil {
				return nil
			}
			title := c.Title
			if title == "" {
				title = string(k)
			}
			out = append(out, Info{Name: string(k), Title: title, Updated: c.Updated.Wall(), Flags: flags[string(k)]})
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Info) int { return b.Updated.Compare(a.Updated) })
	return out, err
}

// Version is one stored state of a pad: the journal entry that made it.
type Version struct {
	ID     string // origin and sequence number, as in a URL
	Time   time.Time
	Author string // pseudonymous visitor ID, "" for several or unknown
}

// VersionID names the version of a pad that entry e made, as its history
// pages do.
func VersionID(e journal.Entry) string { return fmt.Sprintf("%x-%d", e.Origin[:8], e.Seq) }

// entries returns the pad's journal entries in time order.
func (s *Service) entries(name string) ([]journal.Entry, error) {
	var es []journal.Entry
	err := s.j.Target(TargetPrefix+name, func(e journal.Entry) error {
		if e.Kind == KindUpdate {
			es = append(es, e)
		}
		return nil
	})
	slices.SortStableFunc(es, func(a, b journal.Entry) int {
		switch {
		case a.Time < b.Time:
			return -1
		case a.Time > b.Time:
			return 1
		}
		return 0
	})
	return es, err
}

// History returns the pad's versions, newest first.
func (s *Service) History(name string) ([]Version, error) {
	es, err := s.entries(name)
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, Version{ID: VersionID(es[i]), Time: es[i].Time.Wall(), Author: es[i].Author})
	}
	return out, nil
}

// ErrNoVersion is returned for a version the pad does not have.
var ErrNoVersion = errors.New("pad: no such version")

// At returns the pad's text as it was at a version: the journal's updates
// up to it, in time order, applied to an empty document.
func (s *Service) At(name, id string) (string, Version, error) {
	es, err := s.entries(name)
	if err != nil {
		return "", Version{}, err
	}
	doc := ydoc.NewDoc(ydoc.Options{ClientID: s.clientID})
	for _, e := range es {
		doc.ApplyUpdate(e.Payload)
		if VersionID(e) == id {
			return doc.Text(ContentName).String(), Version{ID: id, Time: e.Time.Wall(), Author: e.Author}, nil
		}
	}
	return "", Version{}, ErrNoVersion
}

// Restore makes the pad's text what it was at a version, as a new edit by
// author: nothing is erased, and the restore itself is a version.
func (s *Service) Restore(name, id, author string) error {
	old, _, err := s.At(name, id)
	if err != nil {
		return err
	}
	p, err := s.Open(name)
	if err != nil {
		return err
	}
	return p.Edit(author, func(d *ydoc.Doc) error {
		txt := d.Text(ContentName)
		cur := txt.String()
		// Only the part that differs changes, so concurrent edits
		// elsewhere in the pad survive the restore.
		pre := commonPrefix(cur, old)
		suf := commonSuffix(cur[pre:], old[pre:])
		from, del := utf16Units(cur[:pre]), utf16Units(cur[pre:len(cur)-suf])
		if err := txt.Delete(from, del); err != nil {
			return err
		}
		return txt.Insert(from, old[pre:len(old)-suf])
	})
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	// Back to a character boundary.
	for n > 0 && n < len(a) && !utf8.RuneStart(a[n]) {
		n--
	}
	return n
}

func commonSuffix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	for n > 0 && n < len(a) && !utf8.RuneStart(a[len(a)-n]) {
		n--
	}
	return n
}

// utf16Units is the length of s in UTF-16 units, Yjs's positions.
func utf16Units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
