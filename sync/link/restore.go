package link

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

// AfterRestore adjusts, in the write transaction of a database restored
// from a backup, the links of the box the backup was made on. sameDevice
// says whether the restored box took that box's identity.
//
// A link is trust between two devices: the linked boxes know the old
// box's device ID and would refuse any other. So a restored box that took
// the identity keeps them (it replaces the old box for its peers), and one
// with its own identity drops them, with the pairing codes: its staff
// link it again, as a new box. Dialling peers that refuse it would only
// fill the logs.
func AfterRestore(tx *bolt.Tx, sameDevice bool) error {
	if sameDevice || tx.Bucket(store.BucketLinks) == nil {
		return nil
	}
	if err := tx.DeleteBucket(store.BucketLinks); err != nil {
		return fmt.Errorf("link: after restore: %w", err)
	}
	if _, err := tx.CreateBucket(store.BucketLinks); err != nil {
		return fmt.Errorf("link: after restore: %w", err)
	}
	return nil
}
