// Package settings keeps what staff decide about their box: the venue's
// name, its description and house rules, the languages offered, how long
// sessions and chat messages last, the staff password hash.
//
// Settings are one JSON document in the settings bucket, so adding a field
// needs no migration: a field missing from an older document reads as its
// zero value, which every caller treats as "use the default".
// Anything under cmd, portal and sync may import this package.
package settings

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// Settings is the venue's configuration. Empty text fields mean "use the
// default text in the visitor's language".
type Settings struct {
	Venue       string `json:"venue"`
	Description string `json:"description,omitempty"`
	Rules       string `json:"rules,omitempty"`
	// AdminPasswordHash is an argon2id PHC string (see box/password);
	// empty until `tiersbox init` sets it.
	AdminPasswordHash string `json:"admin_password_hash,omitempty"`
	// ChatOff closes every channel to new messages (staff turn the chat
	// off for the venue); what was written stays readable.
	ChatOff bool `json:"chat_off,omitempty"`
	// Licence is what documents added to the drive are shared under,
	// unless the visitor chooses another; empty means DefaultLicence.
	Licence string `json:"licence,omitempty"`
	// Languages are the portal's languages, comma-separated codes with
	// the default first ("en,fr"); empty means both, French first (see
	// Offered). A string, not a list, keeps Settings comparable.
	Languages string `json:"languages,omitempty"`
	// SessionHours is how long a visitor stays entered, in hours; 0
	// means the config's portal.session.
	SessionHours int `json:"session_hours,omitempty"`
	// ChatRetentionDays is how long chat messages are kept, in days;
	// 0 means forever.
	ChatRetentionDays int `json:"chat_retention_days"`
}

// AllLanguages are the languages the portal can speak, in the order a
// settings form lists them.
var AllLanguages = []string{"fr", "en"}

// Offered returns the languages staff offer, the default first: the
// known ones of Languages without repeats, or AllLanguages when none is.
func (s Settings) Offered() []string {
	var out []string
	for _, l := range strings.Split(s.Languages, ",") {
		if slices.Contains(AllLanguages, l) && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return AllLanguages
	}
	return out
}

// DefaultLicence is the drive's licence until staff choose one: free to
// share and adapt, with credit, under the same terms.
const DefaultLicence = "CC BY-SA 4.0"

// DefaultVenue names a box whose staff have not named it yet.
const DefaultVenue = "tiersbox"

var key = []byte("settings")

// Load reads the settings, or the defaults when none were saved.
func Load(st *store.Store) (Settings, error) {
	s := Settings{Venue: DefaultVenue}
	err := st.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(store.BucketSettings).Get(key)
		if raw == nil {
			return nil
		}
		return json.Unmarshal(raw, &s)
	})
	if err != nil {
		return Settings{}, fmt.Errorf("settings: load: %w", err)
	}
	if s.Venue == "" {
		s.Venue = DefaultVenue
	}
	return s, nil
}

// Saved reports whether settings were ever saved (by `tiersbox init`).
func Saved(st *store.Store) (bool, error) {
	var ok bool
	err := st.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(store.BucketSettings).Get(key) != nil
		return nil
	})
	return ok, err
}

// Save replaces the settings.
func Save(st *store.Store, s Settings) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("settings: encode: %w", err)
	}
	err = st.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketSettings).Put(key, raw)
	})
	if err != nil {
		return fmt.Errorf("settings: save: %w", err)
	}
	return nil
}
