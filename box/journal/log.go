package journal

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// The log: store.BucketJournalLog holds, for each entry of a kind listed
// in Options.Logged, the key time(8) origin(32) seq(8) with no value, so
// that a cursor reads those entries in time order across origins; under
// logKindsKey, the list of kinds the index was built for; and under
// "h" origin(32), the last sequence number of that origin indexed. Keys
// of other lengths than logKeyLen are these records.

const logKeyLen = 8 + 32 + 8

var logKindsKey = []byte("kinds")

func logHeadKey(o Origin) []byte { return append([]byte("h"), o[:]...) }

// logHead records that origin's entries are indexed up to seq, in the
// transaction that stored them. A Journal opened without a list records
// nothing: the next one with a list indexes what it stored.
func (j *Journal) logHead(tx *bolt.Tx, o Origin, seq uint64) error {
	if len(j.logged) == 0 {
		return nil
	}
	return tx.Bucket(store.BucketJournalLog).Put(logHeadKey(o), binary.BigEndian.AppendUint64(nil, seq))
}

func logKey(t Time, o Origin, seq uint64) []byte {
	k := make([]byte, 0, logKeyLen)
	k = binary.BigEndian.AppendUint64(k, uint64(t))
	k = append(k, o[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// logEntry indexes e if its kind is logged. It runs in the transaction
// that stores e.
func (j *Journal) logEntry(tx *bolt.Tx, e Entry) error {
	if !j.logged[e.Kind] {
		return nil
	}
	return tx.Bucket(store.BucketJournalLog).Put(logKey(e.Time, e.Origin, e.Seq), nil)
}

func (j *Journal) loggedList() string {
	kinds := make([]string, 0, len(j.logged))
	for k := range j.logged {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	return strings.Join(kinds, "\n")
}

// checkLog brings the log index up to date at Open: rebuilt when it was
// built for other kinds (or never), in one read of the whole journal;
// otherwise completed with whatever was stored after each origin's
// indexed head. One transaction either way.
func (j *Journal) checkLog() error {
	want := j.loggedList()
	return j.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketJournalLog)
		if string(b.Get(logKindsKey)) != want {
			if err := tx.DeleteBucket(store.BucketJournalLog); err != nil {
				return err
			}
			var err error
			if b, err = tx.CreateBucket(store.BucketJournalLog); err != nil {
				return err
			}
			if err := b.Put(logKindsKey, []byte(want)); err != nil {
				return err
			}
		}
		root := tx.Bucket(store.BucketJournal)
		return root.ForEachBucket(func(name []byte) error {
			var o Origin
			copy(o[:], name)
			done := uint64(0)
			if v := b.Get(logHeadKey(o)); len(v) == 8 {
				done = binary.BigEndian.Uint64(v)
			}
			last := done
			c := root.Bucket(name).Cursor()
			for k, v := c.Seek(seqKey(done + 1)); k != nil; k, v = c.Next() {
				e, _, err := Decode(v)
				if err != nil {
					return fmt.Errorf("indexing the log: %v seq %d: %w", o, binary.BigEndian.Uint64(k), err)
				}
				if err := j.logEntry(tx, e); err != nil {
					return err
				}
				last = e.Seq
			}
			if last == done {
				return nil
			}
			return j.logHead(tx, o, last)
		})
	})
}

// LogPos is a place in the log: a logged entry's time, origin and
// sequence number. The zero LogPos is after every entry.
type LogPos struct {
	Time   Time
	Origin Origin
	Seq    uint64
}

// Pos returns the place of e in the log.
func (e Entry) Pos() LogPos { return LogPos{Time: e.Time, Origin: e.Origin, Seq: e.Seq} }

// Log returns up to n entries of the logged kinds that come before pos
// in time order (time, then origin, then sequence number: the same order
// at every box), newest first. The zero pos starts from the newest.
func (j *Journal) Log(before LogPos, n int) ([]Entry, error) {
	var out []Entry
	err := j.st.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(store.BucketJournal)
		c := tx.Bucket(store.BucketJournalLog).Cursor()
		var k []byte
		if before == (LogPos{}) {
			k, _ = c.Last()
		} else {
			// Seek finds the first key at or after pos; the one before
			// it is the first to return.
			start := logKey(before.Time, before.Origin, before.Seq)
			if k, _ = c.Seek(start); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		for ; k != nil && len(out) < n; k, _ = c.Prev() {
			if len(k) != logKeyLen {
				continue // logKindsKey
			}
			b := root.Bucket(k[8:40])
			if b == nil {
				continue
			}
			v := b.Get(k[40:])
			if v == nil {
				continue
			}
			e, _, err := Decode(v)
			if err != nil {
				return fmt.Errorf("journal: log: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
