package link

import (
	"testing"

	"github.com/syncthing/syncthing/lib/protocol"
	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// The links survive a restore only when the box takes the old identity.
func TestAfterRestore(t *testing.T) {
	for _, same := range []bool{false, true} {
		st, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		l := New(st, protocol.DeviceID{1})
		if _, err := l.Add(Device{ID: protocol.DeviceID{2}}); err != nil {
			t.Fatal(err)
		}
		if err := st.Update(func(tx *bolt.Tx) error { return AfterRestore(tx, same) }); err != nil {
			t.Fatal(err)
		}
		devs, err := l.List()
		if err != nil {
			t.Fatal(err)
		}
		if kept := len(devs) == 1; kept != same {
			t.Errorf("same device %v: links %v", same, devs)
		}
		// The bucket is still there for new links.
		if _, err := l.Add(Device{ID: protocol.DeviceID{3}}); err != nil {
			t.Errorf("same device %v: linking after a restore: %v", same, err)
		}
	}
}
