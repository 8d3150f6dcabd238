package main

import (
	"testing"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/journal"
	"tiersbox/box/privacy"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

// retentionPass follows the setting staff chose: nothing while it is 0,
// then the messages older than it.
func TestRetentionPass(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j, err := journal.Open(st, journal.Origin{1}, journal.Options{Now: clock, Erasable: []journal.Kind{chat.KindPost}})
	if err != nil {
		t.Fatal(err)
	}
	chats, err := chat.New(st, j, chat.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chats.Post(chat.Default, "ana", "Ana", "il y a dix jours"); err != nil {
		t.Fatal(err)
	}
	now = now.AddDate(0, 0, 10)
	if _, err := chats.Post(chat.Default, "tom", "Tom", "aujourd'hui"); err != nil {
		t.Fatal(err)
	}
	mine := privacy.New(j, chats, nil, nil)
	count := func() int {
		n := 0
		chats.All(chat.Default, func(chat.Message) error { n++; return nil })
		return n
	}
	for _, step := range []struct {
		days int
		want int
	}{{0, 2}, {30, 2}, {7, 1}} {
		if err := settings.Save(st, settings.Settings{Venue: "x", ChatRetentionDays: step.days}); err != nil {
			t.Fatal(err)
		}
		if err := retentionPass(st, mine, now); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != step.want {
			t.Fatalf("retention %d days: %d messages, want %d", step.days, got, step.want)
		}
	}
}
