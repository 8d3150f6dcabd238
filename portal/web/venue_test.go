package web

import (
	"testing"

	"tiersbox/box/journal"
	"tiersbox/box/password"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

// openVenue opens a store in data for the venue "La Fabrique", with the
// staff password staffPassword, and the box's journal.
func openVenue(t *testing.T, data string) (*store.Store, *journal.Journal) {
	t.Helper()
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := password.Hash(staffPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.Save(st, settings.Settings{Venue: "La Fabrique", AdminPasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(st, journal.Origin{1}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, j
}
