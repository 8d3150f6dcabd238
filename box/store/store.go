// Package store opens the box's bbolt database and keeps its schema current.
//
// One file, tiersbox.db in the data folder, holds settings, visitor sessions
// and, in later versions, journals and derived state. Each box package owns
// its buckets and reads and writes them through View and Update; this
// package only knows the bucket names so that one migration list can create
// and change them in order.
//
// # Schema versions
//
// The schema version is a number in the meta bucket. Open runs every
// migration above the stored version, each in the same write transaction as
// the version bump, so a crash leaves the database either before or after a
// migration, never halfway. A database written by a newer tiersbox is
// refused rather than damaged.
//
// Any package under box/ may import store. It does no networking.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database file inside the data folder.
const FileName = "tiersbox.db"

// Bucket names. A bucket belongs to the package named in its comment.
var (
	BucketMeta     = []byte("meta")     // store: schema version
	BucketSettings = []byte("settings") // settings
	BucketVisitors = []byte("visitors") // visitor: sessions by ID, and indexes by address and MAC
	// journal: one nested bucket per origin, entries by sequence number;
	// and an index of entries by target.
	BucketJournal      = []byte("journal")
	BucketJournalIndex = []byte("journal_index")
	// pad: updates received and not yet in the journal, as earlier
	// versions kept them (now in box/wal's files, read only at start-up),
	// and each pad's cached state.
	BucketPadWAL   = []byte("pad_wal")
	BucketPadCache = []byte("pad_cache")
	// chat: each channel's messages in time order, derived from the
	// journal, with its removals, mutes and channel settings.
	BucketChat = []byte("chat")
	// drive: each file's metadata, derived from the journal; and the
	// uploads under way, so that a crash leaves nothing half-written.
	BucketDrive        = []byte("drive")
	BucketDriveUploads = []byte("drive_uploads")
	// sync/link: the devices staff linked, and pairing codes.
	BucketLinks = []byte("links")
	// sync/bep: per folder, this box's index (files, sequence, index ID)
	// and what each linked peer announced.
	BucketBEP = []byte("bep")
	// journal: the entries of chosen kinds (the moderation actions) by
	// time, for a log that reads newest first across origins.
	BucketJournalLog = []byte("journal_log")
	// pad: each pad's lock and archive state, derived from the journal.
	BucketPadFlags = []byte("pad_flags")
)

// DenseFill is the FillPercent of the buckets that sync and the drive
// fill by the thousand (a first sync or scan of a drive folder): at
// bbolt's default a page splits half full, and the 10,000-file benchmark
// left each box with a 34 MB database, which the box reads through, and
// holds in memory, as it works. Names mostly come in order (a scan and
// a peer's index are in name order), where bbolt advises a high value;
// both databases are now 17 MB and the receiving box's peak memory fell
// by about 5 MiB.
const DenseFill = 0.9

var keySchemaVersion = []byte("schema_version")

// ErrLocked is returned by Open when another process has the database open.
var ErrLocked = errors.New("store: the database is in use by another tiersbox process")

// ErrTooNew is returned by Open when the database has a schema version this
// program does not know.
var ErrTooNew = errors.New("store: the database was written by a newer tiersbox")

// Migration moves the schema from version N-1 to N, where N is its position
// in the list plus one. It runs inside the write transaction that records N.
type Migration func(tx *bolt.Tx) error

// migrations is the schema history. Append only: never edit or reorder an
// entry once released, since boxes in the field have run it.
var migrations = []Migration{
	// 1: the first schema.
	createBuckets(BucketSettings, BucketVisitors),
	// 2: the journal and the pads.
	createBuckets(BucketJournal, BucketJournalIndex, BucketPadWAL, BucketPadCache),
	// 3: chat and drive.
	createBuckets(BucketChat, BucketDrive, BucketDriveUploads),
	// 4: box-to-box sync.
	createBuckets(BucketLinks, BucketBEP),
	// 5: the moderation log and pads' lock and archive state.
	createBuckets(BucketJournalLog, BucketPadFlags),
}

// createBuckets is a migration that adds buckets.
func createBuckets(names ...[]byte) Migration {
	return func(tx *bolt.Tx) error {
		for _, b := range names {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}
}

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives migration messages. nil discards them.
	Logger *slog.Logger
	// LockTimeout is how long Open waits for another process to release
	// the database. Zero means one second.
	LockTimeout time.Duration
	// ReadOnly opens the database for reading only (for example to print
	// the status of a running box). Migrations are not run.
	ReadOnly bool
}

// Store is an open database. It is safe for concurrent use; Close it once.
type Store struct {
	db  *bolt.DB
	dir string
}

// Open opens (creating if needed) the database in dir and migrates it to the
// current schema.
func Open(dir string, opts Options) (*Store, error) {
	return open(dir, opts, migrations)
}

func open(dir string, opts Options, migs []Migration) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: create data folder: %w", err)
		}
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w (%s)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, dir: dir}
	if opts.ReadOnly {
		return s, nil
	}
	if err := s.migrate(logger, migs); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(logger *slog.Logger, migs []Migration) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(BucketMeta)
		if err != nil {
			return fmt.Errorf("store: meta bucket: %w", err)
		}
		have := uint64(0)
		if v := meta.Get(keySchemaVersion); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("store: schema version is %d bytes long, want 8", len(v))
			}
			have = binary.BigEndian.Uint64(v)
		}
		if have > uint64(len(migs)) {
			return fmt.Errorf("%w: schema version %d, this program knows up to %d", ErrTooNew, have, len(migs))
		}
		for v := have + 1; v <= uint64(len(migs)); v++ {
			if err := migs[v-1](tx); err != nil {
				return fmt.Errorf("store: migrate to schema version %d: %w", v, err)
			}
			logger.Info("database migrated", "schema_version", v)
		}
		return meta.Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, uint64(len(migs))))
	})
}

// CurrentVersion is the schema version Open migrates a database to.
func CurrentVersion() uint64 { return uint64(len(migrations)) }

// SchemaVersion returns the database's schema version.
func (s *Store) SchemaVersion() (uint64, error) {
	var v uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(BucketMeta)
		if meta == nil {
			return nil
		}
		if b := meta.Get(keySchemaVersion); len(b) == 8 {
			v = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	return v, err
}

// Dir returns the data folder the database is in: other files of the
// box's state live beside it.
func (s *Store) Dir() string { return s.dir }

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *bolt.Tx) error) error { return s.db.View(fn) }

// Update runs fn in a read-write transaction, committed (and synced to disk)
// before Update returns nil.
func (s *Store) Update(fn func(tx *bolt.Tx) error) error { return s.db.Update(fn) }

// Close closes the database. Transactions still open are waited for.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
