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
	id, err := identity.Load(common.data)
	if errors.Is(err, identity.ErrNotFound) {
		return fmt.Errorf("no box identity in %s: run `tiersbox init --data %s` first", common.data, common.data)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, id.DeviceID)
	return nil
}
