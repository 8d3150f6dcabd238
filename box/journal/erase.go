package journal

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// Erasure (DESIGN.md §2, and the privacy promise of the box): a visitor
// may have what they wrote erased, and staff may have old messages purged.
// Hiding is the services' business (a chat deletion, a drive removal);
// erasure makes the bytes go away from every journal too.
//
// A request to erase is itself an entry, of kind KindErase, listing the
// entries it erases. Only the origin of an entry changes it: when a box
// stores a request (its own, or one copied from another box), it blanks
// those of the listed entries that are its own, in place: same sequence,
// same time, same kind, and its target, author and payload replaced by zero
// bytes of the same lengths, in a version-2 frame. The frame keeps its
// size, so the segment files cut from the journal keep their boundaries,
// and box-to-box sync carries the change as changed blocks. A box holding a
// copy takes the erased form in place of the entry it had (Ingest).
//
// The origin blanks an entry when its kind is one Options.Erasable names
// and the request either comes from the origin itself (staff or retention
// there decided) or has the entry's own author as its author (a visitor
// erasing their own words, wherever they ask). A box that never comes
// back keeps, hidden, the copies it holds elsewhere: nobody else may
// rewrite its journal.

// KindErase is the kind of an erasure request; its target is TargetErase
// and its payload an ErasePayload.
const (
	KindErase   Kind = "journal.erase"
	TargetErase      = "journal"
)

// Ref names one entry.
type Ref struct {
	Origin Origin
	Seq    uint64
}

// ErasePayload is the JSON payload of a KindErase entry.
type ErasePayload struct {
	Refs []erasedRef `json:"refs"`
}

type erasedRef struct {
	Origin string `json:"o"` // hex of the 32 bytes
	Seq    uint64 `json:"s"`
}

// MaxEraseRefs bounds the entries one request lists, so that its payload
// stays far below MaxPayload; EraseDrafts splits longer lists.
const MaxEraseRefs = 10000

// EraseDrafts returns the drafts of requests to erase refs, by author (""
// for the box itself).
func EraseDrafts(author string, refs []Ref) []Draft {
	var out []Draft
	for len(refs) > 0 {
		n := min(len(refs), MaxEraseRefs)
		p := ErasePayload{Refs: make([]erasedRef, n)}
		for i, r := range refs[:n] {
			p.Refs[i] = erasedRef{Origin: hex.EncodeToString(r.Origin[:]), Seq: r.Seq}
		}
		raw, _ := json.Marshal(p)
		out = append(out, Draft{Kind: KindErase, Target: TargetErase, Author: author, Payload: raw})
		refs = refs[n:]
	}
	return out
}

// ParseErase reads the entries an erasure request lists. Bad refs are
// left out: the request may come from any linked box.
func ParseErase(e Entry) ([]Ref, error) {
	var p ErasePayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("journal: erasure request %v/%d: %w", e.Origin, e.Seq, err)
	}
	refs := make([]Ref, 0, len(p.Refs))
	for _, r := range p.Refs {
		b, err := hex.DecodeString(r.Origin)
		if err != nil || len(b) != len(Origin{}) || r.Seq == 0 {
			continue
		}
		var o Origin
		copy(o[:], b)
		refs = append(refs, Ref{Origin: o, Seq: r.Seq})
	}
	return refs, nil
}

// WatchErased registers f, called after every commit that erased entries,
// with their origin and the lowest sequence number erased. Like Watch, f
// must only take note and return.
func (j *Journal) WatchErased(f func(o Origin, lowest uint64)) {
	j.watchMu.Lock()
	defer j.watchMu.Unlock()
	j.erasedW = append(j.erasedW, f)
}

func (j *Journal) notifyErased(lowest map[Origin]uint64) {
	j.watchMu.Lock()
	ws := j.erasedW
	j.watchMu.Unlock()
	callAll(ws, lowest)
}

// applyErasures blanks the entries of this box that the requests among
// entries erase, in transaction tx, and notes them in erased.
func (j *Journal) applyErasures(tx *bolt.Tx, entries []Entry, erased map[Origin]uint64) error {
	own := tx.Bucket(store.BucketJournal).Bucket(j.origin[:])
	if own == nil {
		return nil
	}
	for _, req := range entries {
		if req.Kind != KindErase || req.Erased {
			continue
		}
		refs, err := ParseErase(req)
		if err != nil {
			continue // a malformed request from elsewhere erases nothing
		}
		for _, r := range refs {
			if r.Origin != j.origin {
				continue // its origin will do it when the request reaches it
			}
			raw := own.Get(seqKey(r.Seq))
			if raw == nil {
				continue
			}
			e, _, err := Decode(raw)
			if err != nil {
				return fmt.Errorf("journal: erase %v/%d: %w", r.Origin, r.Seq, err)
			}
			if e.Erased || !j.erasable[e.Kind] {
				continue
			}
			if req.Origin != j.origin && (req.Author == "" || req.Author != e.Author) {
				continue // another box may only erase what its requester wrote
			}
			if err := j.blank(tx, own, e, erased); err != nil {
				return err
			}
		}
	}
	return nil
}

// blank replaces entry e, stored in bucket b, by its erased form and drops
// it from the target index.
func (j *Journal) blank(tx *bolt.Tx, b *bolt.Bucket, e Entry, erased map[Origin]uint64) error {
	if err := tx.Bucket(store.BucketJournalIndex).Delete(indexKey(e.Target, e.Origin, e.Seq)); err != nil {
		return err
	}
	blanked := Blanked(e)
	if err := b.Put(seqKey(e.Seq), blanked.Encode()); err != nil {
		return err
	}
	if low, ok := erased[e.Origin]; !ok || e.Seq < low {
		erased[e.Origin] = e.Seq
	}
	return nil
}

// Blanked returns the erased form of e.
func Blanked(e Entry) Entry {
	return Entry{
		Origin: e.Origin, Seq: e.Seq, Time: e.Time, Kind: e.Kind,
		Target:  string(make([]byte, len(e.Target))),
		Author:  string(make([]byte, len(e.Author))),
		Payload: make([]byte, len(e.Payload)),
		Erased:  true,
	}
}

// blankOf reports whether erased is the erased form of e.
func blankOf(erased, e Entry) bool {
	want := Blanked(e)
	return string(erased.Encode()) == string(want.Encode())
}

// Get returns the entry r names, and false if this box does not hold it.
func (j *Journal) Get(r Ref) (Entry, bool, error) {
	var e Entry
	var found bool
	err := j.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketJournal).Bucket(r.Origin[:])
		if b == nil {
			return nil
		}
		raw := b.Get(seqKey(r.Seq))
		if raw == nil {
			return nil
		}
		var err error
		e, _, err = Decode(raw)
		found = err == nil
		return err
	})
	return e, found, err
}
