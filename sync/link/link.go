// Package link keeps the devices staff linked to this box: the only ones
// box-to-box sync exchanges data with (DESIGN.md §4). Discovery finds
// boxes; only a link, made by staff, trusts one.
package link

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/syncthing/syncthing/lib/protocol"
	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// Device is a linked device: another box or a stock Syncthing.
type Device struct {
	ID protocol.DeviceID `json:"id"`
	// Name is what staff call it; empty until they name it or it says
	// its name when it connects.
	Name string `json:"name,omitempty"`
	// Addresses are where to dial it (tcp://HOST:PORT), besides the
	// addresses discovery finds on the local network.
	Addresses []string `json:"addresses,omitempty"`
	// MaxRate caps this link, in bytes per second each way, for a slow
	// or metered uplink; zero means the box's sync.max_rate.
	MaxRate int64     `json:"max_rate,omitempty"`
	Added   time.Time `json:"added"`
	// LastSeen is when a connection with the device last ended, and
	// InBytes/OutBytes what all connections with it carried.
	LastSeen time.Time `json:"last_seen,omitzero"`
	InBytes  int64     `json:"in_bytes,omitempty"`
	OutBytes int64     `json:"out_bytes,omitempty"`
}

// MaxName bounds a device's name, in runes.
const MaxName = 64

// Errors.
var (
	ErrAddress = errors.New("link: addresses are tcp://HOST:PORT")
	ErrSelf    = errors.New("link: a box cannot be linked to itself")
	ErrName    = errors.New("link: a name is at most 64 letters, without control characters")
	ErrRate    = errors.New("link: a rate cap cannot be negative")
)

// ParseAddress checks a tcp://HOST:PORT address and returns it cleaned.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "tcp://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "tcp4" && u.Scheme != "tcp6") || u.Path != "" || u.User != nil {
		return "", fmt.Errorf("%w: %q", ErrAddress, s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "", fmt.Errorf("%w: %q", ErrAddress, s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%w: port in %q", ErrAddress, s)
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port), nil
}

// CleanName checks a device name.
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len([]rune(s)) > MaxName || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", ErrName
	}
	return s, nil
}

// Links is the list of linked devices, kept in the store. It is safe for
// concurrent use.
type Links struct {
	st   *store.Store
	self protocol.DeviceID

	mu       sync.Mutex
	watchers []func()
}

// New returns the links of the box self.
func New(st *store.Store, self protocol.DeviceID) *Links { return &Links{st: st, self: self} }

// Watch registers f, called after every change to the list.
func (l *Links) Watch(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watchers = append(l.watchers, f)
}

func (l *Links) changed() {
	l.mu.Lock()
	ws := slices.Clone(l.watchers)
	l.mu.Unlock()
	for _, f := range ws {
		f()
	}
}

// Add links a device, or updates the name and addresses of a linked one
// (a name or address list left empty keeps the stored one).
func (l *Links) Add(d Device) (Device, error) {
	if d.ID == l.self {
		return Device{}, ErrSelf
	}
	if d.MaxRate < 0 {
		return Device{}, ErrRate
	}
	name, err := CleanName(d.Name)
	if err != nil {
		return Device{}, err
	}
	d.Name = name
	for i, a := range d.Addresses {
		if d.Addresses[i], err = ParseAddress(a); err != nil {
			return Device{}, err
		}
	}
	err = l.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketLinks)
		if v := b.Get(d.ID[:]); v != nil {
			var old Device
			if err := json.Unmarshal(v, &old); err == nil {
				d.Added = old.Added
				if d.Name == "" {
					d.Name = old.Name
				}
				if len(d.Addresses) == 0 {
					d.Addresses = old.Addresses
				}
				if d.MaxRate == 0 {
					d.MaxRate = old.MaxRate
				}
				d.LastSeen, d.InBytes, d.OutBytes = old.LastSeen, old.InBytes, old.OutBytes
			}
		}
		if d.Added.IsZero() {
			d.Added = time.Now().UTC().Truncate(time.Second)
		}
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		return b.Put(d.ID[:], v)
	})
	if err != nil {
		return Device{}, fmt.Errorf("link: add %s: %w", d.ID.Short(), err)
	}
	l.changed()
	return d, nil
}

// Seen records that a connection with a linked device ended at at,
// having carried in and out bytes. An unlinked device is not recorded.
func (l *Links) Seen(id protocol.DeviceID, at time.Time, in, out int64) error {
	err := l.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketLinks)
		v := b.Get(id[:])
		if v == nil {
			return nil
		}
		var d Device
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		d.LastSeen = at.UTC()
		d.InBytes += in
		d.OutBytes += out
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		return b.Put(id[:], v)
	})
	if err != nil {
		return fmt.Errorf("link: record %s as seen: %w", id.Short(), err)
	}
	return nil
}

// Remove unlinks a device. It reports whether it was linked.
func (l *Links) Remove(id protocol.DeviceID) (bool, error) {
	found := false
	err := l.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketLinks)
		found = b.Get(id[:]) != nil
		return b.Delete(id[:])
	})
	if err != nil {
		return false, fmt.Errorf("link: remove %s: %w", id.Short(), err)
	}
	if found {
		l.changed()
	}
	return found, nil
}

// Get returns a linked device.
func (l *Links) Get(id protocol.DeviceID) (Device, bool, error) {
	var d Device
	found := false
	err := l.st.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(store.BucketLinks).Get(id[:])
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &d)
	})
	return d, found, err
}

// List returns the linked devices, by name then ID.
func (l *Links) List() ([]Device, error) {
	var out []Device
	err := l.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketLinks).ForEach(func(k, v []byte) error {
			// Nested buckets (pairing codes, pair.go) are not devices.
			if v == nil || len(k) != protocol.DeviceIDLength {
				return nil
			}
			var d Device
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("link %x: %w", k, err)
			}
			out = append(out, d)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Device) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.ID.Compare(b.ID)
	})
	return out, err
}
