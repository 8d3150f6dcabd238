package main

import (
	"context"
	"errors"
	"fmt"

	"tiersbox/box/identity"
)

func cmdID(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("id", env)
	var common commonFlags
	common.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := loadIdentity(common.data)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, id.DeviceID)
	return nil
}

// loadIdentity loads the identity of the box in dataDir, for the commands
// that need a box set up already.
func loadIdentity(dataDir string) (*identity.Identity, error) {
	id, err := identity.Load(dataDir)
	if errors.Is(err, identity.ErrNotFound) {
		return nil, fmt.Errorf("no box identity in %s: run `tiersbox init --data %s` first", dataDir, dataDir)
	}
	return id, err
}
