package firmware

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// ownWiFiParams are the settings install.sh produces by default.
func ownWiFiParams() Params {
	return Params{
		Mode:       OwnWiFi,
		Interface:  "wlan0",
		SSID:       "tiersbox",
		Country:    "FR",
		Channel:    6,
		Address:    netip.MustParsePrefix("10.42.0.1/24"),
		DHCP:       true,
		DHCPStart:  netip.MustParseAddr("10.42.0.10"),
		DHCPEnd:    netip.MustParseAddr("10.42.0.250"),
		Lease:      12 * time.Hour,
		HTTPPort:   80,
		DNSPort:    53,
		Binary:     "/usr/local/bin/tiersbox",
		DataDir:    "/var/lib/tiersbox",
		ConfigFile: "/etc/tiersbox/config.toml",
		User:       "tiersbox",
	}
}

// venueParams: plugged into the venue's network, whose DHCP server gives the
// box its address.
func venueParams() Params {
	p := ownWiFiParams()
	p.Mode = Venue
	p.Interface = "eth0"
	p.SSID, p.Country, p.Channel = "", "", 0
	p.Address = netip.Prefix{}
	p.DHCP = false
	p.DHCPStart, p.DHCPEnd, p.Lease = netip.Addr{}, netip.Addr{}, 0
	return p
}

var renderTests = []struct {
	name  string
	p     func() Params
	paths []string
}{
	{
		name: "own-wifi-open",
		p:    ownWiFiParams,
		paths: []string{pathDaemonUnit, pathNetUnit, pathFirewallUnit, pathNftables, pathNetworkManager,
			pathHostapd, pathHostapdUnit, pathWiFiPath, pathWiFiUnit, pathDnsmasq, pathDnsmasqDropIn},
	},
	{
		name: "own-wifi-wpa2",
		p: func() Params {
			p := ownWiFiParams()
			p.SSID = "Médiathèque Jules-Verne"
			p.Passphrase = `bonjour "tout" le monde\`
			p.Country = "be"
			p.Channel = 11
			p.HTTPPort, p.DNSPort = 8080, 5353
			p.Lease = 45 * time.Minute
			return p
		},
		paths: []string{pathDaemonUnit, pathNetUnit, pathFirewallUnit, pathNftables, pathNetworkManager,
			pathHostapd, pathHostapdUnit, pathWiFiPath, pathWiFiUnit, pathDnsmasq, pathDnsmasqDropIn},
	},
	{
		name: "venue-dhcp",
		p: func() Params {
			p := venueParams()
			p.Address = netip.MustParsePrefix("192.168.50.1/23")
			p.DHCP = true
			p.DHCPStart = netip.MustParseAddr("192.168.50.20")
			p.DHCPEnd = netip.MustParseAddr("192.168.51.250")
			p.Lease = 2 * time.Hour
			p.Option114 = true
			p.PortalAPIURL = "https://tiers.box/api/captive"
			return p
		},
		paths: []string{pathDaemonUnit, pathNetUnit, pathFirewallUnit, pathNftables, pathNetworkManager,
			pathDnsmasq, pathDnsmasqDropIn},
	},
	{
		name:  "venue",
		p:     venueParams,
		paths: []string{pathDaemonUnit, pathFirewallUnit, pathNftables},
	},
	{
		name: "venue-static",
		p: func() Params {
			p := venueParams()
			p.Address = netip.MustParsePrefix("172.16.4.9/16")
			p.DNSPort = 0
			return p
		},
		paths: []string{pathDaemonUnit, pathNetUnit, pathFirewallUnit, pathNftables, pathNetworkManager},
	},
}

func TestRender(t *testing.T) {
	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Render(tt.p())
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range files {
				paths = append(paths, f.Path)
			}
			if !slices.Equal(paths, tt.paths) {
				t.Errorf("rendered\n  %v\nwant\n  %v", paths, tt.paths)
			}
			golden(t, filepath.Join("testdata", tt.name+".golden"), dump(files))
		})
	}
}

// dump puts rendered files into one text for a golden file.
func dump(files []File) []byte {
	var b bytes.Buffer
	for _, f := range files {
		fmt.Fprintf(&b, "==> %s (%04o) <==\n%s\n", f.Path, f.Mode, f.Data)
	}
	return b.Bytes()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./firmware -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered files differ from %s (if the change is intended, run go test ./firmware -update and review the diff):\n%s",
			path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// TestRenderContent checks what the golden files hold that matters most, so
// that an -update cannot quietly lose it.
func TestRenderContent(t *testing.T) {
	byPath := func(t *testing.T, p Params) map[string]string {
		t.Helper()
		files, err := Render(p)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range files {
			m[f.Path] = string(f.Data)
		}
		return m
	}
	contains := func(t *testing.T, file, text string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
	}
	lacks := func(t *testing.T, file, text string, nots ...string) {
		t.Helper()
		for _, n := range nots {
			if strings.Contains(text, n) {
				t.Errorf("%s has %q", file, n)
			}
		}
	}

	t.Run("own-wifi", func(t *testing.T) {
		m := byPath(t, ownWiFiParams())
		contains(t, "unit", m[pathDaemonUnit],
			"\nUser=tiersbox\n",
			"\nExecStart=/usr/local/bin/tiersbox run --data /var/lib/tiersbox --config /etc/tiersbox/config.toml\n",
			"\nRestart=on-failure\n",
			"\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n", "\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
			"\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n", "\nReadWritePaths=/var/lib/tiersbox\n",
			"\nStateDirectory=tiersbox\n", "\nProtectHome=yes\n", "\nPrivateTmp=yes\n", "\nPrivateDevices=yes\n",
			"\nProtectKernelTunables=yes\n", "\nProtectKernelModules=yes\n", "\nProtectKernelLogs=yes\n",
			"\nProtectControlGroups=yes\n",
			"\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n", "\nRestrictNamespaces=yes\n",
			"\nLockPersonality=yes\n", "\nMemoryDenyWriteExecute=yes\n", "\nSystemCallArchitectures=native\n",
			"\nSystemCallFilter=@system-service\n", "\nUMask=0027\n",
			"\nAfter=network-online.target tiersbox-firewall.service tiersbox-net.service tiersbox-hostapd.service dnsmasq.service\n",
			"\nWantedBy=multi-user.target\n")
		// ProcSubset=pid would hide /proc/net/arp.
		lacks(t, "unit", m[pathDaemonUnit], "\nProcSubset=")
		contains(t, "hostapd", m[pathHostapd], "\ninterface=wlan0\n", "\ndriver=nl80211\n", "\nssid=tiersbox\n",
			"\ncountry_code=FR\n", "\nieee80211d=1\n", "\nhw_mode=g\n", "\nchannel=6\n", "\nwmm_enabled=1\n",
			"\nap_isolate=1\n", "\nmax_num_sta=", "\nwpa=0\n")
		lacks(t, "hostapd", m[pathHostapd], "wpa_passphrase", "utf8_ssid")
		contains(t, "hostapd unit", m[pathHostapdUnit], "\nExecStart=/usr/sbin/hostapd /etc/hostapd/tiersbox.conf\n",
			"\nBindsTo=sys-subsystem-net-devices-wlan0.device\n", "\nConflicts=hostapd.service\n")
		contains(t, "net unit", m[pathNetUnit], "\nExecStart=rfkill unblock wlan\n",
			"\nExecStart=ip address replace 10.42.0.1/24 dev wlan0\n", "\nExecStart=ip link set dev wlan0 up\n",
			"\nBefore=tiersbox-hostapd.service dnsmasq.service tiersbox.service\n")
		contains(t, "dnsmasq", m[pathDnsmasq], "\nport=0\n", "\ninterface=wlan0\n", "\nbind-interfaces\n",
			"\ndhcp-range=10.42.0.10,10.42.0.250,255.255.255.0,12h\n",
			"\ndhcp-option=option:router,10.42.0.1\n", "\ndhcp-option=option:dns-server,10.42.0.1\n",
			"\ndhcp-authoritative\n", "\nno-ping\n")
		lacks(t, "dnsmasq", m[pathDnsmasq], "114")
		contains(t, "nft", m[pathNftables], `iifname "wlan0" udp dport 53 redirect to :53`,
			`iifname "wlan0" tcp dport 53 redirect to :53`, `iifname "wlan0" tcp dport 80 redirect to :80`,
			"tcp dport 443 reject with tcp reset", "udp dport { 67, 68 } accept")
		contains(t, "NetworkManager", m[pathNetworkManager], "[keyfile]\nunmanaged-devices=interface-name:wlan0\n")
	})

	t.Run("own-wifi-wpa2", func(t *testing.T) {
		p := ownWiFiParams()
		p.SSID, p.Passphrase = "Café", "12345678"
		m := byPath(t, p)
		contains(t, "hostapd", m[pathHostapd], "\nssid=Café\nutf8_ssid=1\n", "\nwpa=2\n", "\nwpa_key_mgmt=WPA-PSK\n",
			"\nrsn_pairwise=CCMP\n", "\nwpa_passphrase=12345678\n")
		lacks(t, "hostapd", m[pathHostapd], "wpa=0", "TKIP")
	})

	t.Run("option-114", func(t *testing.T) {
		p := ownWiFiParams()
		p.Option114, p.PortalAPIURL = true, "http://10.42.0.1/api/captive"
		m := byPath(t, p)
		contains(t, "dnsmasq", m[pathDnsmasq], "\ndhcp-option=114,\"http://10.42.0.1/api/captive\"\n")
	})

	t.Run("venue", func(t *testing.T) {
		m := byPath(t, venueParams())
		for _, path := range []string{pathHostapd, pathDnsmasq, pathNetUnit, pathNetworkManager} {
			if _, ok := m[path]; ok {
				t.Errorf("venue mode without DHCP renders %s", path)
			}
		}
		contains(t, "nft", m[pathNftables], `iifname "eth0" tcp dport 80 redirect to :80`)
		lacks(t, "unit", m[pathDaemonUnit], "tiersbox-net", "hostapd", "dnsmasq")
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Params)
		want   string // in the error; "" means valid
	}{
		{"defaults", func(*Params) {}, ""},
		{"WPA2", func(p *Params) { p.Passphrase = "12345678" }, ""},
		{"63-character passphrase", func(p *Params) { p.Passphrase = strings.Repeat("a", 63) }, ""},
		{"32-byte SSID", func(p *Params) { p.SSID = strings.Repeat("é", 16) }, ""},
		{"lower-case country", func(p *Params) { p.Country = "fr" }, ""},
		{"channel 13", func(p *Params) { p.Channel = 13 }, ""},
		{"venue without address", func(p *Params) { *p = venueParams() }, ""},
		{"venue ignores WiFi settings", func(p *Params) {
			p.Mode, p.Interface, p.SSID, p.Channel, p.Country = Venue, "eth0", strings.Repeat("x", 40), 99, "ZZ"
		}, ""},
		{"no DNS without DHCP", func(p *Params) { *p = venueParams(); p.DNSPort = 0 }, ""},

		{"unknown mode", func(p *Params) { p.Mode = "mesh" }, `mode: "mesh" is not a mode`},
		{"no interface", func(p *Params) { p.Interface = "" }, "interface: missing"},
		{"interface with a slash", func(p *Params) { p.Interface = "wlan0/x" }, "interface: "},
		{"interface too long", func(p *Params) { p.Interface = "wlx00c0ca123456ab" }, "interface: "},
		{"no SSID", func(p *Params) { p.SSID = "" }, "ssid: missing"},
		{"SSID too long", func(p *Params) { p.SSID = strings.Repeat("é", 17) }, "is 34 bytes long"},
		{"SSID with a newline", func(p *Params) { p.SSID = "a\nwpa=0" }, "ssid: "},
		{"SSID not UTF-8", func(p *Params) { p.SSID = "\xff" }, "ssid: is not valid UTF-8"},
		{"passphrase too short", func(p *Params) { p.Passphrase = "1234567" }, "passphrase: is 7 characters long"},
		{"passphrase too long", func(p *Params) { p.Passphrase = strings.Repeat("a", 64) }, "passphrase: is 64 characters long"},
		{"passphrase not ASCII", func(p *Params) { p.Passphrase = "mot de passé" }, "passphrase: character 12 is not printable ASCII"},
		{"passphrase with a newline", func(p *Params) { p.Passphrase = "12345678\nwpa=0" }, "passphrase: character 9"},
		{"no country", func(p *Params) { p.Country = "" }, "country: missing"},
		{"UK", func(p *Params) { p.Country = "UK" }, `"GB"`},
		{"unknown country", func(p *Params) { p.Country = "ZZ" }, `country: "ZZ" is not an ISO 3166`},
		{"country too long", func(p *Params) { p.Country = "FRA" }, `country: "FRA"`},
		{"channel 0", func(p *Params) { p.Channel = 0 }, "channel: 0 is not"},
		{"channel 14", func(p *Params) { p.Channel = 14 }, "channel: 14 is not a 2.4 GHz channel allowed here; use 1 to 13"},
		{"channel 12 in the US", func(p *Params) { p.Country, p.Channel = "US", 12 }, "use 1 to 11"},
		{"own-wifi without DHCP", func(p *Params) { p.DHCP = false }, "dhcp: must be on"},
		{"no address", func(p *Params) { p.Address = netip.Prefix{} }, "address: missing"},
		{"IPv6 address", func(p *Params) { p.Address = netip.MustParsePrefix("fd00::1/64") }, "not an IPv4 address"},
		{"network address", func(p *Params) { p.Address = netip.MustParsePrefix("10.42.0.0/24") }, "network's own address"},
		{"broadcast address", func(p *Params) { p.Address = netip.MustParsePrefix("10.42.0.255/24") }, "broadcast address"},
		{"prefix /31", func(p *Params) { p.Address = netip.MustParsePrefix("10.42.0.1/31") }, "prefix length"},
		{"range outside the subnet", func(p *Params) { p.DHCPEnd = netip.MustParseAddr("10.42.1.20") }, "dhcp_end: 10.42.1.20 is outside the box's network 10.42.0.0/24"},
		{"range in another subnet", func(p *Params) {
			p.DHCPStart, p.DHCPEnd = netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.1.20")
		}, "dhcp_start: 192.168.1.10 is outside"},
		{"range contains the box", func(p *Params) { p.DHCPStart = netip.MustParseAddr("10.42.0.1") }, "contains the box's own address 10.42.0.1"},
		{"range reversed", func(p *Params) {
			p.DHCPStart, p.DHCPEnd = p.DHCPEnd, p.DHCPStart
		}, "dhcp_end: 10.42.0.10 comes before dhcp_start 10.42.0.250"},
		{"range ends on broadcast", func(p *Params) { p.DHCPEnd = netip.MustParseAddr("10.42.0.255") }, "broadcast"},
		{"no range", func(p *Params) { p.DHCPStart = netip.Addr{} }, "dhcp_start: missing"},
		{"lease too short", func(p *Params) { p.Lease = time.Minute }, "lease: 1m0s is too short"},
		{"lease with milliseconds", func(p *Params) { p.Lease = time.Hour + time.Millisecond }, "whole number of seconds"},
		{"venue DHCP without address", func(p *Params) { *p = venueParams(); p.DHCP = true }, "address: missing"},
		{"HTTP port 0", func(p *Params) { p.HTTPPort = 0 }, "http port: 0 is not a port"},
		{"DNS port too big", func(p *Params) { p.DNSPort = 70000 }, "dns port: 70000 is not a port"},
		{"no DNS with DHCP", func(p *Params) { p.DNSPort = 0 }, "dns port: the daemon must answer DNS"},
		{"option 114 without URL", func(p *Params) { p.Option114 = true }, "portal API URL: missing"},
		{"option 114 relative URL", func(p *Params) { p.Option114, p.PortalAPIURL = true, "/api/captive" }, "not an absolute http(s) URL"},
		{"option 114 with a quote", func(p *Params) { p.Option114, p.PortalAPIURL = true, `http://a/"` }, "quote"},
		{"option 114 without DHCP", func(p *Params) {
			*p = venueParams()
			p.Option114, p.PortalAPIURL = true, "https://tiers.box/api/captive"
		}, "dhcp_option_114: needs dhcp = true"},
		{"relative binary", func(p *Params) { p.Binary = "tiersbox" }, `binary: "tiersbox" is not a clean absolute path`},
		{"data folder with a space", func(p *Params) { p.DataDir = "/var/lib/tiers box" }, "data folder: "},
		{"config with ..", func(p *Params) { p.ConfigFile = "/etc/../config.toml" }, "config file: "},
		{"root user", func(p *Params) { p.User = "root" }, "user: the daemon must not run as root"},
		{"bad user", func(p *Params) { p.User = "Tiers Box" }, "user: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ownWiFiParams()
			tt.change(&p)
			err := p.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("no error, want one containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error\n%v\nwant it to contain %q", err, tt.want)
			}
			if _, rerr := Render(p); (rerr == nil) != (err == nil) {
				t.Errorf("Render error %v, Validate error %v", rerr, err)
			}
			if err != nil && p.Passphrase != "" && strings.Contains(err.Error(), p.Passphrase) {
				t.Errorf("the error shows the passphrase: %v", err)
			}
		})
	}
}

// TestValidateAll: every problem is reported at once, one per line.
func TestValidateAll(t *testing.T) {
	p := ownWiFiParams()
	p.SSID = ""
	p.Channel = 14
	p.DHCPEnd = netip.MustParseAddr("10.43.0.1")
	err := p.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "firmware: ") {
		t.Errorf("want a heading and 3 problems, one per line:\n%v", err)
	}
}

func TestDeviceUnit(t *testing.T) {
	for iface, want := range map[string]string{
		"wlan0":           `sys-subsystem-net-devices-wlan0.device`,
		"wlx00c0ca9a1b2c": `sys-subsystem-net-devices-wlx00c0ca9a1b2c.device`,
		"br-lan":          `sys-subsystem-net-devices-br\x2dlan.device`,
		"eth0.10":         `sys-subsystem-net-devices-eth0.10.device`,
	} {
		if got := deviceUnit(iface); got != want {
			t.Errorf("deviceUnit(%q) = %s, want %s", iface, got, want)
		}
		if path, err := exec.LookPath("systemd-escape"); err == nil {
			out, err := exec.Command(path, "--path", "--suffix=device", "/sys/subsystem/net/devices/"+iface).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("systemd-escape says %s for %q, deviceUnit %s", got, iface, want)
			}
		}
	}
}

func TestWrite(t *testing.T) {
	root := t.TempDir()
	files, err := Render(ownWiFiParams())
	if err != nil {
		t.Fatal(err)
	}

	changed, err := Write(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != len(files) {
		t.Errorf("first Write changed %v, want all %d files", changed, len(files))
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s: wrong content", f.Path)
		}
		info, err := os.Stat(filepath.Join(root, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", f.Path, info.Mode().Perm(), f.Mode)
		}
	}
	before := snapshot(t, root)

	// The same files again: nothing changes, not even a modification time.
	changed, err = Write(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 0 {
		t.Errorf("second Write changed %v", changed)
	}
	if after := snapshot(t, root); !maps.Equal(before, after) {
		t.Errorf("second Write touched the tree:\nbefore %v\nafter  %v", before, after)
	}

	// One file differs in content, another only in mode.
	p := ownWiFiParams()
	p.Channel = 1
	files2, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, pathNftables), 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err = Write(root, files2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{pathNftables, pathHostapd}; !slices.Equal(changed, want) {
		t.Errorf("changed %v, want %v", changed, want)
	}
	if info, _ := os.Stat(filepath.Join(root, pathNftables)); info.Mode().Perm() != 0o644 {
		t.Errorf("mode of %s not restored: %v", pathNftables, info.Mode())
	}

	// No temporary file is left behind.
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("left behind: %s", path)
		}
		return nil
	})
}

// TestWriteAtomic: a file is replaced by rename, never rewritten in place,
// so a reader (or a power cut) sees the old or the new content, whole.
func TestWriteAtomic(t *testing.T) {
	root := t.TempDir()
	path := "/etc/tiersbox/x.conf"
	if _, err := Write(root, []File{{Path: path, Mode: 0o644, Data: []byte("old\n")}}); err != nil {
		t.Fatal(err)
	}
	// An open handle keeps the old inode: after an atomic replace it still
	// reads the old content.
	old, err := os.Open(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := Write(root, []File{{Path: path, Mode: 0o644, Data: []byte("new\n")}}); err != nil {
		t.Fatal(err)
	}
	var buf [16]byte
	n, _ := old.Read(buf[:])
	if got := string(buf[:n]); got != "old\n" {
		t.Errorf("the old file was rewritten in place: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(root, path)); string(got) != "new\n" {
		t.Errorf("new content %q", got)
	}
}

func TestWriteErrors(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		files []File
		want  string
	}{
		{"relative path", []File{{Path: "etc/x", Mode: 0o644}}, "not a clean absolute file path"},
		{"dot-dot", []File{{Path: "/etc/../../x", Mode: 0o644}}, "not a clean absolute file path"},
		{"twice", []File{{Path: "/a", Mode: 0o644}, {Path: "/a", Mode: 0o644}}, "given twice"},
		{"directory mode", []File{{Path: "/a", Mode: fs.ModeDir | 0o755}}, "not a regular file's"},
		{"symlink out of root", []File{{Path: "/etc/x", Mode: 0o644, Data: []byte("x")}}, "escapes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Write(root, tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("Write wrote outside its root: %v", entries)
	}
}

// snapshot maps each path under root to its mode, size, modification time
// and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		s := fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s += " " + string(data)
		}
		m[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
