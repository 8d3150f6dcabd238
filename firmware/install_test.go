package firmware

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// fakeTiersbox stands in for the daemon: it records its arguments, one line
// per call, in $TIERSBOX_FAKE_LOG; "init" copies the admin password it was
// given into the data folder as tiersbox.db (the store's file), or fails as
// the real one does when that file is there; and
// "network-config" writes, under --root and only when they differ, a unit
// and, in own-wifi mode, a hostapd file.
const fakeTiersbox = `#!/bin/sh
set -eu
printf '%s\n' "$*" >>"$TIERSBOX_FAKE_LOG"
cmd=$1
shift
data='' root='' config='' password='' venue=''
while [ $# -gt 0 ]; do
	case $1 in
	--data) data=$2 ;;
	--venue) venue=$2 ;;
	--root) root=$2 ;;
	--config) config=$2 ;;
	--admin-password-file) password=$2 ;;
	esac
	shift 2
done
put() {
	if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
		mkdir -p "$(dirname "$1")"
		printf '%s\n' "$2" >"$1"
	fi
}
case $cmd in
version) echo "tiersbox fake" ;;
init)
	if [ -e "$data/tiersbox.db" ]; then
		echo "tiersbox: the box in $data is already set up (venue \"x\"); nothing was changed" >&2
		exit 1
	fi
	cp "$password" "$data/tiersbox.db"
	;;
network-config)
	mode=$(sed -n 's/^mode = "\(.*\)"$/\1/p' "$config")
	put "$root/etc/systemd/system/tiersbox.service" "fake unit, $mode"
	if [ "$mode" = own-wifi ]; then
		put "$root/etc/hostapd/tiersbox.conf" "fake hostapd"
	fi
	;;
*) exit 2 ;;
esac
`

// installKit is what staff copy to the Pi: install.sh, config.example.toml
// and the program beside them (here the fake).
type installKit struct {
	dir, root, log string
}

func newInstallKit(t *testing.T) installKit {
	t.Helper()
	k := installKit{dir: t.TempDir(), root: t.TempDir()}
	k.log = filepath.Join(t.TempDir(), "calls.log")
	for _, name := range []string{"install.sh", "config.example.toml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(k.dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(k.dir, "tiersbox"), []byte(fakeTiersbox), 0o755); err != nil {
		t.Fatal(err)
	}
	return k
}

// run runs install.sh in a dry run under k.root and returns its output.
func (k installKit) run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join(k.dir, "install.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "TIERSBOX_ROOT="+k.root, "TIERSBOX_DRY_SYSTEM=1", "TIERSBOX_FAKE_LOG="+k.log)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k installKit) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.run(t, nil, args...)
	if err != nil {
		t.Fatalf("install.sh %q: %v\n%s", args, err, out)
	}
	return out
}

// calls returns the fake's recorded calls whose first word is cmd.
func (k installKit) calls(t *testing.T, cmd string) []string {
	t.Helper()
	data, err := os.ReadFile(k.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var calls []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, cmd+" ") {
			calls = append(calls, line)
		}
	}
	return calls
}

func (k installKit) path(p string) string { return filepath.Join(k.root, p) }

func (k installKit) config(t *testing.T) exampleConfig {
	t.Helper()
	var c exampleConfig
	md, err := toml.DecodeFile(k.path("/etc/tiersbox/config.toml"), &c)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("config.toml has unknown keys %v", u)
	}
	return c
}

func TestInstallTwice(t *testing.T) {
	k := newInstallKit(t)
	passFile := filepath.Join(t.TempDir(), "wifi")
	if err := os.WriteFile(passFile, []byte("bonjour \"à\" tous\\\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not ASCII: install.sh must refuse it before changing anything.
	out, err := k.run(t, nil, "--venue", "x", "--passphrase-file", passFile)
	if err == nil || !strings.Contains(out, "only ASCII") {
		t.Fatalf("non-ASCII passphrase: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(k.root); len(entries) != 0 {
		t.Fatalf("a refused install wrote %v", entries)
	}
	if err := os.WriteFile(passFile, []byte("bonjour \"a\" tous\\\r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--venue", "Café des Possibles", "--ssid", `Le "Café"`, "--passphrase-file", passFile, "--country", "be"}

	out = k.mustRun(t, args...)

	// The program, installed beside nothing else.
	fake, _ := os.ReadFile(filepath.Join(k.dir, "tiersbox"))
	if got, err := os.ReadFile(k.path("/usr/local/bin/tiersbox")); err != nil || string(got) != string(fake) {
		t.Errorf("program not installed: %v", err)
	}
	checkMode(t, k.path("/usr/local/bin/tiersbox"), 0o755)

	// The configuration: the example with the arguments filled in.
	checkMode(t, k.path("/etc/tiersbox/config.toml"), 0o640)
	c := k.config(t)
	n := c.Network
	if n.Mode != "own-wifi" || n.SSID != `Le "Café"` || n.Passphrase != `bonjour "a" tous\` || n.Country != "BE" || n.Interface != "wlan0" {
		t.Errorf("config.toml network section: %+v", n)
	}
	if _, err := Render(c.params(t)); err != nil {
		t.Errorf("the installed config does not render: %v", err)
	}

	// Initialised once, as asked, with the generated password.
	inits := k.calls(t, "init")
	wantInit := "init --data " + k.path("/var/lib/tiersbox") + " --venue Café des Possibles --admin-password-file "
	if len(inits) != 1 || !strings.HasPrefix(inits[0], wantInit) {
		t.Fatalf("init calls %q, want one starting %q", inits, wantInit)
	}
	copyPath := strings.TrimPrefix(inits[0], wantInit)
	if _, err := os.Stat(copyPath); !os.IsNotExist(err) {
		t.Errorf("the password copy for init is left behind: %s", copyPath)
	}
	password, err := os.ReadFile(k.path("/root/tiersbox-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	checkMode(t, k.path("/root/tiersbox-admin-password"), 0o600)
	if p := strings.TrimSpace(string(password)); len(p) != 20 {
		t.Errorf("generated password %q, want 20 characters", p)
	}
	if given, _ := os.ReadFile(k.path("/var/lib/tiersbox/tiersbox.db")); strings.TrimSpace(string(given)) != strings.TrimSpace(string(password)) {
		t.Errorf("init was given %q, the password file holds %q", given, password)
	}
	if !strings.Contains(out, "/root/tiersbox-admin-password") {
		t.Errorf("the output does not say where the password is:\n%s", out)
	}

	wantNetwork := "network-config --config " + k.path("/etc/tiersbox/config.toml") + " --root " + k.root
	if nc := k.calls(t, "network-config"); len(nc) != 1 || nc[0] != wantNetwork {
		t.Errorf("network-config calls %q, want %q", nc, wantNetwork)
	}
	for _, want := range []string{
		"would run: apt-get install -y hostapd dnsmasq nftables rfkill",
		"would run: useradd --system",
		"would run: systemctl enable nftables.service tiersbox-firewall.service tiersbox-hostapd.service tiersbox-wifi.path dnsmasq.service tiersbox.service",
		"would run: systemctl restart tiersbox-firewall.service tiersbox-hostapd.service tiersbox-wifi.path dnsmasq.service tiersbox.service",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// Second run, same arguments: nothing changes, no second init.
	before := snapshot(t, k.root)
	out = k.mustRun(t, args...)
	if after := snapshot(t, k.root); !maps.Equal(before, after) {
		t.Errorf("the second run changed files:\nbefore %v\nafter  %v", before, after)
	}
	if inits := k.calls(t, "init"); len(inits) != 1 {
		t.Errorf("initialised again: %q", inits)
	}
	if !strings.Contains(out, "already initialised") {
		t.Errorf("the second run does not say it kept the data:\n%s", out)
	}

	// A third run without arguments keeps the settings too.
	k.mustRun(t)
	if after := snapshot(t, k.root); !maps.Equal(before, after) {
		t.Errorf("a run without arguments changed files")
	}

	// A WiFi chosen on the settings page survives a run without WiFi
	// arguments, and gives way to one given here.
	request := k.path("/var/lib/tiersbox/" + WiFiRequestFile)
	if err := os.WriteFile(request, []byte(`{"ssid":"x","passphrase":"","channel":6}`), 0o600); err != nil {
		t.Fatal(err)
	}
	k.mustRun(t)
	if _, err := os.Stat(request); err != nil {
		t.Errorf("a run without WiFi arguments lost the settings page's WiFi: %v", err)
	}
	out = k.mustRun(t, "--ssid", `Le "Café"`)
	if _, err := os.Stat(request); !os.IsNotExist(err) || !strings.Contains(out, "replaces the one chosen on the settings page") {
		t.Errorf("--ssid left the settings page's WiFi in place (%v):\n%s", err, out)
	}

	// Switching to venue mode: Ethernet, the venue's DHCP, hostapd gone.
	out = k.mustRun(t, "--mode", "venue")
	c = k.config(t)
	n = c.Network
	if n.Mode != "venue" || n.Interface != "eth0" || n.DHCP || n.Address != "" || n.SSID != `Le "Café"` ||
		c.Portal.Address != "" || !c.Portal.MDNS {
		t.Errorf("venue config: %+v %+v", n, c.Portal)
	}
	if _, err := Render(c.params(t)); err != nil {
		t.Errorf("the venue config does not render: %v", err)
	}
	if _, err := os.Stat(k.path("/etc/hostapd/tiersbox.conf")); !os.IsNotExist(err) {
		t.Errorf("hostapd's file is still there in venue mode")
	}
	if !strings.Contains(out, "would run: systemctl disable --now tiersbox-hostapd.service") || strings.Contains(out, "hostapd dnsmasq") {
		t.Errorf("venue mode output:\n%s", out)
	}
	if inits := k.calls(t, "init"); len(inits) != 1 {
		t.Errorf("initialised again: %q", inits)
	}
}

func TestInstallGivenAdminPassword(t *testing.T) {
	k := newInstallKit(t)
	pw := filepath.Join(t.TempDir(), "admin")
	if err := os.WriteFile(pw, []byte("staff secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k.mustRun(t, "--venue", "Fablab", "--mode", "venue", "--admin-password-file", pw)
	if got, _ := os.ReadFile(k.path("/var/lib/tiersbox/tiersbox.db")); string(got) != "staff secret\n" {
		t.Errorf("init got %q", got)
	}
	if _, err := os.Stat(k.path("/root/tiersbox-admin-password")); !os.IsNotExist(err) {
		t.Errorf("a password was generated although one was given")
	}
	if c := k.config(t); c.Network.Mode != "venue" {
		t.Errorf("mode %q", c.Network.Mode)
	}
}

// TestInstallAfterInitByHand: a box set up with "tiersbox init" before
// install.sh keeps its password, and no unused one is left in /root.
func TestInstallAfterInitByHand(t *testing.T) {
	k := newInstallKit(t)
	if err := os.MkdirAll(k.path("/var/lib/tiersbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.path("/var/lib/tiersbox/tiersbox.db"), []byte("by hand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := k.mustRun(t, "--venue", "Fablab")
	if !strings.Contains(out, "already set up") {
		t.Errorf("output:\n%s", out)
	}
	if got, _ := os.ReadFile(k.path("/var/lib/tiersbox/tiersbox.db")); string(got) != "by hand\n" {
		t.Errorf("the store was changed: %q", got)
	}
	if _, err := os.Stat(k.path("/root/tiersbox-admin-password")); !os.IsNotExist(err) {
		t.Errorf("an unused generated password is left in /root")
	}
	k.mustRun(t)
	if inits := k.calls(t, "init"); len(inits) != 1 {
		t.Errorf("init called %d times, want once", len(inits))
	}
}

// TestInstallInitFails: when init fails, install.sh stops, and the next run
// tries again with the same generated password.
func TestInstallInitFails(t *testing.T) {
	k := newInstallKit(t)
	// A venue name the real init refuses; the fake refuses it too.
	fake := strings.Replace(fakeTiersbox, "init)\n", "init)\n\tif [ \"$venue\" = Broken ]; then echo 'venue name too long' >&2; exit 2; fi\n", 1)
	if err := os.WriteFile(filepath.Join(k.dir, "tiersbox"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := k.run(t, nil, "--venue", "Broken")
	if err == nil || !strings.Contains(out, "venue name too long") || !strings.Contains(out, "tiersbox init failed") {
		t.Fatalf("error %v, output:\n%s", err, out)
	}
	first, err := os.ReadFile(k.path("/root/tiersbox-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	k.mustRun(t, "--venue", "Fixed")
	if got, _ := os.ReadFile(k.path("/var/lib/tiersbox/tiersbox.db")); string(got) != string(first) {
		t.Errorf("the retry used another password: %q, first %q", got, first)
	}
}

func TestInstallRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no venue the first time", nil, nil, "give the venue's name"},
		{"unknown mode", nil, []string{"--venue", "x", "--mode", "mesh"}, "--mode is own-wifi or venue"},
		{"unknown option", nil, []string{"--venue", "x", "--colour", "red"}, "unknown argument: --colour"},
		{"option without value", nil, []string{"--venue"}, "--venue needs a value"},
		{"long SSID", nil, []string{"--venue", "x", "--ssid", strings.Repeat("é", 17)}, "at most 32 bytes"},
		{"bad country", nil, []string{"--venue", "x", "--country", "FRA"}, "two-letter code"},
		{"missing password file", nil, []string{"--venue", "x", "--admin-password-file", "/nonexistent"}, "missing or empty"},
		{"missing program", nil, []string{"--venue", "x", "--binary", "/nonexistent"}, "program not found"},
		{"root without dry run", []string{"TIERSBOX_DRY_SYSTEM=0"}, []string{"--venue", "x"}, "needs TIERSBOX_DRY_SYSTEM=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newInstallKit(t)
			out, err := k.run(t, tt.env, tt.args...)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("error %v, output:\n%s\nwant it to contain %q", err, out, tt.want)
			}
			if entries, _ := os.ReadDir(k.root); len(entries) != 0 {
				t.Errorf("a refused install wrote %v", entries)
			}
		})
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if info.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want %v", path, info.Mode().Perm(), want)
	}
}

// exampleConfig is config.toml as documented in config.example.toml.
type exampleConfig struct {
	HTTP struct {
		Listen string `toml:"listen"`
	} `toml:"http"`
	DNS struct {
		Listen string `toml:"listen"`
	} `toml:"dns"`
	Portal struct {
		Hostname      string `toml:"hostname"`
		Address       string `toml:"address"`
		Session       string `toml:"session"`
		DHCPOption114 bool   `toml:"dhcp_option_114"`
		MDNS          bool   `toml:"mdns"`
	} `toml:"portal"`
	Drive struct {
		MaxFileSize string `toml:"max_file_size"`
		Quota       string `toml:"quota"`
	} `toml:"drive"`
	Sync struct {
		Listen            string   `toml:"listen"`
		MaxRate           string   `toml:"max_rate"`
		Discovery         bool     `toml:"discovery"`
		DiscoveryInterval string   `toml:"discovery_interval"`
		Interfaces        []string `toml:"interfaces"`
	} `toml:"sync"`
	Network Config `toml:"network"`
	Log     struct {
		Level string `toml:"level"`
	} `toml:"log"`
}

// params turns a config into Params as "tiersbox network-config" does.
func (c exampleConfig) params(t *testing.T) Params {
	t.Helper()
	p, err := c.Network.Params(Daemon{
		HTTPListen: c.HTTP.Listen, DNSListen: c.DNS.Listen,
		PortalAddress: c.Portal.Address, Option114: c.Portal.DHCPOption114,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Binary, p.DataDir, p.ConfigFile, p.User = "/usr/local/bin/tiersbox", "/var/lib/tiersbox", "/etc/tiersbox/config.toml", "tiersbox"
	return p
}

// TestExampleConfig: config.example.toml is valid TOML, documents exactly
// the keys above, and its defaults render.
func TestExampleConfig(t *testing.T) {
	var c exampleConfig
	md, err := toml.DecodeFile("config.example.toml", &c)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("undocumented keys %v", u)
	}
	want := []string{
		"http.listen", "dns.listen",
		"portal.hostname", "portal.address", "portal.session", "portal.dhcp_option_114", "portal.mdns",
		"network.mode", "network.interface", "network.ssid", "network.passphrase", "network.country",
		"network.channel", "network.address", "network.dhcp", "network.dhcp_start", "network.dhcp_end",
		"network.lease", "drive.max_file_size", "drive.quota", "log.level",
		"sync.listen", "sync.max_rate", "sync.discovery", "sync.discovery_interval", "sync.interfaces",
	}
	for _, key := range want {
		if !md.IsDefined(strings.Split(key, ".")...) {
			t.Errorf("config.example.toml lacks %s", key)
		}
	}
	if _, err := time.ParseDuration(c.Portal.Session); err != nil {
		t.Errorf("portal.session: %v", err)
	}
	p := c.params(t)
	if p != ownWiFiParams() {
		t.Errorf("the example's defaults\n%+v\ndiffer from the tests' own-wifi defaults\n%+v", p, ownWiFiParams())
	}
	if _, err := Render(p); err != nil {
		t.Error(err)
	}
}
