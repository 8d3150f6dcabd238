package bep

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tiersbox/sync/link"
)

// TestLinkRateCap: a link staff capped at 100 KB/s takes at least as long
// as the cap allows to carry a 400 KB file (the bucket starts full, so
// 300 KB of it wait). Only the lower bound is checked: a slow machine
// makes it longer, never shorter.
func TestLinkRateCap(t *testing.T) {
	a, b := newTestBox(t, "a"), newTestBox(t, "b")
	data := bytes.Repeat([]byte("débit limité "), 400_000/14)
	os.WriteFile(filepath.Join(a.drive, "lent.bin"), data, 0o644)
	a.node.DriveChanged()
	const rate = 100_000
	if _, err := a.links.Add(link.Device{ID: b.id.DeviceID, Addresses: []string{"tcp://" + b.node.Addr().String()}, MaxRate: rate}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := b.links.Add(link.Device{ID: a.id.DeviceID}); err != nil {
		t.Fatal(err)
	}
	expect(t, b.hooks.arrived, "lent.bin")
	took := time.Since(start)
	floor := time.Duration(float64(len(data)-rate) / rate * float64(time.Second))
	if took < floor {
		t.Fatalf("%d bytes crossed a %d B/s link in %v, under the %v the cap allows", len(data), rate, took, floor)
	}
	t.Logf("%d bytes over a %d B/s link: %v (at least %v)", len(data), rate, took, floor)
}
