package firmware

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWiFiRequestCheck(t *testing.T) {
	tests := []struct {
		name    string
		r       WiFiRequest
		country string
		wantErr string // "" for none
	}{
		{"open", WiFiRequest{SSID: "Fablab", Channel: 6}, "FR", ""},
		{"wpa2", WiFiRequest{SSID: "Médiathèque", Passphrase: "12345678", Channel: 13}, "FR", ""},
		{"longest passphrase", WiFiRequest{SSID: "x", Passphrase: strings.Repeat("a", 63), Channel: 1}, "FR", ""},
		{"no name", WiFiRequest{Channel: 6}, "FR", "ssid: missing"},
		{"name too long", WiFiRequest{SSID: strings.Repeat("é", 17), Channel: 6}, "FR", "ssid:"},
		{"newline in name", WiFiRequest{SSID: "a\nwpa=0", Channel: 6}, "FR", "control character"},
		{"short passphrase", WiFiRequest{SSID: "x", Passphrase: "1234567", Channel: 6}, "FR", "passphrase: is 7 characters long"},
		{"long passphrase", WiFiRequest{SSID: "x", Passphrase: strings.Repeat("a", 64), Channel: 6}, "FR", "passphrase: is 64"},
		{"accent in passphrase", WiFiRequest{SSID: "x", Passphrase: "mot de passé", Channel: 6}, "FR", "not printable ASCII"},
		{"channel 0", WiFiRequest{SSID: "x", Channel: 0}, "FR", "channel: 0 is not"},
		{"channel 14", WiFiRequest{SSID: "x", Channel: 14}, "FR", "use 1 to 13"},
		{"channel 12 in Canada", WiFiRequest{SSID: "x", Channel: 12}, "ca", "use 1 to 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Check(tt.country)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
			}
			if err != nil && tt.r.Passphrase != "" && strings.Contains(err.Error(), tt.r.Passphrase) {
				t.Errorf("the error quotes the passphrase: %v", err)
			}
		})
	}
}

func TestWiFiRequestFile(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := ReadWiFiRequest(dir); ok || err != nil {
		t.Fatalf("no file: ok %v, %v", ok, err)
	}
	want := WiFiRequest{SSID: "Café \"libre\"", Passphrase: `p\ss;w:rd`, Channel: 11}
	if err := WriteWiFiRequest(dir, "FR", want); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, WiFiRequestFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v: the file holds the passphrase", info.Mode())
	}
	got, ok, err := ReadWiFiRequest(dir)
	if err != nil || !ok || got != want {
		t.Fatalf("read back %+v %v %v, want %+v", got, ok, err, want)
	}

	// A bad request never reaches the file.
	if err := WriteWiFiRequest(dir, "FR", WiFiRequest{SSID: "x", Passphrase: "short", Channel: 6}); err == nil {
		t.Fatal("a 5-character passphrase was written")
	}
	if got, _, _ := ReadWiFiRequest(dir); got != want {
		t.Errorf("a refused request changed the file: %+v", got)
	}

	// Another program's file is read strictly.
	for _, bad := range []string{`{"ssid":"x","channel":6,"extra":1}`, `{"ssid":"x"} {}`, `[]`, `not json`} {
		os.WriteFile(filepath.Join(dir, WiFiRequestFile), []byte(bad), 0o600)
		if _, _, err := ReadWiFiRequest(dir); err == nil {
			t.Errorf("read %q without an error", bad)
		}
	}
}

// TestRenderWiFiRequest: the requested WiFi, applied to the config as
// network-config does, is what hostapd's file carries.
func TestRenderWiFiRequest(t *testing.T) {
	c := Config{Mode: "own-wifi", Interface: "wlan0", SSID: "tiersbox", Country: "FR", Channel: 6,
		Address: "10.42.0.1/24", DHCP: true, DHCPStart: "10.42.0.10", DHCPEnd: "10.42.0.250", Lease: "12h"}
	c = WiFiRequest{SSID: "Atelier partagé", Passphrase: "ouvert a tous", Channel: 11}.Apply(c)
	p, err := c.Params(Daemon{HTTPListen: ":80", DNSListen: ":53"})
	if err != nil {
		t.Fatal(err)
	}
	p.Binary, p.DataDir, p.ConfigFile, p.User = "/usr/local/bin/tiersbox", "/var/lib/tiersbox", "/etc/tiersbox/config.toml", "tiersbox"
	files := renderCase(t, p)
	hostapd := string(files[pathHostapd].Data)
	for _, want := range []string{"\nssid=Atelier partagé\nutf8_ssid=1\n", "\nchannel=11\n", "\nwpa=2\n", "\nwpa_passphrase=ouvert a tous\n"} {
		if !strings.Contains(hostapd, want) {
			t.Errorf("hostapd.conf lacks %q:\n%s", want, hostapd)
		}
	}
	path := string(files[pathWiFiPath].Data)
	if !strings.Contains(path, "\nPathChanged=/var/lib/tiersbox/wifi-request.json\n") || !strings.Contains(path, "\nUnit=tiersbox-wifi.service\n") {
		t.Errorf("path unit:\n%s", path)
	}
	unit := string(files[pathWiFiUnit].Data)
	for _, want := range []string{
		"\nType=oneshot\n",
		"\nExecStart=/usr/local/bin/tiersbox network-config --config /etc/tiersbox/config.toml --data /var/lib/tiersbox --binary /usr/local/bin/tiersbox --user tiersbox\n",
		"\nExecStart=/usr/bin/systemctl try-restart tiersbox-hostapd.service\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("tiersbox-wifi.service lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(unit, "\nUser=") {
		t.Error("tiersbox-wifi.service must run as root: it rewrites /etc/hostapd and restarts hostapd")
	}
}

// FuzzDecodeWiFiRequest: whatever the file holds, a request that decodes
// and passes Check renders a hostapd file with exactly one ssid line and
// at most one passphrase line, so that nothing in the file can add a
// setting of its own to hostapd's configuration.
func FuzzDecodeWiFiRequest(f *testing.F) {
	f.Add([]byte(`{"ssid":"tiersbox","passphrase":"","channel":6}`))
	f.Add([]byte(`{"ssid":"Café","passphrase":"12345678","channel":11}`))
	f.Add([]byte(`{"ssid":"a\nwpa=0","passphrase":"12345678\nx=1","channel":6}`))
	f.Add([]byte(`{"ssid":"x","channel":6} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeWiFiRequest(data)
		if err != nil {
			return
		}
		if r.Check("FR") != nil {
			return
		}
		p := ownWiFiParams()
		p.SSID, p.Passphrase, p.Channel = r.SSID, r.Passphrase, r.Channel
		files, err := Render(p)
		if err != nil {
			t.Fatalf("checked request %+v does not render: %v", r, err)
		}
		for _, file := range files {
			if file.Path != pathHostapd {
				continue
			}
			text := string(file.Data)
			if n := strings.Count(text, "\nssid="); n != 1 {
				t.Fatalf("%d ssid lines for %+v", n, r)
			}
			if n := strings.Count(text, "\nwpa_passphrase="); n > 1 {
				t.Fatalf("%d passphrase lines for %+v", n, r)
			}
			if n := strings.Count(text, "\nchannel="); n != 1 {
				t.Fatalf("%d channel lines for %+v", n, r)
			}
		}
	})
}
