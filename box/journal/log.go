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
// that a cursor reads those entries in time order across origins; and,
// under logKindsKey, the list of kinds the index was built for.

const logKeyLen = 8 + 32 + 8

var logKindsKey = []byte("kinds")

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

// checkLog rebuilds the log index when it was built for other kinds (or
// never): one read of the whole journal, in one transaction.
func (j *Journal) checkLog() error {
	want := j.loggedList()
	var have string
	if err := j.st.View(func(tx *bolt.Tx) error {
		have = string(tx.Bucket(store.BucketJournalLog).Get(logKindsKey))
		return nil
	}); err != nil {
		return err
	}
	if have == want {
		return nil
	}
	return j.st.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(store.BucketJournalLog); err != nil {
			return err
		}
		b, err := tx.CreateBucket(store.BucketJournalLog)
		if err != nil {
			return err
		}
		if len(j.logged) > 0 {
			root := tx.Bucket(store.BucketJournal)
			err := root.ForEachBucket(func(name []byte) error {
				return root.Bucket(name).ForEach(func(k, v []byte) error {
					e, _, err := Decode(v)
					if err != nil {
						return fmt.Errorf("rebuilding the log: seq %d: %w", binary.BigEndian.Uint64(k), err)
					}
					return j.logEntry(tx, e)
				})
			})
			if err != nil {
				return err
			}
		}
		return b.Put(logKindsKey, []byte(want))
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
