package main

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"tiersbox/box/drive"
	"tiersbox/box/store"
	"tiersbox/portal/web"
)

// `tiersbox export` writes the venue's documentation as a static website
// in a ZIP, the same one staff download from /admin/export.
//
// bbolt lets one process at a time open the database, and the running box
// holds it. So, as `tiersbox link` does, the command first asks the
// running box, over the control socket in the data folder, to stream the
// ZIP: the box builds it from what it holds, while visitors keep using
// it. Only when no box answers there does the command open the data folder
// itself, the way `tiersbox run` does at start (including its recovery
// after an unclean stop). If a box holds the database without answering
// on the socket, the command says so instead of waiting.

// exportFunc writes the running box's export to w.
type exportFunc func(ctx context.Context, w io.Writer) error

// controlExport serves GET /export on the control socket. An error once
// the ZIP has begun cuts the connection, so that the command sees a
// failed export rather than a short one.
func controlExport(mux *http.ServeMux, export exportFunc, logger *slog.Logger) {
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		if err := export(r.Context(), w); err != nil {
			logger.Error("exporting the documentation for `tiersbox export`", "error", err)
			panic(http.ErrAbortHandler)
		}
	})
}

// cmdExport is `tiersbox export --data DIR --out FILE.zip`.
func cmdExport(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("export", env)
	var common commonFlags
	common.register(fs)
	out := fs.String("out", "", "write the ZIP to `FILE.zip` (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: tiersbox export --data FOLDER --out FILE.zip", errUsage)
	}
	// store.Open would create an empty box in a mistyped folder.
	if _, err := os.Stat(filepath.Join(common.data, store.FileName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no box in %s: give its data folder with --data", common.data)
	}

	// Written beside the destination, then renamed into place: a failed
	// export leaves no half ZIP, and the rename cannot cross file systems.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*.tmp")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	err = exportFromDaemon(ctx, common.data, tmp)
	if errors.Is(err, errNoDaemon) {
		err = exportFromData(ctx, common.data, tmp)
	}
	if err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// A ZIP ends with its directory: reading it proves the whole export
	// arrived.
	zr, err := zip.OpenReader(tmp.Name())
	if err != nil {
		return fmt.Errorf("export: the ZIP is incomplete: %w", err)
	}
	n := len(zr.File)
	zr.Close()
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	done = true
	fmt.Fprintf(env.stdout, "wrote %s: %d files; open index.html once unpacked\n", *out, n)
	return nil
}

// exportFromDaemon asks the box running on dataDir for its export;
// errNoDaemon means none answers there.
func exportFromDaemon(ctx context.Context, dataDir string, w io.Writer) error {
	// No overall timeout, unlike the other control calls: a large drive
	// takes as long as its disk needs.
	client := &http.Client{Transport: controlClient(dataDir).Transport}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://box/export", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errNoDaemon, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("export: the running box answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("export: the running box stopped sending the ZIP (its log says why): %w", err)
	}
	return nil
}

// exportFromData opens a stopped box's data folder and exports it.
func exportFromData(ctx context.Context, dataDir string, w io.Writer) error {
	id, err := loadIdentity(dataDir)
	if err != nil {
		return err
	}
	st, err := store.Open(dataDir, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("a box is running on %s but does not answer on %s: stop it, or restart it, and export again: %w",
			dataDir, filepath.Join(dataDir, controlSocket), err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	// The same parts, opened the same way, as `tiersbox run`.
	svc, err := openServices(st, id, dataDir, drive.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer svc.Close()
	return web.WriteExport(ctx, w, web.ExportSources{Store: st, Pads: svc.pads, Chat: svc.chats, Drive: svc.files, Version: versionString()})
}
