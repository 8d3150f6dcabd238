package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"tiersbox/box/settings"
	"tiersbox/box/staff"
	"tiersbox/box/store"
)

// cmdAdminPassword replaces the staff password, for staff who lost it or
// want a new one, and logs every staff session out. It needs the box
// stopped: the running daemon holds the database.
func cmdAdminPassword(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("admin-password", env)
	var common commonFlags
	common.register(fs)
	pwFile := fs.String("password-file", "", "read the new staff password from this `file` (asked if not given)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	// store.Open would create an empty box in a mistyped folder.
	if _, err := os.Stat(filepath.Join(common.data, store.FileName)); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no box in %s: give its data folder with --data, or set a new box up with `tiersbox init`", common.data)
	}
	st, err := store.Open(common.data, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("the box is running and holds its database: stop it first (on a Raspberry Pi: sudo systemctl stop tiersbox), then run admin-password again, then start it: %w", err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	// A password without the rest of the setup would make `tiersbox
	// init` refuse to run later.
	if done, err := settings.Saved(st); err != nil {
		return err
	} else if !done {
		return fmt.Errorf("the box in %s is not set up yet: run `tiersbox init --data %s`, which sets the staff password too", common.data, common.data)
	}

	pw, err := readAdminPassword(*pwFile, bufio.NewReader(env.stdin), env)
	if err != nil {
		return err
	}
	if err := staff.SetPassword(st, pw); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "The staff password is changed; every staff session is logged out.")
	return nil
}
