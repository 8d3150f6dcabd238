package settings

import (
	"strings"
	"testing"

	"tiersbox/box/store"
)

func TestLoadSave(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	s, err := Load(st)
	if err != nil || s.Venue != DefaultVenue {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	if ok, _ := Saved(st); ok {
		t.Fatal("Saved before any Save")
	}
	want := Settings{Venue: "La Fabrique", Description: "Un fablab", Rules: "Soyez gentils", AdminPasswordHash: "$argon2id$x",
		Languages: "en", SessionHours: 8, ChatRetentionDays: 30}
	if err := Save(st, want); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(st)
	if err != nil || got != want {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, want)
	}
	if ok, _ := Saved(st); !ok {
		t.Fatal("Saved is false after Save")
	}
}

func TestOffered(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "fr,en"},
		{"en", "en"},
		{"en,fr", "en,fr"},
		{"fr,fr,en", "fr,en"},
		{"de,en", "en"},
		{"de", "fr,en"},
	}
	for _, tt := range tests {
		if got := strings.Join(Settings{Languages: tt.in}.Offered(), ","); got != tt.want {
			t.Errorf("Offered(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
