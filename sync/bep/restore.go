package bep

import (
	"encoding/json"
	"fmt"

	"github.com/syncthing/syncthing/lib/protocol"
	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// AfterRestore adjusts, in the write transaction of a database restored
// from a backup, what sync keeps of the box the backup was made on.
// sameDevice says whether the restored box took that box's identity.
//
// Every folder's own index gets a new index ID, keeping its files and
// their version vectors: an index ID names one run of one device's index,
// and peers ask only for what follows the sequence number they last saw
// under it. The backup's index is older than what the old box announced
// afterwards, so under the old ID peers would skip this box's changes
// numbered like the ones they already have; and a box with another
// identity must not announce a device's index ID at all. A new ID makes
// every peer take the whole index again. The files stay, so that
// unchanged files keep the versions peers know, and nothing looks like a
// conflict.
//
// What peers announced (their index IDs, sequences and files) is kept
// only when the box is the same device: peers do not know another device,
// its links are dropped (sync/link.AfterRestore), and what they sent to
// the old one does not describe what they would send to it.
func AfterRestore(tx *bolt.Tx, sameDevice bool) error {
	root := tx.Bucket(store.BucketBEP)
	if root == nil {
		return nil
	}
	if local := root.Bucket(keyLocal); local != nil {
		err := local.ForEachBucket(func(folder []byte) error {
			b := local.Bucket(folder)
			var m localMeta
			if v := b.Get(keyMeta); v != nil {
				if err := json.Unmarshal(v, &m); err != nil {
					return fmt.Errorf("index of %s: %w", folder, err)
				}
			}
			m.IndexID = protocol.NewIndexID()
			v, _ := json.Marshal(m)
			return b.Put(keyMeta, v)
		})
		if err != nil {
			return fmt.Errorf("bep: after restore: %w", err)
		}
	}
	if !sameDevice && root.Bucket(keyRemote) != nil {
		if err := root.DeleteBucket(keyRemote); err != nil {
			return fmt.Errorf("bep: after restore: %w", err)
		}
	}
	return nil
}
