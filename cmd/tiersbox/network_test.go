package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tiersbox/firmware"
)

// TestExampleConfigLoads checks that the file install.sh copies to
// /etc/tiersbox/config.toml is one the daemon accepts as it is.
func TestExampleConfigLoads(t *testing.T) {
	f := commonFlags{config: "../../firmware/config.example.toml"}
	c, err := f.load()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != ":80" || c.DNS.Listen != ":53" || c.Network.Mode != "own-wifi" {
		t.Errorf("example config: %+v", c)
	}
	if _, err := networkParams(c); err != nil {
		t.Errorf("network params: %v", err)
	}
}

func TestNetworkConfig(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(t.TempDir(), "config.toml")
	example, err := os.ReadFile("../../firmware/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), `ssid = "tiersbox"`, `ssid = "Fablab libre"`, 1)
	os.WriteFile(conf, []byte(text), 0o600)

	stdout, stderr, code := tiersbox(t, "", "network-config", "--config", conf, "--root", root)
	if code != 0 {
		t.Fatalf("network-config: %d %s", code, stderr)
	}
	for _, f := range []string{
		"etc/systemd/system/tiersbox.service",
		"etc/hostapd/tiersbox.conf",
		"etc/dnsmasq.d/tiersbox.conf",
		"etc/nftables.d/tiersbox.nft",
	} {
		if !strings.Contains(stdout, "/"+f) {
			t.Errorf("output does not name %s:\n%s", f, stdout)
		}
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("not written: %v", err)
		}
	}
	hostapd, _ := os.ReadFile(filepath.Join(root, "etc/hostapd/tiersbox.conf"))
	if !strings.Contains(string(hostapd), "ssid=Fablab libre\n") {
		t.Errorf("hostapd config does not carry the SSID:\n%s", hostapd)
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/tiersbox.service"))
	if !strings.Contains(string(unit), "run --data /var/lib/tiersbox --config "+conf) {
		t.Errorf("unit does not run the daemon on the installed data:\n%s", unit)
	}

	// Run twice: nothing changes.
	stdout, _, code = tiersbox(t, "", "network-config", "--config", conf, "--root", root)
	if code != 0 || !strings.Contains(stdout, "already up to date") {
		t.Errorf("second run: %d %q", code, stdout)
	}

	// A bad passphrase is refused with the key named, and the files
	// already written stay as they were.
	bad := strings.Replace(text, `passphrase = ""`, `passphrase = "short"`, 1)
	os.WriteFile(conf, []byte(bad), 0o600)
	_, stderr, code = tiersbox(t, "", "network-config", "--config", conf, "--root", root)
	if code != 1 || !strings.Contains(stderr, "passphrase") || strings.Contains(stderr, "short") {
		t.Errorf("bad passphrase: %d %q", code, stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(root, "etc/hostapd/tiersbox.conf")); string(again) != string(hostapd) {
		t.Error("a refused config changed the files")
	}

	_, stderr, code = tiersbox(t, "", "network-config")
	if code != 2 || !strings.Contains(stderr, "--config") {
		t.Errorf("without --config: %d %q", code, stderr)
	}
}

// TestNetworkConfigWiFiRequest: the WiFi staff chose on the settings page
// replaces the config's, once checked again.
func TestNetworkConfigWiFiRequest(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "config.toml")
	example, err := os.ReadFile("../../firmware/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, example, 0o600)
	data := t.TempDir()
	request := filepath.Join(data, firmware.WiFiRequestFile)
	hostapd := func(root string) string {
		b, _ := os.ReadFile(filepath.Join(root, "etc/hostapd/tiersbox.conf"))
		return string(b)
	}

	if err := firmware.WriteWiFiRequest(data, "FR", firmware.WiFiRequest{SSID: "Café libre", Passphrase: "ouvert a tous", Channel: 1}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, stderr, code := tiersbox(t, "", "network-config", "--config", conf, "--data", data, "--root", root); code != 0 {
		t.Fatalf("network-config: %d %s", code, stderr)
	}
	for _, want := range []string{"\nssid=Café libre\n", "\nchannel=1\n", "\nwpa_passphrase=ouvert a tous\n"} {
		if !strings.Contains(hostapd(root), want) {
			t.Errorf("hostapd.conf lacks %q", want)
		}
	}

	// A request the daemon would never write is refused, naming the
	// file, and nothing is written.
	os.WriteFile(request, []byte(`{"ssid":"x\nwpa=0","passphrase":"","channel":6}`), 0o600)
	root = t.TempDir()
	_, stderr, code := tiersbox(t, "", "network-config", "--config", conf, "--data", data, "--root", root)
	if code != 1 || !strings.Contains(stderr, request) || !strings.Contains(stderr, "control character") {
		t.Errorf("bad request: %d %q", code, stderr)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a refused request wrote %v", entries)
	}

	// In venue mode there is no access point: the request is ignored.
	venue := "[network]\nmode = \"venue\"\ninterface = \"eth0\"\naddress = \"\"\ndhcp = false\n"
	os.WriteFile(conf, []byte(venue), 0o600)
	if _, stderr, code := tiersbox(t, "", "network-config", "--config", conf, "--data", data, "--root", t.TempDir()); code != 0 {
		t.Errorf("venue mode with a request: %d %s", code, stderr)
	}
}
