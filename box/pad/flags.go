package pad

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// Staff lock and archive pads: each decision is a journal entry about the
// pad, so it reaches linked boxes like an edit.
//
// A locked pad is read-only: Apply refuses every edit with ErrLocked (a
// browser's, a restore, an import), while its text, history and exports
// still read. An archived pad is locked too, and left out of the list
// visitors see. Staff unlock a pad to edit it again.
//
// Edits other boxes journaled are always applied, even after a lock: they
// may have been made before that box heard of the lock, and a pad must
// read the same everywhere.
//
// Each flag is decided by its latest entry: the greatest (time, origin,
// sequence number), so boxes that receive the entries in any order
// settle on the same state.

// Journal kinds of staff decisions about a pad.
const (
	KindLock    journal.Kind = "pad.lock"    // LockPayload
	KindArchive journal.Kind = "pad.archive" // ArchivePayload
)

// MaxNote bounds a staff note, in bytes.
const MaxNote = 500

// ErrLocked is returned by Apply (and so Edit and Restore) for a pad staff
// locked or archived.
var ErrLocked = errors.New("pad: this pad is locked")

// ErrNote is returned for a staff note longer than MaxNote.
var ErrNote = fmt.Errorf("pad: a note is at most %d bytes", MaxNote)

// LockPayload is the payload of a KindLock entry.
type LockPayload struct {
	Locked bool   `json:"locked"`
	Note   string `json:"note,omitempty"` // why, in the staff's words
}

// ArchivePayload is the payload of a KindArchive entry.
type ArchivePayload struct {
	Archived bool   `json:"archived"`
	Note     string `json:"note,omitempty"`
}

// Flags are a pad's staff state. The zero value is an open pad.
type Flags struct {
	Locked   bool
	Archived bool
}

// ReadOnly reports whether the pad takes no edits: locked or archived.
func (f Flags) ReadOnly() bool { return f.Locked || f.Archived }

// stamp names the entry that decided a flag.
type stamp struct {
	Time   journal.Time `json:"t,omitempty"`
	Origin string       `json:"o,omitempty"` // hex
	Seq    uint64       `json:"s,omitempty"`
}

func stampOf(e journal.Entry) stamp {
	return stamp{Time: e.Time, Origin: hex.EncodeToString(e.Origin[:]), Seq: e.Seq}
}

// after reports whether a comes after b: time, then origin, then sequence.
func (a stamp) after(b stamp) bool {
	if a.Time != b.Time {
		return a.Time > b.Time
	}
	if a.Origin != b.Origin {
		return a.Origin > b.Origin
	}
	return a.Seq > b.Seq
}

// flagState is a pad's record in store.BucketPadFlags.
type flagState struct {
	Locked    bool  `json:"locked,omitempty"`
	LockedBy  stamp `json:"lockedBy"`
	Archived  bool  `json:"archived,omitempty"`
	ArchiveBy stamp `json:"archivedBy"`
}

func (st flagState) flags() Flags { return Flags{Locked: st.Locked, Archived: st.Archived} }

// applyFlag derives one lock or archive entry into the pad's record and
// returns the pad's name and its flags after it. Entries of other kinds,
// or that make no sense (they may come from a newer box), change nothing.
func applyFlag(tx *bolt.Tx, e journal.Entry) (string, Flags, bool, error) {
	name, ok := strings.CutPrefix(e.Target, TargetPrefix)
	if !ok || !ValidName(name) || (e.Kind != KindLock && e.Kind != KindArchive) {
		return "", Flags{}, false, nil
	}
	b := tx.Bucket(store.BucketPadFlags)
	var st flagState
	if v := b.Get([]byte(name)); v != nil {
		json.Unmarshal(v, &st)
	}
	s := stampOf(e)
	switch e.Kind {
	case KindLock:
		var p LockPayload
		if json.Unmarshal(e.Payload, &p) != nil || !s.after(st.LockedBy) {
			return name, st.flags(), false, nil
		}
		st.Locked, st.LockedBy = p.Locked, s
	case KindArchive:
		var p ArchivePayload
		if json.Unmarshal(e.Payload, &p) != nil || !s.after(st.ArchiveBy) {
			return name, st.flags(), false, nil
		}
		st.Archived, st.ArchiveBy = p.Archived, s
	}
	v, err := json.Marshal(st)
	if err != nil {
		return "", Flags{}, false, err
	}
	return name, st.flags(), true, b.Put([]byte(name), v)
}

// loadFlags reads every pad's flags, for the service's memory.
func (s *Service) loadFlags() error {
	flags := make(map[string]Flags)
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketPadFlags).ForEach(func(k, v []byte) error {
			var st flagState
			if json.Unmarshal(v, &st) == nil && st.flags() != (Flags{}) {
				flags[string(k)] = st.flags()
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("pad: read flags: %w", err)
	}
	s.mu.Lock()
	s.flags = flags
	s.mu.Unlock()
	return nil
}

// Flags returns the pad's staff state.
func (s *Service) Flags(name string) Flags {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flags[name]
}

// Flags returns the pad's staff state.
func (p *Pad) Flags() Flags { return p.s.Flags(p.name) }

// OnFlags registers f, called after a pad's flags changed (here or by an
// entry from another box), with the new flags. f must not block; the web
// side uses it to turn open editors read-only at once.
func (s *Service) OnFlags(f func(name string, fl Flags)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onFlags = append(s.onFlags, f)
}

// setFlags records flags in memory and tells the listeners. An open pad's
// lock is held meanwhile, so that every edit Apply let through comes
// before the change.
func (s *Service) setFlags(changed map[string]Flags) {
	for name, fl := range changed {
		s.mu.Lock()
		p, same := s.pads[name], s.flags[name] == fl
		s.mu.Unlock()
		if same {
			continue
		}
		if p != nil {
			p.mu.Lock()
		}
		s.mu.Lock()
		if fl == (Flags{}) {
			delete(s.flags, name)
		} else {
			s.flags[name] = fl
		}
		fs := s.onFlags
		s.mu.Unlock()
		if p != nil {
			p.mu.Unlock()
		}
		for _, f := range fs {
			f(name, fl)
		}
	}
}

// Lock locks (or, with locked false, unlocks) the pad called name, as
// staff: author signs the journal entry, note says why ("" for nothing).
func (s *Service) Lock(name string, locked bool, author, note string) error {
	payload, err := json.Marshal(LockPayload{Locked: locked, Note: note})
	if err != nil {
		return err
	}
	return s.decide(name, KindLock, author, note, payload)
}

// Archive archives (or brings back) the pad called name, as staff.
func (s *Service) Archive(name string, archived bool, author, note string) error {
	payload, err := json.Marshal(ArchivePayload{Archived: archived, Note: note})
	if err != nil {
		return err
	}
	return s.decide(name, KindArchive, author, note, payload)
}

func (s *Service) decide(name string, kind journal.Kind, author, note string, payload []byte) error {
	if !ValidName(name) {
		return ErrName
	}
	if len(note) > MaxNote {
		return ErrNote
	}
	changed := make(map[string]Flags)
	_, err := s.j.AppendWith(func(tx *bolt.Tx, entries []journal.Entry) error {
		clear(changed)
		n, fl, ok, err := applyFlag(tx, entries[0])
		if ok {
			changed[n] = fl
		}
		return err
	}, journal.Draft{Kind: kind, Target: TargetPrefix + name, Author: author, Payload: payload})
	if err != nil {
		return fmt.Errorf("pad %s: %s: %w", name, kind, err)
	}
	s.logger.Info("pad changed by staff", "pad", name, "kind", string(kind))
	s.setFlags(changed)
	return nil
}

// applyFlags derives other boxes' lock and archive entries, read from the
// journal, and tells the listeners what changed.
func (s *Service) applyFlags(entries []journal.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	changed := make(map[string]Flags)
	err := s.st.Update(func(tx *bolt.Tx) error {
		clear(changed)
		for _, e := range entries {
			name, fl, ok, err := applyFlag(tx, e)
			if err != nil {
				return err
			}
			if ok {
				changed[name] = fl
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pad: apply lock and archive entries: %w", err)
	}
	s.setFlags(changed)
	return nil
}
