package firmware

// Checks of the rendered files by the programs that will read them on the Pi:
// dnsmasq, nft, systemd-analyze, and shellcheck for install.sh. A missing
// program skips the test with the command that installs it, or fails it when
// CI is set (scripts/test installs them all).

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needTool returns the path of a program, or skips (fails under CI) naming
// the Debian package to install.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	// dnsmasq and nft live in /usr/sbin, which a user's PATH may lack.
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && info.Mode()&0o111 != 0 {
			return path
		}
	}
	msg := fmt.Sprintf("%s is not installed; install it with: apt-get install -y %s", name, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// renderCase renders one of renderTests into a map by path.
func renderCase(t *testing.T, p Params) map[string]File {
	t.Helper()
	files, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]File{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDnsmasqAcceptsConfig(t *testing.T) {
	dnsmasq := needTool(t, "dnsmasq", "dnsmasq-base")
	check := func(path string) (string, error) {
		out, err := exec.Command(dnsmasq, "--test", "--conf-file="+path).CombinedOutput()
		return string(out), err
	}
	// The check must be able to fail.
	if out, err := check(writeTemp(t, "bad.conf", []byte("dhcp-range=nonsense\n"))); err == nil {
		t.Fatalf("dnsmasq --test accepted a bad dhcp-range: %s", out)
	}

	tested := 0
	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p()
			if p.DHCP && !p.Option114 {
				p.Option114, p.PortalAPIURL = true, "http://10.42.0.1/api/captive"
			}
			f, ok := renderCase(t, p)[pathDnsmasq]
			if !ok {
				return // no dnsmasq in this mode
			}
			tested++
			out, err := check(writeTemp(t, "tiersbox.conf", f.Data))
			if err != nil || !strings.Contains(out, "syntax check OK") {
				t.Errorf("dnsmasq --test: %v\n%s", err, out)
			}
		})
	}
	if tested == 0 {
		t.Error("no case renders a dnsmasq file")
	}
}

// isolated runs a shell script in a network namespace of its own, so that
// whatever it loads or starts sees no interface of this machine and touches
// nothing here (without root, through a user namespace, where the kernel
// allows it). The script gets prog and args as $1, $2...
func isolated(t *testing.T, prog string, script string, args ...string) *exec.Cmd {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is missing")
	}
	ns := []string{"--net"}
	if os.Geteuid() != 0 {
		ns = []string{"--user", "--map-root-user", "--net"}
	}
	return exec.Command(unshare, append(ns, append([]string{"sh", "-ec", script, "sh", prog}, args...)...)...)
}

func TestNftAcceptsRules(t *testing.T) {
	nft := needTool(t, "nft", "nftables")
	if out, err := isolated(t, nft, `"$1" list ruleset`).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot run nft in a network namespace of its own: %v\n%s", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// The check must be able to fail: reject is not allowed in postrouting.
	bad := writeTemp(t, "bad.nft", []byte("table inet t {\n chain c {\n  type filter hook postrouting priority 0;\n  reject\n }\n}\n"))
	if out, err := isolated(t, nft, `"$1" -f "$2"`, bad).CombinedOutput(); err == nil {
		t.Fatalf("nft accepted reject in postrouting: %s", out)
	}

	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			f := renderCase(t, tt.p())[pathNftables]
			path := writeTemp(t, "tiersbox.nft", f.Data)
			// -c checks the syntax; loading twice checks that the kernel
			// takes every rule in its hook and that a reload replaces the
			// table instead of adding to it.
			out, err := isolated(t, nft, `"$1" -c -f "$2"; "$1" -f "$2"; "$1" -f "$2"; "$1" list ruleset`, path).CombinedOutput()
			if err != nil {
				t.Fatalf("nft: %v\n%s", err, out)
			}
			list := string(out)
			if n := strings.Count(list, "table inet tiersbox"); n != 1 {
				t.Errorf("%d tables after loading twice:\n%s", n, list)
			}
			if n := strings.Count(list, "dport 80 redirect"); n != 1 {
				t.Errorf("%d HTTP redirects after loading twice:\n%s", n, list)
			}
			for _, chain := range []string{"nat_prerouting", "filter_prerouting", "filter_forward"} {
				if !strings.Contains(list, "chain "+chain+" {") {
					t.Errorf("chain %s missing:\n%s", chain, list)
				}
			}
		})
	}
}

// debianDnsmasqUnit stands in for Debian's dnsmasq.service, which the
// drop-in extends; the lines that matter are Debian's.
const debianDnsmasqUnit = `[Unit]
Description=dnsmasq - A lightweight DHCP and caching DNS server
Requires=network.target
After=network.target

[Service]
Type=forking
PIDFile=/run/dnsmasq/dnsmasq.pid
ExecStartPre=/usr/share/dnsmasq/systemd-helper checkconfig
ExecStart=/usr/share/dnsmasq/systemd-helper exec
ExecStartPost=/usr/share/dnsmasq/systemd-helper start-resolvconf
ExecStop=/usr/share/dnsmasq/systemd-helper stop-resolvconf
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
`

// verifyUnits runs systemd-analyze verify on the units (and drop-ins) in
// dir and returns what it complains about, apart from programs that this
// machine lacks but a Pi has.
func verifyUnits(t *testing.T, analyze, dir string, units []string) []string {
	t.Helper()
	args := []string{"verify", "--man=no"}
	for _, u := range units {
		args = append(args, filepath.Join(dir, u))
	}
	out, _ := exec.Command(analyze, args...).CombinedOutput()
	var complaints []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		if cmd, ok := missingCommand(line); ok && onPi[cmd] {
			continue
		}
		complaints = append(complaints, line)
	}
	return complaints
}

// onPi lists the programs the units run that a Pi has once installed.
var onPi = map[string]bool{
	"/usr/local/bin/tiersbox":           true,
	"/usr/sbin/hostapd":                 true,
	"/usr/share/dnsmasq/systemd-helper": true,
	"rfkill":                            true,
	"nft":                               true,
	"ip":                                true,
	"/bin/kill":                         true,
}

// missingCommand recognises systemd-analyze's
// "unit: Command X is not executable: No such file or directory".
func missingCommand(line string) (string, bool) {
	_, rest, ok := strings.Cut(line, ": Command ")
	if !ok {
		return "", false
	}
	cmd, ok := strings.CutSuffix(rest, " is not executable: No such file or directory")
	return cmd, ok
}

func TestSystemdAcceptsUnits(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")

	// The check must be able to fail.
	dir := t.TempDir()
	bad := "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\nProtectSystem=sometimes\nBogusKey=1\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.service"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := verifyUnits(t, analyze, dir, []string{"bad.service"}); len(c) < 2 {
		t.Fatalf("systemd-analyze verify did not catch a bad value and an unknown key: %q", c)
	}

	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var units []string
			for path, f := range renderCase(t, tt.p()) {
				rel, ok := strings.CutPrefix(path, "/etc/systemd/system/")
				if !ok {
					continue
				}
				full := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
				// A drop-in is checked through the unit it extends.
				if strings.HasPrefix(rel, "dnsmasq.service.d/") {
					rel = "dnsmasq.service"
					os.WriteFile(filepath.Join(dir, rel), []byte(debianDnsmasqUnit), 0o644)
				}
				units = append(units, rel)
			}
			if c := verifyUnits(t, analyze, dir, units); len(c) > 0 {
				t.Errorf("systemd-analyze verify %v:\n%s", units, strings.Join(c, "\n"))
			}
		})
	}
}

// TestHostapdAcceptsConfig has hostapd read the rendered file. hostapd has
// no check-only mode, but it reads the whole file before it looks for the
// radio: pointed at an interface that does not exist, in a namespace with no
// interfaces at all, it either reports "errors found in configuration file"
// or gives up later, on the missing radio.
func TestHostapdAcceptsConfig(t *testing.T) {
	hostapd := needTool(t, "hostapd", "hostapd")
	check := func(t *testing.T, data []byte) string {
		t.Helper()
		data = bytes.Replace(data, []byte("\ninterface=wlan0\n"), []byte("\ninterface=tbnosuch0\n"), 1)
		if !bytes.Contains(data, []byte("\ninterface=tbnosuch0\n")) {
			t.Fatal("no interface=wlan0 line to replace")
		}
		path := writeTemp(t, "hostapd.conf", data)
		out, err := isolated(t, hostapd, `exec timeout 10 "$1" "$2"`, path).CombinedOutput()
		if err == nil {
			t.Fatalf("hostapd started without a radio?\n%s", out)
		}
		return string(out)
	}
	// The check must be able to fail.
	bad := []byte("interface=wlan0\ndriver=nl80211\nssid=x\nhw_mode=g\nchannel=6\nwpa=2\nwpa_key_mgmt=WPA-PSK\nwpa_passphrase=short\n")
	if out := check(t, append([]byte("#\n"), bad...)); !strings.Contains(out, "errors found in configuration file") {
		t.Fatalf("hostapd accepted a 5-character passphrase:\n%s", out)
	}

	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := renderCase(t, tt.p())[pathHostapd]
			if !ok {
				return // no hostapd in this mode
			}
			if out := check(t, f.Data); strings.Contains(out, "errors found in configuration file") || strings.Contains(out, "Line ") {
				t.Errorf("hostapd rejects the configuration:\n%s", out)
			}
		})
	}
}

func TestShellcheckInstall(t *testing.T) {
	shellcheck := needTool(t, "shellcheck", "shellcheck")
	out, err := exec.Command(shellcheck, "--shell=sh", "install.sh").CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck install.sh: %v\n%s", err, out)
	}
}
