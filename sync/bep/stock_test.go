package bep

import (
	"bytes"
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

	"tiersbox/sync/link"
)

// stockPeer is Debian's syncthing run headless on loopback, as
// ../shared/BEP.md describes: discovery, relays, NAT traversal, usage and
// crash reporting all off.
type stockPeer struct {
	home, folder string // folder holds one sub-folder per shared folder ID
	id           protocol.DeviceID
	gui, key     string
	listen       string
	cmd          *exec.Cmd
}

func requireSyncthing(t *testing.T) string {
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

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startStock starts a stock Syncthing that shares the given folders with
// the box peer, which it reaches at peerAddr (empty: it never dials).
func startStock(t *testing.T, peer protocol.DeviceID, peerAddr string, folders ...string) *stockPeer {
	t.Helper()
	return startStockHub(t, []protocol.DeviceID{peer}, peerAddr, folders...)
}

// startStockHub starts a stock Syncthing that shares the folders with
// every box in peers; the first is reached at peerAddr if it is set.
func startStockHub(t *testing.T, peers []protocol.DeviceID, peerAddr string, folders ...string) *stockPeer {
	t.Helper()
	bin := requireSyncthing(t)
	home := t.TempDir()
	s := &stockPeer{home: home, folder: filepath.Join(home, "folders"), gui: freePort(t), listen: freePort(t), key: "tiersbox-test-key"}
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
	if s.id, err = protocol.DeviceIDFromString(strings.TrimSpace(string(idOut))); err != nil {
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
		dir := filepath.Join(s.folder, f)
		os.MkdirAll(filepath.Join(dir, ".stfolder"), 0o755)
		fmt.Fprintf(&fx, `<folder id="%s" label="%s" path="%s" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="false">
    <device id="%s"></device>%s
    <minDiskFree unit="%%">0</minDiskFree><maxConflicts>10</maxConflicts>
  </folder>
`, f, f, dir, s.id, devs.String())
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
`, fx.String(), dx.String(), s.id, s.gui, s.key, s.listen)
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
	waitFor(t, "the stock syncthing to answer", 30*time.Second, func() bool { return s.rest("GET", "/rest/system/ping", nil) == nil })
	return s
}

func (s *stockPeer) rest(method, path string, out any) error {
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

func (s *stockPeer) scan(t *testing.T, folder string) {
	t.Helper()
	if err := s.rest("POST", "/rest/db/scan?folder="+folder, nil); err != nil {
		t.Fatal(err)
	}
}

// completion is how far the stock peer thinks dev has the folder.
func (s *stockPeer) completion(folder string, dev protocol.DeviceID) float64 {
	var c struct {
		Completion float64 `json:"completion"`
	}
	if err := s.rest("GET", "/rest/db/completion?folder="+folder+"&device="+dev.String(), &c); err != nil {
		return -1
	}
	return c.Completion
}

// TestStockSyncthing links a box to a stock Syncthing sharing both
// folders: it receives the journal and the drive byte for byte, a file it
// gets arrives at the box, and removals go both ways.
func TestStockSyncthing(t *testing.T) {
	box := newTestBox(t, "box")
	for i := range 30 {
		box.j.Append(journalDraft(fmt.Sprintf("message %d", i)))
	}
	os.WriteFile(filepath.Join(box.drive, "programme.txt"), []byte("Atelier vélo à 14 h\n"), 0o644)
	big := bytes.Repeat([]byte("tiers-lieu "), 50_000)
	os.MkdirAll(filepath.Join(box.drive, "ateliers"), 0o755)
	os.WriteFile(filepath.Join(box.drive, "ateliers", "compte-rendu.bin"), big, 0o644)
	box.node.DriveChanged()

	stock := startStock(t, box.id.DeviceID, "", FolderJournal, FolderDrive)
	if _, err := box.links.Add(link.Device{ID: stock.id, Name: "stock", Addresses: []string{"tcp://" + stock.listen}}); err != nil {
		t.Fatal(err)
	}
	jdir, ddir := filepath.Join(stock.folder, FolderJournal), filepath.Join(stock.folder, FolderDrive)

	// Both folders arrive byte for byte.
	waitFor(t, "the stock peer to complete both folders", 60*time.Second, func() bool {
		return stock.completion(FolderJournal, stock.id) == 100 && stock.completion(FolderDrive, stock.id) == 100 &&
			fileEquals(filepath.Join(ddir, "ateliers", "compte-rendu.bin"), big)
	})
	_, _, files := box.node.jIdx.snapshot()
	segments := 0
	for name, f := range files {
		if f.IsDirectory() {
			continue
		}
		segments++
		o, first, _ := parseSegmentName(name)
		want, err := box.node.jf.readAt(name, 0, int(f.Size))
		if err != nil {
			t.Fatal(err)
		}
		if !fileEquals(filepath.Join(jdir, filepath.FromSlash(name)), want) {
			t.Fatalf("the stock copy of segment %v/%d differs", o, first)
		}
	}
	if segments == 0 {
		t.Fatal("no journal segment announced")
	}
	if !fileEquals(filepath.Join(ddir, "programme.txt"), []byte("Atelier vélo à 14 h\n")) {
		t.Fatal("programme.txt differs at the stock peer")
	}
	// The box sees the stock peer as in sync too.
	waitFor(t, "the stock peer to see the box complete", 30*time.Second, func() bool {
		return stock.completion(FolderDrive, box.id.DeviceID) == 100 && stock.completion(FolderJournal, box.id.DeviceID) == 100
	})

	// A file added at the stock peer arrives at the box.
	os.WriteFile(filepath.Join(ddir, "affiche.txt"), []byte("Fête du quartier\n"), 0o644)
	stock.scan(t, FolderDrive)
	expect(t, box.hooks.arrived, "affiche.txt")
	if !fileEquals(filepath.Join(box.drive, "affiche.txt"), []byte("Fête du quartier\n")) {
		t.Fatal("affiche.txt differs at the box")
	}

	// Removed at the stock peer: removed at the box.
	os.Remove(filepath.Join(ddir, "programme.txt"))
	stock.scan(t, FolderDrive)
	expect(t, box.hooks.departed, "programme.txt")
	if _, err := os.Stat(filepath.Join(box.drive, "programme.txt")); !os.IsNotExist(err) {
		t.Fatalf("programme.txt still at the box: %v", err)
	}

	// Removed at the box: removed at the stock peer.
	os.Remove(filepath.Join(box.drive, "affiche.txt"))
	box.node.DriveChanged()
	waitFor(t, "the stock peer to remove affiche.txt", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(ddir, "affiche.txt"))
		return os.IsNotExist(err)
	})

	// New journal entries keep flowing.
	box.j.Append(journalDraft("encore"))
	waitFor(t, "the stock peer to take the new entry", 30*time.Second, func() bool {
		_, _, files := box.node.jIdx.snapshot()
		for name, f := range files {
			if !f.IsDirectory() && f.Version.Counter(shortOf(box.j.Origin())) == 31 {
				want, _ := box.node.jf.readAt(name, 0, int(f.Size))
				return fileEquals(filepath.Join(jdir, filepath.FromSlash(name)), want)
			}
		}
		return false
	})
}

func fileEquals(path string, want []byte) bool {
	got, err := os.ReadFile(path)
	return err == nil && bytes.Equal(got, want)
}

func expect(t *testing.T, c chan string, want string) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %q", want)
	}
}

// TestStockSyncthingAsHub: boxes A and C are never linked to each other,
// only to the same stock Syncthing; each gets the other's journal and
// drive through it.
func TestStockSyncthingAsHub(t *testing.T) {
	a, c := newTestBox(t, "a"), newTestBox(t, "c")
	hub := startStockHub(t, []protocol.DeviceID{a.id.DeviceID, c.id.DeviceID}, "", FolderJournal, FolderDrive)
	for _, b := range []*testBox{a, c} {
		if _, err := b.links.Add(link.Device{ID: hub.id, Name: "hub", Addresses: []string{"tcp://" + hub.listen}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		a.j.Append(journalDraft(fmt.Sprintf("from a %d", i)))
		c.j.Append(journalDraft(fmt.Sprintf("from c %d", i)))
	}
	os.WriteFile(filepath.Join(a.drive, "de-a.txt"), []byte("écrit à A"), 0o644)
	os.WriteFile(filepath.Join(c.drive, "de-c.txt"), []byte("écrit à C"), 0o644)
	a.node.DriveChanged()
	c.node.DriveChanged()
	waitFor(t, "A and C to hold each other's work through the hub", 90*time.Second, func() bool { return converged(t, a, c) })
	if heads(t, c)[a.j.Origin()] != 20 || heads(t, a)[c.j.Origin()] != 20 {
		t.Fatal("journals incomplete")
	}
}
