package visitor

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"tiersbox/box/store"

	bolt "go.etcd.io/bbolt"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(t *testing.T, dir string, c *clock) (*Service, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, Options{SessionLength: time.Hour, Now: c.now}), st
}

var (
	phone1 = netip.MustParseAddr("10.42.0.11")
	phone2 = netip.MustParseAddr("10.42.0.12")
	mac1   = "aa:bb:cc:00:00:01"
	mac2   = "aa:bb:cc:00:00:02"
)

func TestEnterAndRecognise(t *testing.T) {
	c := &clock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	s, _ := newTest(t, t.TempDir(), c)

	if s.Entered(phone1, mac1) {
		t.Fatal("entered before Enter")
	}
	v, err := s.Enter(EnterRequest{Nickname: "  Léa   la  brodeuse ", Lang: "fr", Addr: phone1, MAC: "AA:BB:CC:00:00:01"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Nickname != "Léa la brodeuse" || !ValidID(v.ID) || v.MAC != mac1 {
		t.Fatalf("unexpected visitor %+v", v)
	}
	tests := []struct {
		name string
		addr netip.Addr
		mac  string
		want bool
	}{
		{"same address and MAC", phone1, mac1, true},
		{"same address, MAC unknown", phone1, "", true},
		{"IPv4-mapped address", netip.MustParseAddr("::ffff:10.42.0.11"), "", true},
		{"new address, same MAC (DHCP renewed)", phone2, mac1, true},
		{"same address, another device", phone1, mac2, false},
		{"another device", phone2, mac2, false},
		{"another address, MAC unknown", phone2, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Entered(tt.addr, tt.mac); got != tt.want {
				t.Errorf("Entered(%v, %q) = %v, want %v", tt.addr, tt.mac, got, tt.want)
			}
		})
	}

	// Entering again with the cookie keeps the pseudonym.
	again, err := s.Enter(EnterRequest{ID: v.ID, Nickname: "Léa", Addr: phone1, MAC: mac1})
	if err != nil || again.ID != v.ID || again.Nickname != "Léa" {
		t.Fatalf("re-enter: %+v, %v", again, err)
	}
	// A forged or unknown ID starts a new session.
	other, err := s.Enter(EnterRequest{ID: "zzzzzzzzzzzzzzzzzzzzzzzzzz", Nickname: "Tom", Addr: phone2, MAC: mac2})
	if err != nil || other.ID == "zzzzzzzzzzzzzzzzzzzzzzzzzz" {
		t.Fatalf("unknown ID: %+v, %v", other, err)
	}
	if n, _ := s.Count(); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

func TestExpiryAndPurge(t *testing.T) {
	c := &clock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	s, st := newTest(t, dir, c)
	v, err := s.Enter(EnterRequest{Nickname: "Ana", Addr: phone1, MAC: mac1})
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(59 * time.Minute)
	if !s.Entered(phone1, mac1) {
		t.Fatal("expired early")
	}
	// Sessions survive a restart of the daemon.
	st.Close()
	s, _ = newTest(t, dir, c)
	if _, err := s.ByID(v.ID); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// The pseudonym that signs Ana's contributions leads back to her
	// session, but does not show her session ID.
	if p := v.Pseudonym(); strings.Contains(p, v.ID) || len(p) != 24 {
		t.Fatalf("pseudonym %q of %q", p, v.ID)
	}
	if got, err := s.ByPseudonym(v.Pseudonym()); err != nil || got.ID != v.ID {
		t.Fatalf("ByPseudonym: %+v %v", got, err)
	}
	c.t = c.t.Add(2 * time.Minute)
	if s.Entered(phone1, mac1) {
		t.Fatal("still entered after expiry")
	}
	if _, err := s.ByID(v.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ByID after expiry: %v", err)
	}
	n, err := s.Purge()
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	// Nothing of the visitor is left, addresses included.
	var keys []string
	s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketVisitors).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	if len(keys) != 0 {
		t.Errorf("left after purge: %v", keys)
	}
}

func TestMoved(t *testing.T) {
	c := &clock{time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	s, _ := newTest(t, t.TempDir(), c)
	v, _ := s.Enter(EnterRequest{Nickname: "Ana", Addr: phone1})
	if err := s.Moved(v, phone2, mac2); err != nil {
		t.Fatal(err)
	}
	if s.Entered(phone1, "") {
		t.Error("old address still entered")
	}
	if !s.Entered(phone2, mac2) {
		t.Error("new address not entered")
	}
}

func TestCleanNickname(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"Léa", "Léa", nil},
		{"Le\u0301a", "Léa", nil}, // decomposed accent becomes NFC
		{"  O'Brien  ", "O'Brien", nil},
		{"Zoé & Tom", "Zoé & Tom", nil},
		{"👩‍🔧 Marie", "👩‍🔧 Marie", nil},
		{"محمد", "محمد", nil},
		{"", "", ErrNicknameEmpty},
		{"   ", "", ErrNicknameEmpty},
		{strings.Repeat("a", 32), strings.Repeat("a", 32), nil},
		{strings.Repeat("é", 33), "", ErrNicknameTooLong},
		{"<script>alert(1)</script>", "", ErrNicknameInvalid},
		{"<b>", "", ErrNicknameInvalid},
		{"tab\there", "", ErrNicknameInvalid},
		{"new\nline", "", ErrNicknameInvalid},
		{"nul\x00", "", ErrNicknameInvalid},
		{"bidi\u202eevil", "", ErrNicknameInvalid},
		{"bell\a", "", ErrNicknameInvalid},
		{"private\ue000", "", ErrNicknameInvalid},
		{"bad utf8 \xff", "", ErrNicknameInvalid},
	}
	for _, tt := range tests {
		got, err := CleanNickname(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("CleanNickname(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestValidID(t *testing.T) {
	if !ValidID(newID()) {
		t.Error("newID is not valid")
	}
	for _, bad := range []string{"", "short", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "../../../../../../../../etc", strings.Repeat("a", 27)} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
