package main

import (
	"context"
	"errors"
)

func cmdNetworkConfig(ctx context.Context, args []string, env cmdEnv) error {
	return errors.New("network-config: not yet")
}
