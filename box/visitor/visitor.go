// Package visitor keeps the sessions of the people who entered the portal.
//
// A visitor is a nickname and a random pseudonymous ID, nothing else: no
// account, no e-mail. The box also remembers the client address and, where
// the network gives it, the MAC address a visitor entered from, because a
// phone's captive-portal check carries no cookie: the only way to answer it
// "online" is to recognise the device. Sessions survive restarts (they live
// in bbolt) and expire after a configurable time; expired ones are purged,
// addresses included.
//
// portal and cmd import this package. It does no networking.
package visitor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// DefaultSessionLength is how long an entered visitor is recognised. Many
// phones never probe again once a session has expired, so it covers a whole
// day at the venue.
const DefaultSessionLength = 24 * time.Hour

// Visitor is one person's session.
type Visitor struct {
	// ID is random and pseudonymous; it is the value of the visitor's
	// cookie and, in later versions, the author of their contributions.
	ID       string     `json:"id"`
	Nickname string     `json:"nickname"`
	Lang     string     `json:"lang,omitempty"`
	Addr     netip.Addr `json:"addr"`
	// MAC is empty when the box could not see it (a routed client, or a
	// platform without a neighbour table).
	MAC     string    `json:"mac,omitempty"`
	Entered time.Time `json:"entered"`
	Expires time.Time `json:"expires"`
}

// ErrNotFound is returned when no current session matches.
var ErrNotFound = errors.New("visitor: no current session")

// Options configure a Service. The zero value is usable.
type Options struct {
	// SessionLength is how long a visitor stays entered. Zero means
	// DefaultSessionLength.
	SessionLength time.Duration
	// Now returns the current time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service records and recognises visitors. It is safe for concurrent use.
type Service struct {
	st     *store.Store
	ttl    atomic.Int64 // a time.Duration; staff may change it at any time
	now    func() time.Time
	logger *slog.Logger
}

// New returns a Service over an open store.
func New(st *store.Store, opts Options) *Service {
	s := &Service{st: st, now: opts.Now, logger: opts.Logger}
	s.SetSessionLength(opts.SessionLength)
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// SessionLength returns how long a session lasts.
func (s *Service) SessionLength() time.Duration { return time.Duration(s.ttl.Load()) }

// SetSessionLength changes how long sessions started from now on last;
// zero or less means DefaultSessionLength. Current sessions keep their
// end.
func (s *Service) SetSessionLength(d time.Duration) {
	if d <= 0 {
		d = DefaultSessionLength
	}
	s.ttl.Store(int64(d))
}

// Keys inside store.BucketVisitors. One bucket with prefixes keeps a
// session and its indexes in one place, updated in one transaction.
const (
	prefixID   = "id/"
	prefixAddr = "addr/"
	prefixMAC  = "mac/"
	// prefixPseudonym finds a session by the pseudonym that signs its
	// visitor's contributions.
	prefixPseudonym = "pn/"
)

// Pseudonym is what signs a visitor's contributions (pad edits, chat
// messages, files) in the journal, which other boxes copy. It is derived
// from the session ID but does not reveal it: the ID is the visitor's
// cookie, and a copy of the journal must not let anyone act as them.
func Pseudonym(id string) string {
	sum := sha256.Sum256([]byte("tiersbox author\x00" + id))
	return hex.EncodeToString(sum[:12])
}

// Pseudonym returns v's pseudonym.
func (v Visitor) Pseudonym() string { return Pseudonym(v.ID) }

// EnterRequest is what a visitor submits with the Enter button, with what
// the network says about their device.
type EnterRequest struct {
	// ID is the visitor's existing session ID from their cookie, if any;
	// entering again keeps the same pseudonym.
	ID       string
	Nickname string
	Lang     string
	Addr     netip.Addr
	MAC      string
}

// Enter starts or renews a session. The nickname is cleaned and checked
// with CleanNickname, whose errors it returns unchanged.
func (s *Service) Enter(req EnterRequest) (Visitor, error) {
	nick, err := CleanNickname(req.Nickname)
	if err != nil {
		return Visitor{}, err
	}
	now := s.now()
	v := Visitor{
		Nickname: nick,
		Lang:     req.Lang,
		Addr:     req.Addr.Unmap(),
		MAC:      strings.ToLower(req.MAC),
		Entered:  now,
		Expires:  now.Add(s.SessionLength()),
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketVisitors)
		if req.ID != "" {
			if old, ok := get(b, req.ID); ok {
				v.ID = old.ID
				v.Entered = old.Entered
				unindex(b, old)
			}
		}
		if v.ID == "" {
			v.ID = newID()
		}
		return put(b, v)
	})
	if err != nil {
		return Visitor{}, fmt.Errorf("visitor: enter: %w", err)
	}
	return v, nil
}

// ByID returns the current session with this ID.
func (s *Service) ByID(id string) (Visitor, error) {
	var v Visitor
	var ok bool
	err := s.st.View(func(tx *bolt.Tx) error {
		v, ok = get(tx.Bucket(store.BucketVisitors), id)
		return nil
	})
	if err != nil {
		return Visitor{}, fmt.Errorf("visitor: lookup: %w", err)
	}
	if !ok || !v.Expires.After(s.now()) {
		return Visitor{}, ErrNotFound
	}
	return v, nil
}

// ByPseudonym returns the current session whose contributions are signed
// with pseudonym p.
func (s *Service) ByPseudonym(p string) (Visitor, error) {
	var id []byte
	s.st.View(func(tx *bolt.Tx) error {
		id = bytes.Clone(tx.Bucket(store.BucketVisitors).Get([]byte(prefixPseudonym + p)))
		return nil
	})
	if id == nil {
		return Visitor{}, ErrNotFound
	}
	return s.ByID(string(id))
}

// ByClient returns the current session of the device at addr, with mac if
// the caller knows it (empty otherwise). A MAC match wins, so a phone whose
// DHCP lease changed is still recognised; an address match counts only if
// the MACs do not contradict it, so a phone handed a departed visitor's
// address is not.
func (s *Service) ByClient(addr netip.Addr, mac string) (Visitor, error) {
	addr = addr.Unmap()
	mac = strings.ToLower(mac)
	now := s.now()
	var found Visitor
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketVisitors)
		if mac != "" {
			if id := b.Get([]byte(prefixMAC + mac)); id != nil {
				if v, ok := get(b, string(id)); ok && v.MAC == mac && v.Expires.After(now) {
					found = v
					return nil
				}
			}
		}
		if id := b.Get([]byte(prefixAddr + addr.String())); id != nil {
			v, ok := get(b, string(id))
			if ok && v.Addr == addr && v.Expires.After(now) && (mac == "" || v.MAC == "" || v.MAC == mac) {
				found = v
			}
		}
		return nil
	})
	if err != nil {
		return Visitor{}, fmt.Errorf("visitor: lookup: %w", err)
	}
	if found.ID == "" {
		return Visitor{}, ErrNotFound
	}
	return found, nil
}

// Entered reports whether the device at addr (with mac, if known) has a
// current session. Errors count as "not entered": the visitor then sees the
// welcome page again, which is harmless.
func (s *Service) Entered(addr netip.Addr, mac string) bool {
	_, err := s.ByClient(addr, mac)
	return err == nil
}

// Moved records that a visitor with a current session (recognised by their
// cookie) now uses another address or MAC, so that their device's probes
// are answered "online" there too.
func (s *Service) Moved(v Visitor, addr netip.Addr, mac string) error {
	addr = addr.Unmap()
	mac = strings.ToLower(mac)
	if v.Addr == addr && (mac == "" || v.MAC == mac) {
		return nil
	}
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketVisitors)
		cur, ok := get(b, v.ID)
		if !ok {
			return ErrNotFound
		}
		unindex(b, cur)
		cur.Addr = addr
		if mac != "" {
			cur.MAC = mac
		}
		return put(b, cur)
	})
	if err != nil {
		return fmt.Errorf("visitor: move: %w", err)
	}
	return nil
}

// Count returns the number of current sessions.
func (s *Service) Count() (int, error) {
	now := s.now()
	n := 0
	err := s.st.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(store.BucketVisitors).Cursor()
		for k, raw := c.Seek([]byte(prefixID)); k != nil && strings.HasPrefix(string(k), prefixID); k, raw = c.Next() {
			var v Visitor
			if json.Unmarshal(raw, &v) == nil && v.Expires.After(now) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// Purge deletes expired sessions and their indexes, and returns how many it
// deleted.
func (s *Service) Purge() (int, error) {
	now := s.now()
	n := 0
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketVisitors)
		var expired []Visitor
		c := b.Cursor()
		for k, raw := c.Seek([]byte(prefixID)); k != nil && strings.HasPrefix(string(k), prefixID); k, raw = c.Next() {
			var v Visitor
			if err := json.Unmarshal(raw, &v); err != nil || !v.Expires.After(now) {
				v.ID = strings.TrimPrefix(string(k), prefixID)
				expired = append(expired, v)
			}
		}
		for _, v := range expired {
			unindex(b, v)
			if err := b.Delete([]byte(prefixID + v.ID)); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("visitor: purge: %w", err)
	}
	return n, nil
}

// Run purges expired sessions every interval until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := s.Purge(); err != nil {
				s.logger.Error("purging expired visitor sessions", "error", err)
			} else if n > 0 {
				s.logger.Info("expired visitor sessions purged", "count", n)
			}
		}
	}
}

func get(b *bolt.Bucket, id string) (Visitor, bool) {
	raw := b.Get([]byte(prefixID + id))
	if raw == nil {
		return Visitor{}, false
	}
	var v Visitor
	if err := json.Unmarshal(raw, &v); err != nil {
		return Visitor{}, false
	}
	return v, true
}

func put(b *bolt.Bucket, v Visitor) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(prefixID+v.ID), raw); err != nil {
		return err
	}
	if v.Addr.IsValid() {
		if err := b.Put([]byte(prefixAddr+v.Addr.String()), []byte(v.ID)); err != nil {
			return err
		}
	}
	if v.MAC != "" {
		if err := b.Put([]byte(prefixMAC+v.MAC), []byte(v.ID)); err != nil {
			return err
		}
	}
	return b.Put([]byte(prefixPseudonym+v.Pseudonym()), []byte(v.ID))
}

// unindex removes v's address and MAC index entries if they still point at
// v (another visitor may have taken the address since).
func unindex(b *bolt.Bucket, v Visitor) {
	var keys []string
	if v.Addr.IsValid() {
		keys = append(keys, prefixAddr+v.Addr.String())
	}
	if v.MAC != "" {
		keys = append(keys, prefixMAC+v.MAC)
	}
	keys = append(keys, prefixPseudonym+v.Pseudonym())
	for _, k := range keys {
		if string(b.Get([]byte(k))) == v.ID {
			b.Delete([]byte(k))
		}
	}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns 128 random bits as 26 lower-case base32 characters.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// ValidID reports whether s has the shape of a session ID, so that a
// forged cookie never reaches the database as a key.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '2' <= r && r <= '7') {
			return false
		}
	}
	return true
}
