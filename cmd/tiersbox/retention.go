package main

import (
	"context"
	"log/slog"
	"time"

	"tiersbox/box/privacy"
	"tiersbox/box/settings"
	"tiersbox/box/store"
)

// runRetention erases, every interval, the chat messages written at this
// box longer ago than the retention staff chose (settings
// ChatRetentionDays; 0 keeps them). It reads the setting each time, so a
// change on the settings page applies within the interval; the first pass
// runs at start, for a box that was off when messages came of age.
func runRetention(ctx context.Context, st *store.Store, mine *privacy.Service, interval time.Duration, logger *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := retentionPass(st, mine, time.Now()); err != nil {
			// The next pass tries again; nothing is lost by waiting.
			logger.Error("chat retention", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func retentionPass(st *store.Store, mine *privacy.Service, now time.Time) error {
	venue, err := settings.Load(st)
	if err != nil {
		return err
	}
	if venue.ChatRetentionDays <= 0 {
		return nil
	}
	_, err = mine.Expire(now.AddDate(0, 0, -venue.ChatRetentionDays))
	return err
}
