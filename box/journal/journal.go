// Package journal is the box's record of everything written at it, and the
// copies it holds of other boxes' records: the single source of truth from
// which pads, chat and the drive's metadata are derived (DESIGN.md §2).
//
// Each box appends only to its own journal. An entry has the box's origin
// ID, a dense sequence number starting at 1, a hybrid logical clock time, a
// kind, a target (a pad, a channel, a file), the author's pseudonym and a
// payload. Entries of other boxes are stored exactly as they came, so
// merging two boxes' knowledge is the union of their journals: nothing can
// conflict. Every entry is committed to disk (bbolt fsyncs each write
// transaction) before Append returns, so whatever a caller acknowledges or
// broadcasts afterwards survives a power cut.
//
// # Who may import it
//
// Any package under box/, and portal and sync through the services built
// on it. It does no networking.
package journal

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// Origin identifies a box: the 32 bytes of its device ID.
type Origin [32]byte

func (o Origin) String() string { return hex.EncodeToString(o[:4]) }

// Kind says what an entry is, such as "pad.update" or "chat.post". The
// services that write entries define their kinds.
type Kind string

// Entry is one journal entry.
type Entry struct {
	Origin  Origin
	Seq     uint64
	Time    Time
	Kind    Kind
	Target  string
	Author  string
	Payload []byte
	// Erased marks an entry whose content was erased (erase.go): its
	// target, author and payload are zero bytes of their former lengths.
	Erased bool
}

// Draft is what a caller appends; the journal assigns origin, sequence
// number and time.
type Draft struct {
	Kind    Kind
	Target  string
	Author  string
	Payload []byte
}

// Errors.
var (
	// ErrGap is returned by Ingest for an entry whose predecessor from
	// the same origin is missing.
	ErrGap = errors.New("journal: entry out of sequence")
	// ErrConflict is returned by Ingest for an entry whose origin and
	// sequence number are stored with other content.
	ErrConflict = errors.New("journal: different entry with the same origin and sequence")
	// ErrOwnOrigin is returned by Ingest for an entry claiming to come
	// from this box: only Append writes those.
	ErrOwnOrigin = errors.New("journal: entry from this box's own origin")
	// ErrInvalid is returned for a draft that cannot be stored.
	ErrInvalid = errors.New("journal: invalid entry")
)

// Options configure Open.
type Options struct {
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
	// Erasable are the kinds an erasure request may erase (erase.go);
	// entries of other kinds are never erased.
	Erasable []Kind
	// Logged are the kinds whose entries are also indexed by time, from
	// every origin, for a log that pages through them newest first (the
	// staff's moderation log) without reading the whole journal. The
	// index is written in the transaction that appends or ingests each
	// entry. Open rebuilds it, reading the journal once, when the list
	// differs from the one it was built with, and indexes what was
	// stored meanwhile by a Journal opened without a list. nil leaves
	// the index as it is (a reader, such as an export, needs nothing
	// more) and Log then reads it as it was.
	Logged []Kind
}

// Journal appends to this box's journal and stores other boxes' entries.
// It is safe for concurrent use.
type Journal struct {
	st     *store.Store
	origin Origin

	mu    sync.Mutex // serialises appends and the clock
	clock clock

	erasable map[Kind]bool
	logged   map[Kind]bool // kinds indexed in store.BucketJournalLog

	watchMu  sync.Mutex
	watchers []func(Origin, uint64)
	erasedW  []func(Origin, uint64)
}

// Watch registers f, called after every commit that adds entries, with
// their origin and the origin's new last sequence number. f runs on the
// writer's goroutine, so it must only take note (signal a channel) and
// return; box-to-box sync uses it to announce what grew.
func (j *Journal) Watch(f func(o Origin, head uint64)) {
	j.watchMu.Lock()
	defer j.watchMu.Unlock()
	j.watchers = append(j.watchers, f)
}

func (j *Journal) notify(heads map[Origin]uint64) {
	j.watchMu.Lock()
	ws := j.watchers
	j.watchMu.Unlock()
	callAll(ws, heads)
}

// callAll calls each of fs with each origin of m and its number.
func callAll(fs []func(Origin, uint64), m map[Origin]uint64) {
	for o, n := range m {
		for _, f := range fs {
			f(o, n)
		}
	}
}

// Bucket layout inside store.BucketJournal: one nested bucket per origin,
// entries keyed by big-endian sequence number; and store.BucketJournalIndex
// keyed target, 0x00, origin, seq for reading one pad's or channel's
// entries across origins.

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func indexKey(target string, o Origin, seq uint64) []byte {
	k := make([]byte, 0, len(target)+1+32+8)
	k = append(k, target...)
	k = append(k, 0)
	k = append(k, o[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// Open opens the journal of the box origin in an open store.
func Open(st *store.Store, origin Origin, opts Options) (*Journal, error) {
	j := &Journal{st: st, origin: origin, clock: clock{now: opts.Now}, erasable: make(map[Kind]bool), logged: make(map[Kind]bool)}
	for _, k := range opts.Erasable {
		j.erasable[k] = true
	}
	if j.clock.now == nil {
		j.clock.now = time.Now
	}
	for _, k := range opts.Logged {
		j.logged[k] = true
	}
	if opts.Logged != nil {
		if err := j.checkLog(); err != nil {
			return nil, fmt.Errorf("journal: open: %w", err)
		}
	}
	// The clock resumes after the latest time stored, so that a box
	// whose wall clock went back (a Pi without a real-time clock boots
	// in 1970 or in the past) still orders new entries after old ones.
	err := st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketJournal).ForEachBucket(func(k []byte) error {
			b := tx.Bucket(store.BucketJournal).Bucket(k)
			if _, v := b.Cursor().Last(); v != nil {
				e, _, err := Decode(v)
				if err != nil {
					return err
				}
				if e.Origin == origin {
					j.clock.last = max(j.clock.last, e.Time)
				} else {
					j.clock.observe(e.Time)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal: open: %w", err)
	}
	return j, nil
}

// Origin returns this box's origin.
func (j *Journal) Origin() Origin { return j.origin }

// Append adds drafts to this box's journal, in one transaction committed to
// disk before it returns, and returns the stored entries.
func (j *Journal) Append(drafts ...Draft) ([]Entry, error) {
	return j.AppendWith(nil, drafts...)
}

// AppendWith is Append that also runs also (if not nil) in the same
// transaction, so that a service can record what the entries replace (a
// write-ahead log it empties, a cache it updates) atomically with them.
func (j *Journal) AppendWith(also func(tx *bolt.Tx, entries []Entry) error, drafts ...Draft) ([]Entry, error) {
	for _, d := range drafts {
		if err := checkDraft(d); err != nil {
			return nil, err
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	saved := j.clock.last
	var out []Entry
	erased := make(map[Origin]uint64)
	err := j.st.Update(func(tx *bolt.Tx) error {
		clear(erased)
		b, err := tx.Bucket(store.BucketJournal).CreateBucketIfNotExists(j.origin[:])
		if err != nil {
			return err
		}
		idx := tx.Bucket(store.BucketJournalIndex)
		seq := uint64(0)
		if k, _ := b.Cursor().Last(); k != nil {
			seq = binary.BigEndian.Uint64(k)
		}
		out = out[:0]
		for _, d := range drafts {
			seq++
			e := Entry{Origin: j.origin, Seq: seq, Time: j.clock.next(), Kind: d.Kind, Target: d.Target, Author: d.Author, Payload: d.Payload}
			if err := b.Put(seqKey(seq), e.Encode()); err != nil {
				return err
			}
			if err := idx.Put(indexKey(e.Target, e.Origin, e.Seq), nil); err != nil {
				return err
			}
			if err := j.logEntry(tx, e); err != nil {
				return err
			}
			out = append(out, e)
		}
		if err := j.applyErasures(tx, out, erased); err != nil {
			return err
		}
		if err := j.logHead(tx, j.origin, seq); err != nil {
			return err
		}
		if also != nil {
			return also(tx, out)
		}
		return nil
	})
	if err != nil {
		// The times handed out were not stored: give them back, so the
		// clock does not run ahead for nothing.
		j.clock.last = saved
		return nil, fmt.Errorf("journal: append: %w", err)
	}
	if len(out) > 0 {
		j.notify(map[Origin]uint64{j.origin: out[len(out)-1].Seq})
	}
	j.notifyErased(erased)
	return out, nil
}

// checkEntry checks an entry from another box as checkDraft checks a
// draft; an erased entry's target is zero bytes, which a draft's may not be.
func checkEntry(e Entry) error {
	d := Draft{e.Kind, e.Target, e.Author, e.Payload}
	if e.Erased {
		return checkSizes(d)
	}
	return checkDraft(d)
}

func checkDraft(d Draft) error {
	if err := checkSizes(d); err != nil {
		return err
	}
	for i := 0; i < len(d.Target); i++ {
		if d.Target[i] == 0 {
			return fmt.Errorf("%w: NUL in target", ErrInvalid)
		}
	}
	return nil
}

// checkSizes checks what every stored entry must respect.
func checkSizes(d Draft) error {
	switch {
	case d.Kind == "" || len(d.Kind) > maxString:
		return fmt.Errorf("%w: kind %q", ErrInvalid, d.Kind)
	case len(d.Target) > maxString || len(d.Author) > maxString:
		return fmt.Errorf("%w: target or author too long", ErrInvalid)
	case len(d.Payload) > MaxPayload:
		return fmt.Errorf("%w: payload of %d bytes", ErrInvalid, len(d.Payload))
	}
	return nil
}

// Ingest stores entries from other boxes, as they came. Each must follow
// the last stored entry of its origin (or be already stored, identically,
// which changes nothing). It returns how many were new.
func (j *Journal) Ingest(entries ...Entry) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	added := 0
	grown := make(map[Origin]uint64)
	erased := make(map[Origin]uint64)
	err := j.st.Update(func(tx *bolt.Tx) error {
		clear(grown)
		clear(erased)
		added = 0
		idx := tx.Bucket(store.BucketJournalIndex)
		var stored []Entry
		for _, e := range entries {
			if e.Origin == j.origin {
				return ErrOwnOrigin
			}
			if err := checkEntry(e); err != nil {
				return err
			}
			b, err := tx.Bucket(store.BucketJournal).CreateBucketIfNotExists(e.Origin[:])
			if err != nil {
				return err
			}
			last := uint64(0)
			if k, _ := b.Cursor().Last(); k != nil {
				last = binary.BigEndian.Uint64(k)
			}
			frame := e.Encode()
			switch {
			case e.Seq == 0 || e.Seq > last+1:
				return fmt.Errorf("%w: %v seq %d after %d", ErrGap, e.Origin, e.Seq, last)
			case e.Seq <= last:
				old := b.Get(seqKey(e.Seq))
				if string(old) == string(frame) {
					continue
				}
				// The origin erased the entry since this box copied
				// it (or the other way round): the erased form wins.
				was, _, err := Decode(old)
				switch {
				case err == nil && e.Erased && !was.Erased && blankOf(e, was):
					if err := j.blank(tx, b, was, erased); err != nil {
						return err
					}
					continue
				case err == nil && was.Erased && !e.Erased && blankOf(was, e):
					continue
				}
				return fmt.Errorf("%w: %v seq %d", ErrConflict, e.Origin, e.Seq)
			}
			if err := b.Put(seqKey(e.Seq), frame); err != nil {
				return err
			}
			if !e.Erased {
				if err := idx.Put(indexKey(e.Target, e.Origin, e.Seq), nil); err != nil {
					return err
				}
			}
			if err := j.logEntry(tx, e); err != nil {
				return err
			}
			grown[e.Origin] = e.Seq
			stored = append(stored, e)
			added++
		}
		for o, seq := range grown {
			if err := j.logHead(tx, o, seq); err != nil {
				return err
			}
		}
		return j.applyErasures(tx, stored, erased)
	})
	if err != nil {
		return 0, fmt.Errorf("journal: ingest: %w", err)
	}
	for _, e := range entries {
		j.clock.observe(e.Time)
	}
	j.notify(grown)
	j.notifyErased(erased)
	return added, nil
}

// Heads returns, per origin, the last sequence number stored.
func (j *Journal) Heads() (map[Origin]uint64, error) {
	heads := make(map[Origin]uint64)
	err := j.st.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(store.BucketJournal)
		return root.ForEachBucket(func(k []byte) error {
			var o Origin
			copy(o[:], k)
			if last, _ := root.Bucket(k).Cursor().Last(); last != nil {
				heads[o] = binary.BigEndian.Uint64(last)
			}
			return nil
		})
	})
	return heads, err
}

// Since calls f for each entry of origin after sequence number after, in
// order, until f returns an error (which Since returns).
func (j *Journal) Since(origin Origin, after uint64, f func(Entry) error) error {
	return j.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketJournal).Bucket(origin[:])
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil; k, v = c.Next() {
			e, _, err := Decode(v)
			if err != nil {
				return fmt.Errorf("journal: %v seq %d: %w", origin, binary.BigEndian.Uint64(k), err)
			}
			if err := f(e); err != nil {
				return err
			}
		}
		return nil
	})
}

// Target calls f for every entry about target, from every origin, origin
// by origin in sequence order. Callers that need one order across origins
// sort by Time.
func (j *Journal) Target(target string, f func(Entry) error) error {
	return j.TargetSince(target, nil, f)
}

// TargetSince is Target for the entries after heads[origin] of each origin
// (all of an origin missing from heads).
func (j *Journal) TargetSince(target string, heads map[Origin]uint64, f func(Entry) error) error {
	prefix := append([]byte(target), 0)
	return j.st.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(store.BucketJournal)
		c := tx.Bucket(store.BucketJournalIndex).Cursor()
		for k, _ := c.Seek(prefix); k != nil && len(k) == len(prefix)+40 && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			rest := k[len(prefix):]
			var o Origin
			copy(o[:], rest[:32])
			if head, ok := heads[o]; ok && binary.BigEndian.Uint64(rest[32:]) <= head {
				// Skip to this origin's first entry after head.
				k, _ = c.Seek(indexKey(target, o, head+1))
				if k == nil {
					break
				}
				c.Prev()
				continue
			}
			b := root.Bucket(rest[:32])
			if b == nil {
				continue
			}
			v := b.Get(rest[32:])
			if v == nil {
				continue
			}
			e, _, err := Decode(v)
			if err != nil {
				return err
			}
			if err := f(e); err != nil {
				return err
			}
		}
		return nil
	})
}
