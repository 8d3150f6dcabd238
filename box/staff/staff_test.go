package staff

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/password"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

const staffPassword = "le mot de passe"

// clock is a settable time for the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newBox opens a store in a temporary folder, with a staff password unless
// pw is empty, and a Service on a fake clock.
func newBox(t *testing.T, pw string) (*store.Store, *Service, *clock) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if pw != "" {
		hash, err := password.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := settings.Save(st, settings.Settings{Venue: "La Fabrique", AdminPasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	return st, New(st, Options{Now: c.Now}), c
}

func TestLogin(t *testing.T) {
	_, s, _ := newBox(t, staffPassword)
	if _, err := s.Login("pas le bon", "10.42.0.50:40000"); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	id, err := s.Login(staffPassword, "10.42.0.50:40000")
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(id) {
		t.Fatalf("session ID %q", id)
	}
	if !s.Check(id) {
		t.Error("a fresh session is not valid")
	}
	other, err := s.Login(staffPassword, "10.42.0.51")
	if err != nil || other == id {
		t.Fatalf("second login: %q %v", other, err)
	}
	for _, bad := range []string{"", "x", other[:63], other + "0", "G" + other[1:]} {
		if s.Check(bad) {
			t.Errorf("Check(%q) is true", bad)
		}
	}
}

func TestNoPassword(t *testing.T) {
	_, s, _ := newBox(t, "")
	_, err := s.Login("anything at all", "10.42.0.50:40000")
	if !errors.Is(err, ErrNoPassword) {
		t.Fatalf("got %v", err)
	}
	for _, cmd := range []string{"tiersbox init", "tiersbox admin-password"} {
		if !strings.Contains(err.Error(), cmd) {
			t.Errorf("the error does not name %q: %v", cmd, err)
		}
	}
}

func TestSlowdown(t *testing.T) {
	_, s, c := newBox(t, staffPassword)
	const client = "10.42.0.66:5000"
	for i := range FreeAttempts {
		if _, err := s.Login("guess", client); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// Now each attempt waits longer: 1 s, 2 s, 4 s… up to a minute. Even
	// the right password is refused before the wait is over.
	wantWait := time.Second
	for i := range 9 {
		_, err := s.Login(staffPassword, client)
		var we *WaitError
		if !errors.As(err, &we) || !errors.Is(err, ErrTooManyAttempts) || we.Wait != wantWait {
			t.Fatalf("after %d failures: %v, want a wait of %v", FreeAttempts+i, err, wantWait)
		}
		// The same client on another port counts as the same client.
		if _, err := s.Login(staffPassword, "10.42.0.66:5001"); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("another port: %v", err)
		}
		c.Add(we.Wait)
		if _, err := s.Login("guess again", client); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("after the wait: %v", err)
		}
		wantWait = min(2*wantWait, MaxWait)
	}
	if wantWait != MaxWait {
		t.Fatalf("the wait never reached %v", MaxWait)
	}

	// Another client is not slowed down.
	if _, err := s.Login(staffPassword, "10.42.0.67:5000"); err != nil {
		t.Fatalf("another client: %v", err)
	}
	// IPv6 clients are counted by /64.
	for range FreeAttempts {
		s.Login("guess", "[2001:db8:1:2::10]:443")
	}
	if _, err := s.Login(staffPassword, "[2001:db8:1:2::99]:443"); !errors.Is(err, ErrTooManyAttempts) {
		t.Errorf("an address in the same /64: %v", err)
	}

	// A quarter of an hour without failure starts afresh, and a success
	// clears the count.
	c.Add(forgetAfter)
	for range FreeAttempts - 1 {
		s.Login("guess", client)
	}
	if _, err := s.Login(staffPassword, client); err != nil {
		t.Fatalf("after a quiet quarter of an hour: %v", err)
	}
	for range FreeAttempts - 1 {
		s.Login("guess", client)
	}
	if _, err := s.Login("guess", client); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("the count was not cleared by a success: %v", err)
	}
}

// TestConcurrentGuesses sends many guesses at once from one client: the
// slowdown holds, none slips through before the others failed.
func TestConcurrentGuesses(t *testing.T) {
	_, s, _ := newBox(t, staffPassword)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 3 * FreeAttempts {
		wg.Go(func() {
			_, err := s.Login("guess", "10.42.0.66")
			if errors.Is(err, ErrWrongPassword) {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if checked != FreeAttempts {
		t.Errorf("%d guesses were checked, want %d", checked, FreeAttempts)
	}
}

func TestExpiry(t *testing.T) {
	_, s, c := newBox(t, staffPassword)
	id, err := s.Login(staffPassword, "10.42.0.50")
	if err != nil {
		t.Fatal(err)
	}
	// Used every 11 hours, a session stays open.
	for range 3 {
		c.Add(11 * time.Hour)
		if !s.Check(id) {
			t.Fatal("a session in use expired")
		}
	}
	c.Add(DefaultIdleTimeout - time.Second)
	if !s.Check(id) {
		t.Fatal("expired before 12 h idle")
	}
	c.Add(DefaultIdleTimeout)
	if s.Check(id) {
		t.Fatal("still valid after 12 h idle")
	}
}

func TestIdleTimeoutOption(t *testing.T) {
	st, _, c := newBox(t, staffPassword)
	s := New(st, Options{Now: c.Now, IdleTimeout: time.Hour})
	id, err := s.Login(staffPassword, "10.42.0.50")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour)
	if s.Check(id) {
		t.Fatal("still valid after the idle timeout")
	}
}

func TestLogout(t *testing.T) {
	_, s, _ := newBox(t, staffPassword)
	a, _ := s.Login(staffPassword, "10.42.0.50")
	b, _ := s.Login(staffPassword, "10.42.0.51")
	if err := s.Logout(a); err != nil {
		t.Fatal(err)
	}
	if s.Check(a) {
		t.Error("a session is valid after logout")
	}
	if !s.Check(b) {
		t.Error("logout ended another session")
	}
	for _, id := range []string{a, "", "not an id"} {
		if err := s.Logout(id); err != nil {
			t.Errorf("Logout(%q): %v", id, err)
		}
	}
}

func TestSessionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	settings.Save(st, settings.Settings{Venue: "X"})
	if err := SetPassword(st, staffPassword); err != nil {
		t.Fatal(err)
	}
	id, err := New(st, Options{}).Login(staffPassword, "10.42.0.50")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !New(st, Options{}).Check(id) {
		t.Error("a session did not survive a restart")
	}
}

func TestSetPassword(t *testing.T) {
	st, s, _ := newBox(t, staffPassword)
	id, err := s.Login(staffPassword, "10.42.0.50")
	if err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(st, "court"); err == nil {
		t.Fatal("a short password was accepted")
	}
	if !s.Check(id) {
		t.Fatal("a refused password change ended the sessions")
	}
	if err := SetPassword(st, "un autre mot de passe"); err != nil {
		t.Fatal(err)
	}
	if s.Check(id) {
		t.Error("a session outlived the password change")
	}
	if _, err := s.Login(staffPassword, "10.42.0.50"); !errors.Is(err, ErrWrongPassword) {
		t.Errorf("the old password: %v", err)
	}
	if _, err := s.Login("un autre mot de passe", "10.42.0.50"); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if cur, _ := settings.Load(st); cur.Venue != "La Fabrique" {
		t.Errorf("the venue changed to %q", cur.Venue)
	}
}

func TestExpiredSessionsPurgedAtLogin(t *testing.T) {
	st, s, c := newBox(t, staffPassword)
	for range 3 {
		s.Login(staffPassword, "10.42.0.50")
	}
	c.Add(DefaultIdleTimeout)
	s.Login(staffPassword, "10.42.0.50")
	n := 0
	st.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(store.BucketSettings).Bucket(bucketSessions).Stats().KeyN
		return nil
	})
	if n != 1 {
		t.Errorf("%d sessions stored, want 1", n)
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.42.0.50:40000", "10.42.0.50"},
		{"10.42.0.50", "10.42.0.50"},
		{"[::ffff:10.42.0.50]:80", "10.42.0.50"},
		{"[2001:db8::1]:80", "2001:db8::/64"},
		{"fe80::1%wlan0", "fe80::/64"},
		{"pipe", "pipe"},
	}
	for _, tt := range tests {
		if got := clientKey(tt.in); got != tt.want {
			t.Errorf("clientKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
