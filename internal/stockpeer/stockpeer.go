// Package stockpeer runs Debian's stock Syncthing as a test peer of a
// box, headless and on loopback only, as ../shared/BEP.md describes. Only
// tests import it.
package stockpeer

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// Peer is Debian's syncthing run headless on loopback, as
// ../shared/BEP.md describes: discovery, relays, NAT traversal, usage and
// crash reporting all off.
type Peer struct {
	Home string
	// Folder holds one sub-folder per shared folder ID.
	Folder string
	ID     protocol.DeviceID
	// Listen is where it accepts BEP connections (HOST:PORT).
	Listen   string
	gui, key string
	cmd      *exec.Cmd
}

func require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("syncthing")
	if err != nil {
		if os.Getenv("TIERSBOX_E2E") == "1" {
			t.Fatal("syncthing is not installed; scripts/test installs it (apt-get install syncthing)")
		}
		t.Skip("syncthing not installed; set TIERSBOX_E2E=1 to require it")
	}
	return path
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start starts a stock Syncthing that shares the given folders with
// the box peer, which it reaches at peerAddr (empty: it never dials).
func Start(t testing.TB, peer protocol.DeviceID, peerAddr string, folders ...string) *Peer {
	t.Helper()
	return StartHub(t, []protocol.DeviceID{peer}, peerAddr, folders...)
}

// StartHub starts a stock Syncthing that shares the folders with
// every box in peers; the first is reached at peerAddr if it is set.
func StartHub(t testing.TB, peers []protocol.DeviceID, peerAddr string, folders ...string) *Peer {
	t.Helper()
	bin := require(t)
	home := t.TempDir()
	s := &Peer{Home: home, Folder: filepath.Join(home, "folders"), gui: freePort(t), Listen: freePort(t), key: "tiersbox-test-key"}
	env := append(os.Environ(), "STNORESTART=1", "STNOUPGRADE=1", "STNODEFAULTFOLDER=1", "HOME="+home)
	gen := exec.Command(bin, "generate", "--home="+home, "--no-default-folder", "--skip-port-probing")
	gen.Env = env
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("syncthing generate: %v\n%s", err, out)
	}
	idOut, err := exec.Command(bin, "serve", "--home="+home, "--device-id").Output()
	if err != nil {
		t.Fatal(err)
	}
	if s.ID, err = protocol.DeviceIDFromString(strings.TrimSpace(string(idOut))); err != nil {
		t.Fatal(err)
	}
	addr := "dynamic"
	if peerAddr != "" {
		addr = "tcp://" + peerAddr
	}
	var fx, dx strings.Builder
	var devs strings.Builder
	for i, p := range peers {
		fmt.Fprintf(&devs, `<device id="%s"></device>`, p)
		a := "dynamic"
		if i == 0 {
			a = addr
		}
		fmt.Fprintf(&dx, "  <device id=\"%s\" name=\"tiersbox-%d\" compression=\"metadata\"><address>%s</address></device>\n", p, i, a)
	}
	for _, f := range folders {
		dir := filepath.Join(s.Folder, f)
		os.MkdirAll(filepath.Join(dir, ".stfolder"), 0o755)
		fmt.Fprintf(&fx, `<folder id="%s" label="%s" path="%s" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="false">
    <device id="%s"></device>%s
    <minDiskFree unit="%%">0</minDiskFree><maxConflicts>10</maxConflicts>
  </folder>
`, f, f, dir, s.ID, devs.String())
	}
	cfg := fmt.Sprintf(`<configuration version="36">
  %s
%s
  <device id="%s" name="stock"><address>dynamic</address></device>
  <gui enabled="true" tls="false"><address>%s</address><apikey>%s</apikey></gui>
  <options>
    <listenAddress>tcp://%s</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <stunKeepaliveStartS>0</stunKeepaliveStartS>
    <announceLANAddresses>false</announceLANAddresses>
    <urAccepted>-1</urAccepted>
    <crashReportingEnabled>false</crashReportingEnabled>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <startBrowser>false</startBrowser>
    <reconnectionIntervalS>1</reconnectionIntervalS>
  </options>
</configuration>
`, fx.String(), dx.String(), s.ID, s.gui, s.key, s.Listen)
	if err := os.WriteFile(filepath.Join(home, "config.xml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "serve", "--home="+home, "--no-browser", "--no-restart", "--skip-port-probing")
	s.cmd.Env = env
	logf, _ := os.Create(filepath.Join(home, "log.txt"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(home, "log.txt"))
			t.Logf("stock syncthing log:\n%s", log)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for s.REST("GET", "/rest/system/ping", nil) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the stock syncthing did not answer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *Peer) REST(method, path string, out any) error {
	req, _ := http.NewRequest(method, "http://"+s.gui+path, nil)
	req.Header.Set("X-API-Key", s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (s *Peer) Scan(t testing.TB, folder string) {
	t.Helper()
	if err := s.REST("POST", "/rest/db/scan?folder="+folder, nil); err != nil {
		t.Fatal(err)
	}
}

// Completion is how far the stock peer thinks dev has the folder.
func (s *Peer) Completion(folder string, dev protocol.DeviceID) float64 {
	var c struct {
		Completion float64 `json:"completion"`
	}
	if err := s.REST("GET", "/rest/db/completion?folder="+folder+"&device="+dev.String(), &c); err != nil {
		return -1
	}
	return c.Completion
}
