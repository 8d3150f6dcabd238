package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/backup"
	"tiersbox/box/drive"
	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/box/pad"
	"tiersbox/box/store"
	"tiersbox/sync/bep"
	"tiersbox/sync/link"
)

// Backup and restore.
//
// `tiersbox backup` writes an archive of a box (box/backup): through the
// running daemon's control socket when it runs, since the daemon holds
// the database, else from the database directly. The staff page
// /admin/backup downloads the same archive.
//
// `tiersbox restore` puts an archive in place in a new data folder. A
// restore uploaded on the staff page is verified and staged in
// DATA/restore-pending while the box runs; the daemon then stops cleanly
// and starts again by executing itself anew (errRestart), and runBox
// applies the staged restore before it opens anything. Re-executing
// works the same under systemd (the unit restarts the box only on
// failure, and the process keeps its PID, so systemd sees no stop), by
// hand and in tests; a box that stops for another reason before it
// restarts applies the restore at its next start all the same.

// errRestart, returned by runBox after a clean stop, asks main to start
// the program again.
var errRestart = errors.New("restart requested")

// restartSelf replaces the process with a new run of the same program
// and arguments. It returns only on failure.
func restartSelf() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return fmt.Errorf("restart: %w", syscall.Exec(exe, os.Args, os.Environ()))
}

// adjustRestored is what restoring means to sync's buckets: see
// bep.AfterRestore and link.AfterRestore for why. The journal needs no
// change (see backup.ApplyPending): entries are kept under the origin
// that wrote them.
func adjustRestored(tx *bolt.Tx, takeIdentity bool) error {
	if err := bep.AfterRestore(tx, takeIdentity); err != nil {
		return err
	}
	return link.AfterRestore(tx, takeIdentity)
}

// applyPendingRestore puts a restore staged by the staff page in place,
// before the box opens its identity and database.
func applyPendingRestore(dataDir string, logger *slog.Logger) error {
	applied, err := backup.ApplyPending(dataDir, backup.ApplyOptions{Adjust: adjustRestored, Logger: logger})
	if err != nil {
		return fmt.Errorf("applying the restore uploaded on the staff page: %w", err)
	}
	if applied != nil && applied.Aside != "" {
		logger.Warn("a restore replaced this box's data; the old data is kept until staff delete it", "folder", applied.Aside)
	}
	return nil
}

func cmdBackup(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("backup", env)
	var common commonFlags
	common.register(fs)
	out := fs.String("out", "", "the archive `file` to write (.tar, or .tar.gz to compress it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out FILE is required", errUsage)
	}
	id, err := loadIdentity(common.data)
	if err != nil {
		return err
	}
	// Into a temporary file renamed at the end: a backup that fails
	// leaves no archive that looks whole.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".tiersbox-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var w io.Writer = tmp
	var zw *gzip.Writer
	if strings.HasSuffix(*out, ".gz") || strings.HasSuffix(*out, ".tgz") {
		zw = gzip.NewWriter(tmp)
		w = zw
	}

	logger := newLogger(env, "info")
	st, err := openForBackup(common.data, id, logger)
	switch {
	case errors.Is(err, store.ErrLocked):
		// The box runs: it writes the archive.
		err = backupFromDaemon(ctx, common.data, w)
	case err != nil:
		return err
	default:
		// The database's copy goes beside the archive: staff may
		// read the data folder without the right to write in it.
		_, err = backup.Write(w, backup.Source{Store: st, DataDir: common.data, TmpDir: filepath.Dir(*out), Version: versionString(), Logger: logger})
		st.Close()
	}
	if err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m, err := verifyFile(*out)
	if err != nil {
		return fmt.Errorf("the archive written does not verify: %w", err)
	}
	n, size := m.DriveFiles()
	fmt.Fprintf(env.stdout, "Backup of %s written to %s: the database and %d drive files (%d bytes).\nIt holds the box's private key: keep it as safe as the staff password.\n", m.DeviceID, *out, n, size)
	return nil
}

// openForBackup opens the database of the stopped box id on dataDir for
// reading, or returns store.ErrLocked if the box runs.
//
// After an unclean stop the pads' last edits wait in their write-ahead
// log (box/pad): they are journaled first, as the box does when it
// starts, so that the archive holds them. That needs the right to write
// in the data folder, and a database of this program's schema version:
// opening another for writing would migrate it, which is not for a
// backup to do. Otherwise the archive is made without them, and the
// command says so.
func openForBackup(dataDir string, id *identity.Identity, logger *slog.Logger) (*store.Store, error) {
	readOnly := store.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond}
	st, err := store.Open(dataDir, readOnly)
	if err != nil {
		return nil, err
	}
	waiting, err := pad.Waiting(dataDir)
	if err == nil && waiting == 0 {
		return st, nil
	}
	if err == nil {
		var v uint64
		if v, err = st.SchemaVersion(); err == nil && v != store.CurrentVersion() {
			err = fmt.Errorf("the database has schema version %d and this program writes %d", v, store.CurrentVersion())
		}
	}
	st.Close()
	if err == nil {
		err = journalWaitingEdits(dataDir, id, logger)
	}
	switch {
	case err == nil:
		logger.Info("journaled the pad edits an unclean stop left in the write-ahead log", "count", waiting)
	case errors.Is(err, store.ErrLocked):
		// The box has just started, and journals them itself.
	default:
		logger.Warn("the box stopped uncleanly and the pad edits left in its write-ahead log could not be journaled: they are not in this archive; start the box once, then back up again to include them",
			"count", waiting, "error", err)
	}
	return store.Open(dataDir, readOnly)
}

// journalWaitingEdits journals the pad edits waiting in the write-ahead
// log of the stopped box id on dataDir.
func journalWaitingEdits(dataDir string, id *identity.Identity, logger *slog.Logger) error {
	st, err := store.Open(dataDir, store.Options{LockTimeout: 200 * time.Millisecond, Logger: logger})
	if err != nil {
		return err
	}
	defer st.Close()
	jnl, err := openJournal(st, id)
	if err != nil {
		return err
	}
	pads, err := openPads(st, jnl, logger)
	if err != nil {
		return err
	}
	return pads.Close()
}

func verifyFile(path string) (*backup.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return backup.Verify(f, 0)
}

// backupFromDaemon asks the box running on dataDir for an archive.
func backupFromDaemon(ctx context.Context, dataDir string, w io.Writer) error {
	path := filepath.Join(dataDir, controlSocket)
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://box/backup", nil)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("the database is in use but the box does not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("the box refused the backup: %s", strings.TrimSpace(string(b)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup from the running box: %w", err)
	}
	return nil
}

// controlBackup serves GET /backup on the control socket. flushPads
// journals the pads' pending edits first.
func controlBackup(st *store.Store, dataDir string, flushPads func() error, logger *slog.Logger) func(*http.ServeMux) {
	return func(mux *http.ServeMux) {
		mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
			flushBeforeBackup(flushPads, logger)
			w.Header().Set("Content-Type", "application/x-tar")
			if _, err := backup.Write(w, backup.Source{Store: st, DataDir: dataDir, Version: versionString(), Logger: logger}); err != nil {
				logger.Error("backup for the command line", "error", err)
				panic(http.ErrAbortHandler) // a cut stream, never an archive that looks whole
			}
		})
	}
}

func cmdRestore(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("restore", env)
	var common commonFlags
	common.register(fs)
	take := fs.Bool("take-identity", false, "become the backed-up box (its device ID and links), to replace a box that is gone for good")
	fs.Usage = func() {
		fmt.Fprintln(env.stderr, "usage: tiersbox restore --data NEW-FOLDER [--take-identity] ARCHIVE")
		fs.PrintDefaults()
	}
	// The archive may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: which archive? tiersbox restore --data NEW-FOLDER ARCHIVE", errUsage)
	}
	file := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return err
	}
	if err := backup.CheckFresh(common.data); err != nil {
		return fmt.Errorf("%w; nothing was changed", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, statErr := os.Stat(common.data)
	m, err := backup.Stage(common.data, f, *take)
	if err != nil {
		if os.IsNotExist(statErr) {
			os.Remove(common.data) // Stage made it, and left it empty
		}
		return fmt.Errorf("%w; nothing was changed", err)
	}
	logger := newLogger(env, "warn")
	if _, err := backup.ApplyPending(common.data, backup.ApplyOptions{Adjust: adjustRestored, Logger: logger}); err != nil {
		return err
	}
	id, created, err := identity.LoadOrCreate(common.data)
	if err != nil {
		return err
	}
	n, size := m.DriveFiles()
	fmt.Fprintf(env.stdout, "Restored the backup of %s made %s: the database and %d drive files (%d bytes).\n",
		m.DeviceID, m.Created.Local().Format("2006-01-02 15:04"), n, size)
	switch {
	case *take:
		fmt.Fprintf(env.stdout, "This box is now %s, with its links: never start the old box again.\n", id.DeviceID)
	case created:
		fmt.Fprintf(env.stdout, "This box has a new device ID, %s; link it to other boxes again.\n", id.DeviceID)
	default:
		fmt.Fprintf(env.stdout, "This box keeps its device ID, %s; link it to other boxes again.\n", id.DeviceID)
	}
	return nil
}

// boxBackup is the staff page's view of backups (web.BackupView).
type boxBackup struct {
	st      *store.Store
	dataDir string
	jnl     *journal.Journal
	files   *drive.Service
	// flushPads journals the pads' pending edits (pad.Service.Flush).
	flushPads func() error
	restart   func()
	logger    *slog.Logger

	stageMu sync.Mutex // one upload at a time uses the staging folder
}

// flushBeforeBackup journals the pads' last second of edits, which wait
// in their write-ahead log, outside the database an archive copies. If it
// fails they are still safe in that log; the archive goes without them.
func flushBeforeBackup(flushPads func() error, logger *slog.Logger) {
	if err := flushPads(); err != nil {
		logger.Error("journaling pad edits before a backup", "error", err)
	}
}

func (b *boxBackup) Write(w io.Writer) error {
	flushBeforeBackup(b.flushPads, b.logger)
	_, err := backup.Write(w, backup.Source{Store: b.st, DataDir: b.dataDir, Version: versionString(), Logger: b.logger})
	return err
}

// HasContent: any journal entry (pads, chat and the drive's uploads are
// entries) or any file in the drive (sync may bring files without one).
func (b *boxBackup) HasContent() (bool, error) {
	heads, err := b.jnl.Heads()
	if err != nil {
		return false, err
	}
	used, err := b.files.Usage()
	return len(heads) > 0 || used > 0, err
}

func (b *boxBackup) Stage(r io.Reader, takeIdentity bool) (*backup.Manifest, error) {
	b.stageMu.Lock()
	defer b.stageMu.Unlock()
	return backup.Stage(b.dataDir, r, takeIdentity)
}

func (b *boxBackup) Restart() {
	b.logger.Info("stopping to apply the restore uploaded on the staff page")
	b.restart()
}
