package chat

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// padName reports whether rest names a pad (the pads' own rule: ASCII
// letters, digits, - and _, at most 64), so that "pad-" + rest is the
// pad's side channel.
func padName(rest string) bool {
	if rest == "" || len(rest) > 64 {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Channel returns a channel's state: the default channel and every pad's
// side channel always exist, others once staff created them.
func (s *Service) Channel(name string) (Channel, error) {
	if !ValidName(name) {
		return Channel{}, ErrBadName
	}
	var st channelState
	s.st.View(func(tx *bolt.Tx) error {
		st = loadChannel(tx, name)
		return nil
	})
	rest, isPad := strings.CutPrefix(name, PadPrefix)
	switch {
	case name == Default, isPad && padName(rest):
		return Channel{Name: name, Created: st.Created}, nil
	case st.Created == 0:
		return Channel{}, ErrNoChannel
	}
	return Channel{Name: name, Archived: st.Archived, Created: st.Created}, nil
}

// Channels lists the default channel, then the channels staff created,
// by name; archived ones only when archived is true. Pads' side channels
// are listed with their pads, not here.
func (s *Service) Channels(archived bool) ([]Channel, error) {
	out := []Channel{{Name: Default}}
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketChat).Bucket(bucketChannels)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var st channelState
			if json.Unmarshal(v, &st) != nil || st.Created == 0 || string(k) == Default || strings.HasPrefix(string(k), PadPrefix) {
				return nil
			}
			if st.Archived && !archived {
				return nil
			}
			out = append(out, Channel{Name: string(k), Archived: st.Archived, Created: st.Created})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("chat: channels: %w", err)
	}
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out, nil
}

// Get returns a message that is still there.
func (s *Service) Get(id string) (Message, error) {
	o, seq, ok := parseID(id)
	if !ok {
		return Message{}, ErrNoMessage
	}
	var m Message
	err := s.st.View(func(tx *bolt.Tx) error {
		loc := tx.Bucket(store.BucketChat).Bucket(bucketIDs)
		if loc == nil {
			return ErrNoMessage
		}
		where := loc.Get(refKey(o, seq))
		if where == nil {
			return ErrNoMessage
		}
		channel, key, _ := strings.Cut(string(where), "\x00")
		msgs := tx.Bucket(store.BucketChat).Bucket(messagesBucket(channel))
		if msgs == nil {
			return ErrNoMessage
		}
		raw := msgs.Get([]byte(key))
		if raw == nil {
			return ErrNoMessage
		}
		var err error
		m, err = decodeMessage(channel, []byte(key), raw)
		return err
	})
	return m, err
}

func decodeMessage(channel string, key, raw []byte) (Message, error) {
	if len(key) != 48 {
		return Message{}, fmt.Errorf("chat: bad message key in %s", channel)
	}
	var sm storedMessage
	if err := json.Unmarshal(raw, &sm); err != nil {
		return Message{}, fmt.Errorf("chat: message in %s: %w", channel, err)
	}
	var o journal.Origin
	copy(o[:], key[8:40])
	return Message{
		ID:      MessageID(o, binary.BigEndian.Uint64(key[40:])),
		Channel: channel,
		Time:    journal.Time(binary.BigEndian.Uint64(key[:8])),
		Author:  sm.Author,
		Nick:    sm.Nick,
		Text:    sm.Text,
	}, nil
}

// Page is one page of a channel's history.
type Page struct {
	Messages []Message // most recent first
	// Older is the cursor of the next, older page, or "" at the start.
	Older string
}

// History returns up to limit messages of a channel, most recent first,
// older than the cursor before ("" for the most recent).
func (s *Service) History(channel, before string, limit int) (Page, error) {
	if _, err := s.Channel(channel); err != nil {
		return Page{}, err
	}
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var p Page
	err := s.st.View(func(tx *bolt.Tx) error {
		msgs := tx.Bucket(store.BucketChat).Bucket(messagesBucket(channel))
		if msgs == nil {
			return nil
		}
		c := msgs.Cursor()
		var k, v []byte
		if cur, ok := decodeCursor(before); ok {
			k, v = c.Seek(cur)
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for ; k != nil; k, v = c.Prev() {
			if len(p.Messages) == limit {
				p.Older = encodeCursor(p.Messages[len(p.Messages)-1])
				break
			}
			m, err := decodeMessage(channel, k, v)
			if err != nil {
				return err
			}
			p.Messages = append(p.Messages, m)
		}
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return p, nil
}

// All calls f for every message of a channel, oldest first.
func (s *Service) All(channel string, f func(Message) error) error {
	if _, err := s.Channel(channel); err != nil {
		return err
	}
	return s.st.View(func(tx *bolt.Tx) error {
		msgs := tx.Bucket(store.BucketChat).Bucket(messagesBucket(channel))
		if msgs == nil {
			return nil
		}
		return msgs.ForEach(func(k, v []byte) error {
			m, err := decodeMessage(channel, k, v)
			if err != nil {
				return err
			}
			return f(m)
		})
	})
}

// A cursor is the message ID with its time: "TIME.ORIGIN-SEQ".
func encodeCursor(m Message) string { return fmt.Sprintf("%d.%s", uint64(m.Time), m.ID) }

func decodeCursor(c string) ([]byte, bool) {
	t, id, ok := strings.Cut(c, ".")
	if !ok {
		return nil, false
	}
	var tv uint64
	if _, err := fmt.Sscan(t, &tv); err != nil {
		return nil, false
	}
	o, seq, ok := parseID(id)
	if !ok {
		return nil, false
	}
	return msgKey(journal.Time(tv), o, seq), true
}

// MutedUntil returns when a nickname may post again (the zero time if it
// is not muted).
func (s *Service) MutedUntil(nick string) (time.Time, error) {
	var until time.Time
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketChat).Bucket(bucketMutes)
		if b == nil {
			return nil
		}
		var m muteState
		if v := b.Get([]byte(nickKey(nick))); v != nil && json.Unmarshal(v, &m) == nil {
			until = time.UnixMilli(m.Until)
		}
		return nil
	})
	return until, err
}
