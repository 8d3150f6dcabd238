// Package staff logs the venue's staff in: one shared staff password (set
// by `tiersbox init` or `tiersbox admin-password`, kept as an argon2id hash
// in box/settings) opens a session that the portal keeps in a cookie.
//
// # Sessions
//
// A session ID is 32 random bytes written in hex. The database keeps only
// the SHA-256 of each ID, so a copy of the database (a backup, a stolen SD
// card) holds no usable session. Sessions live in a bucket named
// "staff_sessions" nested in store.BucketSettings, created by the first
// login: they need no schema migration, and they survive restarts. A
// session ends after IdleTimeout without use, at Logout, or when the
// password changes (SetPassword ends them all).
//
// # Failed logins
//
// Failures are counted per client address (per /64 network for IPv6, which
// a device can change within). After FreeAttempts failures, each new
// attempt must wait, one second at first, doubling up to a minute; Login
// refuses earlier attempts without checking the password. An address that
// stops failing for a quarter of an hour starts afresh. Checking a password
// costs 19 MiB and a fraction of a second on a Raspberry Pi, so checks run
// one at a time: a flood of logins cannot exhaust the box's memory.
//
// cmd and portal import this package. It does no networking.
package staff

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/password"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

// Defaults of Options and of the slowdown.
const (
	// DefaultIdleTimeout ends a session unused for this long: a working
	// day, so staff log in once in the morning.
	DefaultIdleTimeout = 12 * time.Hour
	// FreeAttempts is how many failures an address may make before it
	// has to wait between attempts.
	FreeAttempts = 5
	// MaxWait bounds the wait between attempts.
	MaxWait = time.Minute
	// forgetAfter is how long an address must stop failing for its
	// count to start again at zero.
	forgetAfter = 15 * time.Minute
	// touchEvery bounds how often Check writes a session's last use: a
	// staff page then costs no disk write per request.
	touchEvery = time.Minute
	// busyWait is how long Login waits for other password checks before
	// it gives up and asks the client to come back.
	busyWait = 5 * time.Second
	// maxClients bounds the failure table; stale entries are dropped
	// first.
	maxClients = 4096
)

// Errors returned by Login. Test them with errors.Is.
var (
	// ErrWrongPassword: the password does not match.
	ErrWrongPassword = errors.New("staff: wrong password")
	// ErrTooManyAttempts: the client must wait before trying again; the
	// error is a *WaitError that says how long.
	ErrTooManyAttempts = errors.New("staff: too many failed attempts")
	// ErrNoPassword: no staff password is set, so nobody can log in.
	ErrNoPassword = errors.New("staff: no staff password is set on this box: run `tiersbox init` to set the box up, or `tiersbox admin-password` to set a new password")
)

// WaitError is ErrTooManyAttempts with the time the client must wait.
type WaitError struct {
	Wait time.Duration
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%v: try again in %v", ErrTooManyAttempts, e.Wait.Round(time.Second))
}

func (e *WaitError) Unwrap() error { return ErrTooManyAttempts }

// Options configure a Service. The zero value is usable.
type Options struct {
	// IdleTimeout ends a session unused for this long. Zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives failed and successful logins (with the client's
	// address, never the password). nil discards them.
	Logger *slog.Logger
}

// Service checks the staff password and keeps sessions. It is safe for
// concurrent use. Its only memory is the failure counts; sessions are in
// the store, so several Services over one store agree.
type Service struct {
	st     *store.Store
	idle   time.Duration
	now    func() time.Time
	logger *slog.Logger

	verify chan struct{} // one password check at a time

	mu       sync.Mutex
	failures map[string]*failures // by clientKey
}

type failures struct {
	count int
	last  time.Time // last failure
	until time.Time // no attempt before this
}

// New returns a Service over an open store.
func New(st *store.Store, opts Options) *Service {
	s := &Service{
		st: st, idle: opts.IdleTimeout, now: opts.Now, logger: opts.Logger,
		verify:   make(chan struct{}, 1),
		failures: make(map[string]*failures),
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

var bucketSessions = []byte("staff_sessions")

// session is what the database keeps of a session, under the SHA-256 of
// its ID.
type session struct {
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

// Login checks the staff password sent from remoteAddr (an address, with
// or without a port) and returns a new session ID. It returns
// ErrWrongPassword, a *WaitError (ErrTooManyAttempts), ErrNoPassword, or
// another error when the box could not check.
func (s *Service) Login(pw, remoteAddr string) (string, error) {
	client := clientKey(remoteAddr)
	if err := s.mustWait(client); err != nil {
		return "", err
	}
	st, err := settings.Load(s.st)
	if err != nil {
		return "", fmt.Errorf("staff: login: %w", err)
	}
	if st.AdminPasswordHash == "" {
		s.logger.Warn("staff login refused: no staff password is set", "client", client)
		return "", ErrNoPassword
	}

	select {
	case s.verify <- struct{}{}:
	case <-time.After(busyWait):
		s.logger.Warn("staff login refused: too many password checks at once", "client", client)
		return "", &WaitError{Wait: busyWait}
	}
	// Again, now that checks are serialised: attempts sent all at once
	// were let through above before any of them failed.
	if err := s.mustWait(client); err != nil {
		<-s.verify
		return "", err
	}
	err = password.Verify(st.AdminPasswordHash, pw)
	if errors.Is(err, password.ErrMismatch) {
		n, wait := s.failed(client)
		<-s.verify
		if wait > 0 {
			s.logger.Warn("staff login failed, client slowed down", "client", client, "failures", n, "wait", wait)
		} else {
			s.logger.Warn("staff login failed", "client", client, "failures", n)
		}
		return "", ErrWrongPassword
	}
	<-s.verify
	if err != nil {
		return "", fmt.Errorf("staff: login: the stored password hash: %w", err)
	}

	s.mu.Lock()
	delete(s.failures, client)
	s.mu.Unlock()
	id, err := s.create()
	if err != nil {
		return "", err
	}
	s.logger.Info("staff logged in", "client", client)
	return id, nil
}

// mustWait returns a *WaitError if client may not try yet.
func (s *Service) mustWait(client string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.failures[client]; f != nil && now.Before(f.until) {
		return &WaitError{Wait: f.until.Sub(now)}
	}
	return nil
}

// failed records a failure and returns the client's count and how long it
// must now wait.
func (s *Service) failed(client string) (int, time.Duration) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.failures[client]
	if f == nil || now.Sub(f.last) >= forgetAfter {
		if len(s.failures) >= maxClients {
			s.forgetStale(now)
		}
		f = new(failures)
		s.failures[client] = f
	}
	f.count++
	f.last = now
	if f.count < FreeAttempts {
		return f.count, 0
	}
	wait := MaxWait
	if k := f.count - FreeAttempts; k < 6 {
		wait = min(time.Second<<k, MaxWait)
	}
	f.until = now.Add(wait)
	return f.count, wait
}

// forgetStale drops the failure counts that no longer matter, and if the
// table is still full, all of them: a client able to use thousands of
// addresses is not slowed by a per-address count anyway, and the table
// must not grow without end.
func (s *Service) forgetStale(now time.Time) {
	for k, f := range s.failures {
		if now.Sub(f.last) >= forgetAfter && !now.Before(f.until) {
			delete(s.failures, k)
		}
	}
	if len(s.failures) >= maxClients {
		clear(s.failures)
	}
}

// create stores a new session and drops the expired ones (logins are the
// only way sessions are added, so this keeps their number bounded).
func (s *Service) create() (string, error) {
	var raw [32]byte
	rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	now := s.now()
	val, err := json.Marshal(session{Created: now, LastSeen: now})
	if err != nil {
		return "", err
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(store.BucketSettings).CreateBucketIfNotExists(bucketSessions)
		if err != nil {
			return err
		}
		var expired [][]byte
		err = b.ForEach(func(k, v []byte) error {
			var old session
			if json.Unmarshal(v, &old) != nil || s.expired(old, now) {
				expired = append(expired, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return b.Put(key(id), val)
	})
	if err != nil {
		return "", fmt.Errorf("staff: save session: %w", err)
	}
	return id, nil
}

func (s *Service) expired(ss session, now time.Time) bool {
	return !now.Before(ss.LastSeen.Add(s.idle))
}

// Check reports whether id is a current session, and records its use.
// Errors count as "not logged in": staff then log in again.
func (s *Service) Check(id string) bool {
	if !ValidID(id) {
		return false
	}
	k := key(id)
	now := s.now()
	var ss session
	found := false
	err := s.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketSettings).Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		if v := b.Get(k); v != nil {
			found = json.Unmarshal(v, &ss) == nil
		}
		return nil
	})
	if err != nil {
		s.logger.Error("reading a staff session", "error", err)
		return false
	}
	if !found || s.expired(ss, now) {
		return false
	}
	if now.Sub(ss.LastSeen) < touchEvery {
		return true
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketSettings).Bucket(bucketSessions)
		if b == nil || b.Get(k) == nil {
			return errGone
		}
		ss.LastSeen = now
		v, err := json.Marshal(ss)
		if err != nil {
			return err
		}
		return b.Put(k, v)
	})
	switch {
	case errors.Is(err, errGone):
		// Logged out (or the password changed) meanwhile.
		return false
	case err != nil:
		// The session is valid; only its last use was not recorded.
		s.logger.Warn("recording a staff session's use", "error", err)
	}
	return true
}

var errGone = errors.New("staff: session gone")

// Logout ends a session. Ending an unknown or malformed one is not an
// error.
func (s *Service) Logout(id string) error {
	if !ValidID(id) {
		return nil
	}
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketSettings).Bucket(bucketSessions)
		if b == nil {
			return nil
		}
		return b.Delete(key(id))
	})
	if err != nil {
		return fmt.Errorf("staff: logout: %w", err)
	}
	return nil
}

// SetPassword replaces the staff password and ends every staff session,
// so that whoever knew the old password is logged out everywhere. pw must
// pass password.Check. The settings must have been saved before (by
// `tiersbox init`); their other fields are kept.
func SetPassword(st *store.Store, pw string) error {
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	// Sessions end first: if the box stops between the two steps, the old
	// password still works but nobody stays logged in with it.
	if err := EndAll(st); err != nil {
		return err
	}
	cur, err := settings.Load(st)
	if err != nil {
		return err
	}
	cur.AdminPasswordHash = hash
	return settings.Save(st, cur)
}

// EndAll ends every staff session.
func EndAll(st *store.Store) error {
	err := st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketSettings)
		if b.Bucket(bucketSessions) == nil {
			return nil
		}
		return b.DeleteBucket(bucketSessions)
	})
	if err != nil {
		return fmt.Errorf("staff: end sessions: %w", err)
	}
	return nil
}

// ValidID reports whether id has the shape of a session ID (64 lower-case
// hex digits), so that a forged cookie never reaches the database.
func ValidID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func key(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// clientKey is what failures are counted by: the address without its
// port, and for IPv6 its /64, which one device may move within at will.
func clientKey(remoteAddr string) string {
	a, err := netip.ParseAddr(remoteAddr)
	if err != nil {
		ap, perr := netip.ParseAddrPort(remoteAddr)
		if perr != nil {
			return remoteAddr
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
