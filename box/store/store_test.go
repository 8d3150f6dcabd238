package store

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTest opens a store in a temporary folder and checks the database's
// consistency when the test ends.
func openTest(t *testing.T, dir string, migs []Migration) *Store {
	t.Helper()
	s, err := open(dir, Options{}, migs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := s.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Errorf("database check: %v", err)
		}
		s.Close()
	})
	return s
}

func TestOpenCreatesCurrentSchema(t *testing.T) {
	s := openTest(t, t.TempDir(), migrations)
	v, err := s.SchemaVersion()
	if err != nil || v != uint64(len(migrations)) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
	}
	err = s.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{BucketMeta, BucketSettings, BucketVisitors} {
			if tx.Bucket(b) == nil {
				t.Errorf("bucket %s missing", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsRunOnceInOrder(t *testing.T) {
	dir := t.TempDir()
	var ran []int
	step := func(n int) Migration {
		return func(tx *bolt.Tx) error { ran = append(ran, n); return nil }
	}
	s, err := open(dir, Options{}, []Migration{step(1), step(2)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A newer program adds a migration: only that one runs.
	s, err = open(dir, Options{}, []Migration{step(1), step(2), step(3)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(ran) != 3 || ran[0] != 1 || ran[1] != 2 || ran[2] != 3 {
		t.Fatalf("migrations ran %v, want [1 2 3]", ran)
	}
	// An older program refuses the database instead of damaging it.
	if _, err := open(dir, Options{}, []Migration{step(1)}); !errors.Is(err, ErrTooNew) {
		t.Fatalf("older program: got %v, want ErrTooNew", err)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := open(dir, Options{}, migrations)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	boom := errors.New("boom")
	bad := append(append([]Migration{}, migrations...), func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half")); err != nil {
			return err
		}
		return boom
	})
	if _, err := open(dir, Options{}, bad); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the migration's error", err)
	}
	s = openTest(t, dir, migrations)
	v, _ := s.SchemaVersion()
	if v != uint64(len(migrations)) {
		t.Errorf("schema version %d after a failed migration, want %d", v, len(migrations))
	}
	s.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("half")) != nil {
			t.Error("a failed migration left a bucket behind")
		}
		return nil
	})
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir, migrations)
	_, err := open(dir, Options{LockTimeout: 50 * time.Millisecond}, migrations)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
}
