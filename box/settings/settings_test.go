package settings

import (
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
	want := Settings{Venue: "La Fabrique", Description: "Un fablab", Rules: "Soyez gentils", AdminPasswordHash: "$argon2id$x"}
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
