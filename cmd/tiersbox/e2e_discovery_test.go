//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EBoxesFindEachOther: two daemons on one network (two namespaces
// and a veth pair) find each other over mDNS; staff link them by device
// ID alone, and they connect at the address discovery found.
func TestE2EBoxesFindEachOther(t *testing.T) {
	requireE2E(t)
	nets := newVisitorNet(t)
	nets.routeMulticast(t)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("mot de passe du lieu\n"), 0o600)
	type side struct {
		ns, link, venue, data string
		d                     *daemon
	}
	sides := []*side{{ns: nets.box, link: nets.boxLink, venue: "Fablab du Port"}, {ns: nets.phone, link: nets.phoneLink, venue: "Médiathèque"}}
	for _, s := range sides {
		s.data = filepath.Join(t.TempDir(), "box")
		if _, e, code := tiersbox(t, "", "init", "--data", s.data, "--venue", s.venue, "--admin-password-file", pw); code != 0 {
			t.Fatalf("init: %s", e)
		}
		conf := filepath.Join(t.TempDir(), "config.toml")
		os.WriteFile(conf, []byte(fmt.Sprintf("[sync]\ndiscovery = true\ndiscovery_interval = \"1s\"\ninterfaces = [%q]\n", s.link)), 0o600)
		s.d = launch(t, exec.Command("ip", "netns", "exec", s.ns, binary, "run", "--data", s.data, "--config", conf, "--http", ":8080", "--sync", ":22000"))
	}
	a, b := sides[0], sides[1]
	idA, idB := deviceID(t, a.data), deviceID(t, b.data)

	report := func(s *side) peersReport {
		out, e, code := tiersbox(t, "", "peers", "--json", "--data", s.data)
		if code != 0 {
			t.Fatalf("tiersbox peers: %s", e)
		}
		var r peersReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("peers --json: %v\n%s", err, out)
		}
		return r
	}
	sees := func(s *side, id, venue, ip string) bool {
		for _, p := range report(s).Discovered {
			if p.DeviceID.String() == id && p.Name == venue && slices.Contains(p.Addresses, "tcp://"+ip+":22000") {
				return true
			}
		}
		return false
	}
	waitUntil(t, "each box to see the other on the network", 20*time.Second, func() bool {
		return sees(a, idB, b.venue, e2ePhoneIP) && sees(b, idA, a.venue, e2eBoxIP)
	})
	// Seen is not linked: nothing connects yet.
	if r := report(a); len(r.Linked) != 0 {
		t.Fatalf("a box seen was linked without staff: %+v", r.Linked)
	}

	for _, l := range [][2]string{{a.data, idB}, {b.data, idA}} {
		if out, e, code := tiersbox(t, "", "link", "add", l[1], "--data", l[0]); code != 0 {
			t.Fatalf("link add: %s%s", out, e)
		}
	}
	waitUntil(t, "the linked boxes to connect", 20*time.Second, func() bool {
		r := report(a)
		return len(r.Linked) == 1 && r.Linked[0].Connected && strings.HasPrefix(r.Linked[0].Address, e2ePhoneIP+":")
	})
	for _, s := range sides {
		s.d.stop(t, syscall.SIGTERM)
	}
}
