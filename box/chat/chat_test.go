package chat

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"tiersbox/box/journal"
	"tiersbox/box/store"
)

type testBox struct {
	st   *store.Store
	j    *journal.Journal
	chat *Service
	now  time.Time
}

func openBox(t *testing.T, dir string, origin byte) *testBox {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBox{st: st, now: time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return tb.now }
	tb.j, err = journal.Open(st, journal.Origin{origin}, journal.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	tb.chat, err = New(st, tb.j, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func (tb *testBox) close(t *testing.T) {
	if err := tb.st.Close(); err != nil {
		t.Fatal(err)
	}
}

func texts(t *testing.T, s *Service, channel string) []string {
	t.Helper()
	var out []string
	if err := s.All(channel, func(m Message) error { out = append(out, m.Nick+": "+m.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPostAndRead(t *testing.T) {
	tb := openBox(t, t.TempDir(), 1)
	defer tb.close(t)
	var heard []Event
	stop := tb.chat.Subscribe(Default, func(e Event) { heard = append(heard, e) })
	defer stop()
	for i, who := range []string{"Ana", "Bob", "Ana"} {
		tb.now = tb.now.Add(time.Second)
		if _, err := tb.chat.Post(Default, "id-"+who, who, fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(texts(t, tb.chat, Default), "|"); got != "Ana: message 0|Bob: message 1|Ana: message 2" {
		t.Fatalf("channel holds %q", got)
	}
	if len(heard) != 3 || heard[2].Type != "post" || heard[2].Message.Text != "message 2" {
		t.Fatalf("subscriber heard %+v", heard)
	}
	// Paged, most recent first.
	p, err := tb.chat.History(Default, "", 2)
	if err != nil || len(p.Messages) != 2 || p.Messages[0].Text != "message 2" || p.Older == "" {
		t.Fatalf("first page %+v, %v", p, err)
	}
	p, err = tb.chat.History(Default, p.Older, 2)
	if err != nil || len(p.Messages) != 1 || p.Messages[0].Text != "message 0" || p.Older != "" {
		t.Fatalf("second page %+v, %v", p, err)
	}
}

func TestPostRefused(t *testing.T) {
	tb := openBox(t, t.TempDir(), 1)
	defer tb.close(t)
	tests := []struct {
		name, channel, text string
		want                error
	}{
		{"empty", Default, "  \n ", ErrEmpty},
		{"too long", Default, strings.Repeat("é", MaxText), ErrTooLong},
		{"control character", Default, "bip\x07", ErrBadText},
		{"bidi override", Default, "abc\u202edcba", ErrBadText},
		{"unknown channel", "nulle-part", "bonjour", ErrNoChannel},
		{"bad channel name", "../x", "bonjour", ErrBadName},
		{"upper case", "Général", "bonjour", ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tb.chat.Post(tt.channel, "id-ana", "Ana", tt.text); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if got := texts(t, tb.chat, Default); len(got) != 0 {
		t.Fatalf("refused posts were stored: %q", got)
	}
	// Line breaks, tabs, markup and any alphabet are fine: they are text.
	text := "<script>alert(1)</script>\n\tمرحبا"
	m, err := tb.chat.Post(Default, "id-ana", "Ana", text)
	if err != nil || m.Text != text {
		t.Fatalf("posting %q: %+v %v", text, m, err)
	}
}

func TestRateLimitAndMute(t *testing.T) {
	tb := openBox(t, t.TempDir(), 1)
	defer tb.close(t)
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		_, err = tb.chat.Post(Default, "id-ana", "Ana", "vite")
	}
	if !errors.Is(err, ErrTooFast) || n-1 != postBurst {
		t.Fatalf("after %d posts: %v", n, err)
	}
	// Others are not slowed down, and Ana may post again after a while.
	if _, err := tb.chat.Post(Default, "id-bob", "Bob", "moi aussi"); err != nil {
		t.Fatal(err)
	}
	tb.now = tb.now.Add(time.Minute)
	if _, err := tb.chat.Post(Default, "id-ana", "Ana", "de nouveau"); err != nil {
		t.Fatal(err)
	}

	if err := tb.chat.Mute("BOB", "staff", tb.now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.chat.Post(Default, "id-bob2", "bob", "je reviens"); !errors.Is(err, ErrMuted) {
		t.Fatalf("muted nickname posts: %v", err)
	}
	tb.now = tb.now.Add(11 * time.Minute)
	if _, err := tb.chat.Post(Default, "id-bob2", "bob", "je reviens"); err != nil {
		t.Fatalf("after the mute: %v", err)
	}
	// Staff lift a pause early with a mute that ends now.
	tb.chat.Mute("Bob", "staff", tb.now.Add(time.Hour))
	if err := tb.chat.Mute("Bob", "staff", tb.now); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.chat.Post(Default, "id-bob3", "Bob", "merci"); err != nil {
		t.Fatalf("after the pause was lifted: %v", err)
	}
}

func TestDeleteRemoveClear(t *testing.T) {
	tb := openBox(t, t.TempDir(), 1)
	defer tb.close(t)
	post := func(who, text string) Message {
		tb.now = tb.now.Add(time.Second)
		m, err := tb.chat.Post(Default, "id-"+who, who, text)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := post("Ana", "un"), post("Bob", "deux")
	post("Ana", "trois")
	if err := tb.chat.Delete(a.ID, "id-Bob"); !errors.Is(err, ErrNotYours) {
		t.Fatalf("Bob deletes Ana's message: %v", err)
	}
	if err := tb.chat.Delete(a.ID, "id-Ana"); err != nil {
		t.Fatal(err)
	}
	if err := tb.chat.Remove(b.ID, "staff"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(texts(t, tb.chat, Default), "|"); got != "Ana: trois" {
		t.Fatalf("after removals: %q", got)
	}
	if err := tb.chat.Delete(a.ID, "id-Ana"); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("deleting twice: %v", err)
	}
	if err := tb.chat.Clear(Default, "staff"); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, tb.chat, Default); len(got) != 0 {
		t.Fatalf("after clear: %q", got)
	}
	post("Bob", "après")
	if got := strings.Join(texts(t, tb.chat, Default), "|"); got != "Bob: après" {
		t.Fatalf("after clear and a post: %q", got)
	}
}

func TestChannels(t *testing.T) {
	tb := openBox(t, t.TempDir(), 1)
	defer tb.close(t)
	for _, name := range []string{"ateliers", "café-du-lieu"} {
		if err := tb.chat.Create(name, "staff"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.chat.Create("ateliers", "staff"); !errors.Is(err, ErrExists) {
		t.Fatalf("creating twice: %v", err)
	}
	for _, bad := range []string{"pad-x", "../x", "", "a b", strings.Repeat("x", 65)} {
		if err := tb.chat.Create(bad, "staff"); !errors.Is(err, ErrBadName) {
			t.Errorf("create %q: %v", bad, err)
		}
	}
	if _, err := tb.chat.Post("pad-Atelier_1", "id-ana", "Ana", "côté pad"); err != nil {
		t.Fatalf("a pad's side channel: %v", err)
	}
	if err := tb.chat.Archive("ateliers", "staff"); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.chat.Post("ateliers", "id-ana", "Ana", "trop tard"); !errors.Is(err, ErrArchived) {
		t.Fatalf("posting in an archived channel: %v", err)
	}
	if err := tb.chat.Archive(Default, "staff"); err == nil {
		t.Fatal("the default channel was archived")
	}
	list, _ := tb.chat.Channels(false)
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "général,café-du-lieu" {
		t.Fatalf("channels: %v", names)
	}
	if n, _ := CleanName("  Café du Lieu "); n != "café-du-lieu" {
		t.Fatalf("CleanName: %q", n)
	}
}

// TestRebuildAndRestart: the chat is derived from the journal alone, and
// a restart applies what the journal has beyond the derived state.
func TestRebuildAndRestart(t *testing.T) {
	dir := t.TempDir()
	tb := openBox(t, dir, 1)
	m, _ := tb.chat.Post(Default, "id-ana", "Ana", "un")
	tb.chat.Post(Default, "id-bob", "Bob", "deux")
	tb.chat.Delete(m.ID, "id-ana")
	want := texts(t, tb.chat, Default)
	if err := tb.chat.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if got := texts(t, tb.chat, Default); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rebuilt %q, want %q", got, want)
	}
	tb.close(t)
	tb = openBox(t, dir, 1)
	defer tb.close(t)
	if got := texts(t, tb.chat, Default); strings.Join(got, "|") != "Bob: deux" {
		t.Fatalf("after restart: %q", got)
	}
}

// TestOrderIndependence: the entries of two boxes applied in any order,
// any number of times, give the same channels.
func TestOrderIndependence(t *testing.T) {
	// Two boxes write, each in its own journal.
	var entries []journal.Entry
	for _, origin := range []byte{1, 2} {
		tb := openBox(t, t.TempDir(), origin)
		tb.now = tb.now.Add(time.Duration(origin) * 300 * time.Millisecond)
		tb.chat.Create("ateliers", "staff")
		var ids []string
		for i := range 5 {
			tb.now = tb.now.Add(time.Second)
			ch := Default
			if i%2 == 1 {
				ch = "ateliers"
			}
			m, err := tb.chat.Post(ch, fmt.Sprintf("id-%d", origin), fmt.Sprintf("box%d", origin), fmt.Sprintf("m%d-%d", origin, i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
			if origin == 2 && i == 2 {
				tb.chat.Clear("ateliers", "staff") // hides m1-1 and m2-1, not what comes later
			}
		}
		tb.chat.Delete(ids[0], fmt.Sprintf("id-%d", origin))
		tb.chat.Delete(ids[2], "someone-else") // refused at the source
		tb.chat.Remove(ids[4], "staff")
		if origin == 2 {
			tb.chat.Mute("box1", "staff", tb.now.Add(time.Hour))
		}
		tb.j.Since(journal.Origin{origin}, 0, func(e journal.Entry) error { entries = append(entries, e); return nil })
		tb.close(t)
	}
	state := func(t interface {
		Helper()
		Fatal(...any)
	}, order []int, twice bool) string {
		dir, _ := os.MkdirTemp("", "chat")
		defer os.RemoveAll(dir)
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		j, _ := journal.Open(st, journal.Origin{9}, journal.Options{})
		s, err := New(st, j, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range order {
			if err := s.Apply(entries[i]); err != nil {
				t.Fatal(err)
			}
			if twice {
				s.Apply(entries[i])
			}
		}
		var b strings.Builder
		chans, _ := s.Channels(true)
		for _, c := range chans {
			fmt.Fprintf(&b, "[%s archived=%v]", c.Name, c.Archived)
			s.All(c.Name, func(m Message) error { fmt.Fprintf(&b, " %s@%d:%s", m.Nick, m.Time, m.Text); return nil })
		}
		until, _ := s.MutedUntil("BOX1")
		fmt.Fprintf(&b, " mute=%d", until.UnixMilli())
		return b.String()
	}
	inOrder := make([]int, len(entries))
	for i := range inOrder {
		inOrder[i] = i
	}
	want := state(t, inOrder, false)
	t.Log(want)
	for _, w := range []string{"m1-2", "m2-2", "m1-3", "m2-3"} {
		if !strings.Contains(want, ":"+w) {
			t.Errorf("the channels lack %s: %s", w, want)
		}
	}
	for _, w := range []string{"m1-0", "m2-0", "m1-4", "m2-4", "m1-1", "m2-1"} {
		if strings.Contains(want, ":"+w) {
			t.Errorf("the channels still have %s: %s", w, want)
		}
	}
	if strings.Contains(want, "mute=0") {
		t.Errorf("the mute was lost: %s", want)
	}
	rapid.Check(t, func(rt *rapid.T) {
		order := rapid.Permutation(inOrder).Draw(rt, "order")
		twice := rapid.Bool().Draw(rt, "twice")
		if got := state(rt, order, twice); got != want {
			rt.Fatalf("order %v gives\n%s\nwant\n%s", order, got, want)
		}
	})
}
