// Package chat is the venue's live channels. Every message, every removal,
// every staff decision (a channel created or archived, a channel cleared, a
// nickname muted) is an entry of the box's journal, so that box-to-box
// sync carries chat with no extra work. What visitors read is derived
// from the journal into store.BucketChat and can be rebuilt from it.
//
// Applying entries is idempotent and does not depend on their order:
// messages are keyed by their hybrid logical clock time, origin and
// sequence number, so messages from another box interleave by time when
// they arrive later; a removal that arrives before its message leaves a
// tombstone that the message meets; a clear hides everything up to its
// time, whenever the older messages come.
package chat

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/text/unicode/norm"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

// Journal kinds written by chat.
const (
	KindPost    journal.Kind = "chat.post"    // a message: postPayload
	KindDelete  journal.Kind = "chat.delete"  // its author deletes a message: refPayload
	KindRemove  journal.Kind = "chat.remove"  // staff remove a message: refPayload
	KindClear   journal.Kind = "chat.clear"   // staff clear a channel: everything up to the entry's time
	KindChannel journal.Kind = "chat.channel" // staff create or archive a channel: channelPayload
	KindMute    journal.Kind = "chat.mute"    // staff mute a nickname: mutePayload
)

// Limits.
const (
	MaxText     = 4096 // bytes of a message
	MaxName     = 64   // characters of a channel name
	PostsPerMin = 20   // a visitor's sustained rate
	postBurst   = 8
)

// Default is the channel every box has.
const Default = "général"

// PadPrefix starts the side channel every pad has: "pad-" + the pad name.
const PadPrefix = "pad-"

// targetMutes is the journal target of mutes, which hold for every channel.
const targetMutes = "chat"

// Errors a visitor or staff member can meet.
var (
	ErrBadName   = errors.New("chat: channel names are letters, digits, - and _, at most 64 characters")
	ErrNoChannel = errors.New("chat: no such channel")
	ErrArchived  = errors.New("chat: this channel is archived")
	ErrEmpty     = errors.New("chat: the message is empty")
	ErrTooLong   = fmt.Errorf("chat: a message is at most %d bytes", MaxText)
	ErrBadText   = errors.New("chat: the message contains control characters")
	ErrTooFast   = errors.New("chat: too many messages, wait a moment")
	ErrMuted     = errors.New("chat: this nickname is muted for a while")
	ErrNotYours  = errors.New("chat: only its author can delete a message")
	ErrNoMessage = errors.New("chat: no such message")
	ErrExists    = errors.New("chat: the channel exists already")
)

// Message is one message as visitors read it.
type Message struct {
	ID      string // origin (hex) "-" sequence number
	Channel string
	Time    journal.Time
	Author  string // the visitor's pseudonym
	Nick    string
	Text    string
}

// Channel is a channel's state.
type Channel struct {
	Name     string
	Archived bool
	Created  journal.Time // 0 for the channels that need no creation
}

// Event is what a channel's subscribers hear.
type Event struct {
	Type    string // "post", "remove" or "clear"
	Message Message
	ID      string       // the removed message, for "remove"
	Before  journal.Time // everything up to it is gone, for "clear"
}

type postPayload struct {
	Nick string `json:"nick"`
	Text string `json:"text"`
}

type refPayload struct {
	Origin string `json:"origin"` // hex of the 32 bytes
	Seq    uint64 `json:"seq"`
}

type channelPayload struct {
	Archived bool `json:"archived"`
}

type mutePayload struct {
	Nick  string `json:"nick"`
	Until int64  `json:"until"`          // Unix milliseconds
	Note  string `json:"note,omitempty"` // the staff's reason, for the moderation log
}

// Options configure New.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // nil means time.Now
}

// Service posts and reads messages. It is safe for concurrent use.
type Service struct {
	st     *store.Store
	j      *journal.Journal
	logger *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	subs   map[string]map[int]func(Event)
	nextID int
	rates  map[string]*rate
}

type rate struct {
	tokens float64
	last   time.Time
}

// New opens the chat over a journal and applies the entries it has not
// seen yet (all of them the first time).
func New(st *store.Store, j *journal.Journal, opts Options) (*Service, error) {
	s := &Service{st: st, j: j, logger: opts.Logger, now: opts.Now,
		subs: make(map[string]map[int]func(Event)), rates: make(map[string]*rate)}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.catchUp(); err != nil {
		return nil, err
	}
	return s, nil
}

// ValidName reports whether name can name a channel: letters (any
// alphabet, lower case), digits, - and _, at most MaxName characters, in
// NFC. Pad side channels follow the same rule.
func ValidName(name string) bool {
	// A pad's side channel is "pad-" and the pad's name, which follows the
	// pads' rule.
	if rest, ok := strings.CutPrefix(name, PadPrefix); ok && padName(rest) {
		return true
	}
	if name == "" || utf8.RuneCountInString(name) > MaxName || !norm.NFC.IsNormalString(name) {
		return false
	}
	for _, r := range name {
		if !(unicode.IsLower(r) || (unicode.IsLetter(r) && !unicode.IsUpper(r)) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// CleanName turns what staff typed into a channel name: NFC, lower case,
// spaces as dashes.
func CleanName(s string) (string, error) {
	s = strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
	s = strings.Join(strings.Fields(s), "-")
	if !ValidName(s) || utf8.RuneCountInString(s) > MaxName || strings.HasPrefix(s, PadPrefix) {
		return "", ErrBadName
	}
	return s, nil
}

func target(channel string) string { return "chat/" + channel }

// MessageID formats the ID of the message entry (origin, seq).
func MessageID(o journal.Origin, seq uint64) string {
	return hex.EncodeToString(o[:]) + "-" + strconv.FormatUint(seq, 10)
}

// parseID reads a MessageID.
func parseID(id string) (journal.Origin, uint64, bool) {
	var o journal.Origin
	h, n, ok := strings.Cut(id, "-")
	if !ok || len(h) != 64 {
		return o, 0, false
	}
	if _, err := hex.Decode(o[:], []byte(h)); err != nil {
		return o, 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil || seq == 0 || MessageID(o, seq) != id {
		return o, 0, false // one spelling per message: lower-case hex, no leading zero
	}
	return o, seq, true
}

// cleanText checks a message: trimmed, NFC, at most MaxText bytes, no
// control characters but line breaks and tabs, no bidi overrides (which
// can make a message read as something else).
func cleanText(text string) (string, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if text == "" {
		return "", ErrEmpty
	}
	if len(text) > MaxText {
		return "", ErrTooLong
	}
	if !utf8.ValidString(text) {
		return "", ErrBadText
	}
	for _, r := range text {
		if (unicode.IsControl(r) && r != '\n' && r != '\t') || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return "", ErrBadText
		}
	}
	return norm.NFC.String(text), nil
}

// nickKey folds a nickname for mutes: "Ana" and "ana" are one person.
func nickKey(nick string) string { return strings.ToLower(norm.NFC.String(nick)) }

// Post adds a message from a visitor (author is their pseudonym) and
// passes it to the channel's subscribers once it is on disk.
func (s *Service) Post(channel, author, nick, text string) (Message, error) {
	text, err := cleanText(text)
	if err != nil {
		return Message{}, err
	}
	ch, err := s.Channel(channel)
	if err != nil {
		return Message{}, err
	}
	if ch.Archived {
		return Message{}, ErrArchived
	}
	if until, err := s.MutedUntil(nick); err != nil {
		return Message{}, err
	} else if until.After(s.now()) {
		return Message{}, ErrMuted
	}
	if !s.allow(author) {
		return Message{}, ErrTooFast
	}
	payload, _ := json.Marshal(postPayload{Nick: nick, Text: text})
	events, err := s.append(journal.Draft{Kind: KindPost, Target: target(channel), Author: author, Payload: payload})
	if err != nil {
		return Message{}, err
	}
	if len(events) != 1 || events[0].Type != "post" {
		return Message{}, fmt.Errorf("chat: post to %s was not applied", channel)
	}
	return events[0].Message, nil
}

// allow takes a token from the author's bucket.
func (s *Service) allow(author string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r, ok := s.rates[author]
	if !ok {
		if len(s.rates) > 10000 { // forget everyone rather than grow without end
			s.rates = make(map[string]*rate)
		}
		r = &rate{tokens: postBurst, last: now}
		s.rates[author] = r
	}
	r.tokens = min(postBurst, r.tokens+now.Sub(r.last).Minutes()*PostsPerMin)
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// Delete removes a message at its author's request.
func (s *Service) Delete(id, author string) error {
	m, err := s.Get(id)
	if err != nil {
		return err
	}
	if author == "" || m.Author != author {
		return ErrNotYours
	}
	return s.removeRef(KindDelete, m, author)
}

// Remove removes any message (staff).
func (s *Service) Remove(id, author string) error {
	m, err := s.Get(id)
	if err != nil {
		return err
	}
	return s.removeRef(KindRemove, m, author)
}

func (s *Service) removeRef(kind journal.Kind, m Message, author string) error {
	o, seq, _ := parseID(m.ID)
	payload, _ := json.Marshal(refPayload{Origin: hex.EncodeToString(o[:]), Seq: seq})
	_, err := s.append(journal.Draft{Kind: kind, Target: target(m.Channel), Author: author, Payload: payload})
	return err
}

// Clear removes every message of a channel so far (staff).
func (s *Service) Clear(channel, author string) error {
	if _, err := s.Channel(channel); err != nil {
		return err
	}
	_, err := s.append(journal.Draft{Kind: KindClear, Target: target(channel), Author: author, Payload: []byte("{}")})
	return err
}

// Create adds a channel (staff); an archived channel of the same name
// comes back.
func (s *Service) Create(channel, author string) error {
	if n, err := CleanName(channel); err != nil || n != channel || channel == Default {
		return ErrBadName
	}
	if ch, err := s.Channel(channel); err == nil && !ch.Archived {
		return ErrExists
	}
	return s.setArchived(channel, author, false)
}

// Archive closes a channel to new messages; its history stays readable.
// The default channel and pads' side channels cannot be archived.
func (s *Service) Archive(channel, author string) error {
	if _, err := s.Channel(channel); err != nil {
		return err
	}
	if channel == Default || strings.HasPrefix(channel, PadPrefix) {
		return fmt.Errorf("chat: %s cannot be archived", channel)
	}
	return s.setArchived(channel, author, true)
}

func (s *Service) setArchived(channel, author string, archived bool) error {
	payload, _ := json.Marshal(channelPayload{Archived: archived})
	_, err := s.append(journal.Draft{Kind: KindChannel, Target: target(channel), Author: author, Payload: payload})
	return err
}

// Mute stops a nickname from posting until the given time (staff); a time
// already past lifts an earlier mute.
func (s *Service) Mute(nick, author string, until time.Time) error {
	return s.MuteNote(nick, author, until, "")
}

// MaxNote bounds the reason staff give for a mute, in bytes.
const MaxNote = 500

// MuteNote is Mute with the staff's reason, which the moderation log
// shows.
func (s *Service) MuteNote(nick, author string, until time.Time, note string) error {
	if strings.TrimSpace(nick) == "" {
		return errors.New("chat: no nickname to mute")
	}
	if len(note) > MaxNote {
		return fmt.Errorf("chat: a note is at most %d bytes", MaxNote)
	}
	payload, _ := json.Marshal(mutePayload{Nick: nickKey(nick), Until: until.UnixMilli(), Note: note})
	_, err := s.append(journal.Draft{Kind: KindMute, Target: targetMutes, Author: author, Payload: payload})
	return err
}

// append writes drafts to the journal and applies them in the same
// transaction, then tells subscribers.
func (s *Service) append(drafts ...journal.Draft) ([]Event, error) {
	var events []Event
	_, err := s.j.AppendWith(func(tx *bolt.Tx, entries []journal.Entry) error {
		events = events[:0]
		for _, e := range entries {
			ev, err := apply(tx, e)
			if err != nil {
				return err
			}
			events = append(events, ev...)
			if err := setHead(tx, e.Origin, e.Seq); err != nil {
				return err
			}
		}
		return nil
	}, drafts...)
	if err != nil {
		return nil, err
	}
	s.notify(events)
	return events, nil
}

// Apply applies entries from the journal (other boxes' entries, once
// ingested); entries of other kinds are ignored, entries already applied
// change nothing.
func (s *Service) Apply(entries ...journal.Entry) error {
	var events []Event
	err := s.st.Update(func(tx *bolt.Tx) error {
		for _, e := range entries {
			if !isChat(e.Kind) {
				continue
			}
			ev, err := apply(tx, e)
			if err != nil {
				return err
			}
			events = append(events, ev...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("chat: apply: %w", err)
	}
	s.notify(events)
	return nil
}

// isChat reports whether chat applies entries of kind k: its own, and
// erasure requests, which hide the messages they erase (box/journal).
func isChat(k journal.Kind) bool {
	return strings.HasPrefix(string(k), "chat.") || k == journal.KindErase
}

// catchUp applies the journal entries after the last ones applied, origin
// by origin.
func (s *Service) catchUp() error {
	heads, err := s.j.Heads()
	if err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	for o := range heads {
		var done uint64
		s.st.View(func(tx *bolt.Tx) error {
			done = head(tx, o)
			return nil
		})
		// Only chat entries are kept: the rest (pad updates above all)
		// can be large, and chat has nothing to do with them.
		var batch []journal.Entry
		last := done
		err := s.j.Since(o, done, func(e journal.Entry) error {
			if isChat(e.Kind) {
				batch = append(batch, e)
			}
			last = e.Seq
			return nil
		})
		if err != nil {
			return fmt.Errorf("chat: reading the journal: %w", err)
		}
		if last == done {
			continue
		}
		err = s.st.Update(func(tx *bolt.Tx) error {
			for _, e := range batch {
				if _, err := apply(tx, e); err != nil {
					return err
				}
			}
			return setHead(tx, o, last)
		})
		if err != nil {
			return fmt.Errorf("chat: applying the journal: %w", err)
		}
	}
	return nil
}

// Rebuild derives the whole chat again from the journal.
func (s *Service) Rebuild() error {
	err := s.st.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(store.BucketChat); err != nil {
			return err
		}
		_, err := tx.CreateBucket(store.BucketChat)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat: rebuild: %w", err)
	}
	return s.catchUp()
}

// Subscribe calls f for every change of channel from now on, after it is
// stored. f must not block; it returns a function that stops the calls.
func (s *Service) Subscribe(channel string, f func(Event)) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextID
	s.nextID++
	if s.subs[channel] == nil {
		s.subs[channel] = make(map[int]func(Event))
	}
	s.subs[channel][id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs[channel], id)
		if len(s.subs[channel]) == 0 {
			delete(s.subs, channel)
		}
	}
}

func (s *Service) notify(events []Event) {
	for _, ev := range events {
		ch := ev.Message.Channel
		s.mu.Lock()
		fs := make([]func(Event), 0, len(s.subs[ch]))
		for _, f := range s.subs[ch] {
			fs = append(fs, f)
		}
		s.mu.Unlock()
		for _, f := range fs {
			f(ev)
		}
	}
}

// Layout of store.BucketChat, all derived from the journal:
//
//	m/CHANNEL  time(8) origin(32) seq(8) → message JSON, in time order
//	ids        origin(32) seq(8) → channel, 0, message key: where a message is
//	gone       origin(32) seq(8) remover → kind: removals, even of messages not yet arrived
//	channels   CHANNEL → channelState JSON
//	mutes      nickname → muteState JSON: the latest mute
//	heads      origin(32) → last sequence number applied (8)
var (
	bucketIDs      = []byte("ids")
	bucketGone     = []byte("gone")
	bucketChannels = []byte("channels")
	bucketMutes    = []byte("mutes")
	bucketHeads    = []byte("heads")
)

func messagesBucket(channel string) []byte { return []byte("m/" + channel) }

type storedMessage struct {
	Author string `json:"a,omitempty"`
	Nick   string `json:"n"`
	Text   string `json:"t"`
}

type channelState struct {
	Archived bool `json:"archived,omitempty"`
	// The last create-or-archive entry, which wins: (time, origin, seq).
	Time   journal.Time `json:"time,omitempty"`
	Origin string       `json:"origin,omitempty"`
	Seq    uint64       `json:"seq,omitempty"`
	// Created is the first creation seen.
	Created journal.Time `json:"created,omitempty"`
	// Cleared hides every message up to this time.
	Cleared journal.Time `json:"cleared,omitempty"`
}

func refKey(o journal.Origin, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), o[:]...), seq)
}

func msgKey(t journal.Time, o journal.Origin, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(t))
	k = append(k, o[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func sub(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	return tx.Bucket(store.BucketChat).CreateBucketIfNotExists(name)
}

func head(tx *bolt.Tx, o journal.Origin) uint64 {
	b := tx.Bucket(store.BucketChat).Bucket(bucketHeads)
	if b == nil {
		return 0
	}
	if v := b.Get(o[:]); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func setHead(tx *bolt.Tx, o journal.Origin, seq uint64) error {
	if seq <= head(tx, o) {
		return nil
	}
	b, err := sub(tx, bucketHeads)
	if err != nil {
		return err
	}
	return b.Put(o[:], binary.BigEndian.AppendUint64(nil, seq))
}

// apply derives one entry into the chat's state and says what changed.
// An entry that does not make sense (bad payload, unknown channel name)
// is logged by nobody and skipped: it may come from a newer box.
func apply(tx *bolt.Tx, e journal.Entry) ([]Event, error) {
	switch e.Kind {
	case KindPost:
		return applyPost(tx, e)
	case KindDelete, KindRemove:
		return applyRemove(tx, e)
	case KindClear:
		return applyClear(tx, e)
	case KindChannel:
		return nil, applyChannel(tx, e)
	case KindMute:
		return nil, applyMute(tx, e)
	case journal.KindErase:
		return applyErase(tx, e)
	}
	return nil, nil
}

func channelOf(e journal.Entry) (string, bool) {
	name, ok := strings.CutPrefix(e.Target, "chat/")
	return name, ok && ValidName(name)
}

func applyPost(tx *bolt.Tx, e journal.Entry) ([]Event, error) {
	channel, ok := channelOf(e)
	var p postPayload
	if !ok || json.Unmarshal(e.Payload, &p) != nil {
		return nil, nil
	}
	ids, err := sub(tx, bucketIDs)
	if err != nil {
		return nil, err
	}
	ref := refKey(e.Origin, e.Seq)
	if ids.Get(ref) != nil {
		return nil, nil // applied already
	}
	key := msgKey(e.Time, e.Origin, e.Seq)
	if err := ids.Put(ref, append(append([]byte(channel), 0), key...)); err != nil {
		return nil, err
	}
	if g := tx.Bucket(store.BucketChat).Bucket(bucketGone); g != nil {
		c := g.Cursor()
		for k, kind := c.Seek(ref); k != nil && string(k[:len(ref)]) == string(ref); k, kind = c.Next() {
			if journal.Kind(kind) == KindRemove || string(k[len(ref):]) == e.Author {
				return nil, nil // removed before it arrived
			}
		}
	}
	st := loadChannel(tx, channel)
	if e.Time <= st.Cleared {
		return nil, nil
	}
	msgs, err := sub(tx, messagesBucket(channel))
	if err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(storedMessage{Author: e.Author, Nick: p.Nick, Text: p.Text})
	if err := msgs.Put(key, raw); err != nil {
		return nil, err
	}
	m := Message{ID: MessageID(e.Origin, e.Seq), Channel: channel, Time: e.Time, Author: e.Author, Nick: p.Nick, Text: p.Text}
	return []Event{{Type: "post", Message: m}}, nil
}

func applyRemove(tx *bolt.Tx, e journal.Entry) ([]Event, error) {
	channel, ok := channelOf(e)
	var p refPayload
	if !ok || json.Unmarshal(e.Payload, &p) != nil {
		return nil, nil
	}
	o, seq, ok := parseID(p.Origin + "-" + strconv.FormatUint(p.Seq, 10))
	if !ok {
		return nil, nil
	}
	ref := refKey(o, seq)
	g, err := sub(tx, bucketGone)
	if err != nil {
		return nil, err
	}
	// One tombstone per remover: a message meets them all when it comes.
	if err := g.Put(append(append([]byte(nil), ref...), e.Author...), []byte(e.Kind)); err != nil {
		return nil, err
	}
	return removeMessage(tx, o, seq, channel, e.Kind == KindDelete, e.Author)
}

// removeMessage takes message o/seq out of what visitors read, if it is
// there (and in channel, unless channel is ""); byAuthor: only if author
// wrote it.
func removeMessage(tx *bolt.Tx, o journal.Origin, seq uint64, channel string, byAuthor bool, author string) ([]Event, error) {
	loc := tx.Bucket(store.BucketChat).Bucket(bucketIDs)
	if loc == nil {
		return nil, nil
	}
	where := loc.Get(refKey(o, seq))
	if where == nil {
		return nil, nil // the message has not arrived; the tombstone waits for it
	}
	msgChannel, key, _ := strings.Cut(string(where), "\x00")
	msgs := tx.Bucket(store.BucketChat).Bucket(messagesBucket(msgChannel))
	if msgs == nil || (channel != "" && msgChannel != channel) {
		return nil, nil
	}
	raw := msgs.Get([]byte(key))
	if raw == nil {
		return nil, nil
	}
	var m storedMessage
	json.Unmarshal(raw, &m)
	if byAuthor && m.Author != author {
		return nil, nil // only its author deletes a message
	}
	if err := msgs.Delete([]byte(key)); err != nil {
		return nil, err
	}
	id := MessageID(o, seq)
	return []Event{{Type: "remove", ID: id, Message: Message{ID: id, Channel: msgChannel}}}, nil
}

// applyErase hides the messages an erasure request names: any message of
// the box that made the request (its staff or its retention decided), and
// elsewhere only the requester's own messages. Tombstones wait for
// messages that have not arrived, as for removals.
func applyErase(tx *bolt.Tx, e journal.Entry) ([]Event, error) {
	refs, err := journal.ParseErase(e)
	if err != nil {
		return nil, nil
	}
	g, err := sub(tx, bucketGone)
	if err != nil {
		return nil, err
	}
	var events []Event
	for _, r := range refs {
		kind := KindDelete
		if r.Origin == e.Origin {
			kind = KindRemove
		} else if e.Author == "" {
			continue
		}
		if err := g.Put(append(refKey(r.Origin, r.Seq), e.Author...), []byte(kind)); err != nil {
			return nil, err
		}
		ev, err := removeMessage(tx, r.Origin, r.Seq, "", kind == KindDelete, e.Author)
		if err != nil {
			return nil, err
		}
		events = append(events, ev...)
	}
	return events, nil
}

func loadChannel(tx *bolt.Tx, channel string) channelState {
	var st channelState
	if b := tx.Bucket(store.BucketChat).Bucket(bucketChannels); b != nil {
		if raw := b.Get([]byte(channel)); raw != nil {
			json.Unmarshal(raw, &st)
		}
	}
	return st
}

func saveChannel(tx *bolt.Tx, channel string, st channelState) error {
	b, err := sub(tx, bucketChannels)
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(st)
	return b.Put([]byte(channel), raw)
}

func applyClear(tx *bolt.Tx, e journal.Entry) ([]Event, error) {
	channel, ok := channelOf(e)
	if !ok {
		return nil, nil
	}
	st := loadChannel(tx, channel)
	if e.Time <= st.Cleared {
		return nil, nil
	}
	st.Cleared = e.Time
	if err := saveChannel(tx, channel, st); err != nil {
		return nil, err
	}
	if msgs := tx.Bucket(store.BucketChat).Bucket(messagesBucket(channel)); msgs != nil {
		c := msgs.Cursor()
		end := binary.BigEndian.AppendUint64(nil, uint64(e.Time))
		for k, _ := c.First(); k != nil && string(k[:8]) <= string(end); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return nil, err
			}
		}
	}
	return []Event{{Type: "clear", Before: e.Time, Message: Message{Channel: channel}}}, nil
}

// later reports whether entry e wins over the one recorded in st: the
// greatest (time, origin, seq), so every box settles on the same one.
func later(e journal.Entry, st channelState) bool { return laterThan(e, st.Time, st.Origin, st.Seq) }

// laterThan compares entry e with the entry (t, origin, seq).
func laterThan(e journal.Entry, t journal.Time, origin string, seq uint64) bool {
	if e.Time != t {
		return e.Time > t
	}
	if o := hex.EncodeToString(e.Origin[:]); o != origin {
		return o > origin
	}
	return e.Seq > seq
}

// muteState is a nickname's latest mute: staff lift a pause with a mute
// that ends at once, so the latest decision wins, not the longest.
type muteState struct {
	Until  int64        `json:"until"` // Unix ms
	Time   journal.Time `json:"time"`
	Origin string       `json:"origin"`
	Seq    uint64       `json:"seq"`
}

func applyChannel(tx *bolt.Tx, e journal.Entry) error {
	channel, ok := channelOf(e)
	var p channelPayload
	if !ok || json.Unmarshal(e.Payload, &p) != nil {
		return nil
	}
	st := loadChannel(tx, channel)
	if !p.Archived && (st.Created == 0 || e.Time < st.Created) {
		st.Created = e.Time
	}
	if later(e, st) {
		st.Archived, st.Time, st.Origin, st.Seq = p.Archived, e.Time, hex.EncodeToString(e.Origin[:]), e.Seq
	}
	return saveChannel(tx, channel, st)
}

func applyMute(tx *bolt.Tx, e journal.Entry) error {
	var p mutePayload
	if json.Unmarshal(e.Payload, &p) != nil || p.Nick == "" {
		return nil
	}
	b, err := sub(tx, bucketMutes)
	if err != nil {
		return err
	}
	key := []byte(nickKey(p.Nick))
	var old muteState
	if v := b.Get(key); v != nil && json.Unmarshal(v, &old) == nil && !laterThan(e, old.Time, old.Origin, old.Seq) {
		return nil
	}
	raw, _ := json.Marshal(muteState{Until: p.Until, Time: e.Time, Origin: hex.EncodeToString(e.Origin[:]), Seq: e.Seq})
	return b.Put(key, raw)
}

// Post is a message as its journal entry holds it.
type Post struct {
	Channel string
	Nick    string
	Text    string
}

// ParsePost reads a KindPost entry as the chat reads it.
func ParsePost(e journal.Entry) (Post, error) {
	channel, ok := channelOf(e)
	var p postPayload
	if e.Kind != KindPost || !ok {
		return Post{}, fmt.Errorf("chat: entry %v/%d is not a message", e.Origin, e.Seq)
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return Post{}, fmt.Errorf("chat: entry %v/%d: %w", e.Origin, e.Seq, err)
	}
	return Post{Channel: channel, Nick: p.Nick, Text: p.Text}, nil
}
