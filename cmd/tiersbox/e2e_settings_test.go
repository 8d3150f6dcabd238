//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"tiersbox/firmware"
)

// TestE2ESettings: staff log in with a browser and watch the dashboard
// count a visitor, a pad and a file; they rename the venue and rewrite
// the house rules, which a visitor sees at once on the welcome page; they
// offer English only, and the French switch disappears; they change the
// WiFi, which leaves a request in the data folder that `tiersbox
// network-config` turns into hostapd's file, and the poster's QR code
// joins the new network.
func TestE2ESettings(t *testing.T) {
	requireE2E(t)
	const pw = "le mot de passe de l'équipe"
	data := initBox(t, "Le Fablab", pw)
	conf := filepath.Join(t.TempDir(), "config.toml")
	// The box opens its own WiFi, as installed; the daemon under test
	// answers no DNS (--dns ""), which port 53 would need.
	config := "[dns]\nlisten = \":53\"\n\n[network]\nmode = \"own-wifi\"\nssid = \"tiersbox\"\ncountry = \"FR\"\nchannel = 6\n"
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--data", data, "--config", conf, "--http", "127.0.0.1:0", "--dns", "")
	defer d.stop(t, os.Interrupt)
	hostPort := d.hostPort()

	staff := browser(t, hostPort)
	runBrowser(t, staff, "staff log in",
		chromedp.Navigate("http://tiers.box/admin"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.CSS(`form[action="/admin/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("dash-title")),
	)
	figure := func(id string) string {
		t.Helper()
		return evalString(t, staff, `document.getElementById("`+id+`").textContent`)
	}
	if now, today, pads, drive := figure("dash-now"), figure("dash-today"), figure("dash-pads"), figure("dash-drive"); now != "0" || today != "0" || pads != "0" || !strings.HasPrefix(drive, "0 fichiers") {
		t.Errorf("a new box's dashboard: now %s, today %s, pads %s, drive %s", now, today, pads, drive)
	}
	for _, id := range []string{"dash-free", "dash-uptime", "dash-version", "dash-channels"} {
		if figure(id) == "" {
			t.Errorf("the dashboard shows no %s", id)
		}
	}

	// A visitor enters, starts a pad and adds a file.
	file := filepath.Join(t.TempDir(), "plan.txt")
	if err := os.WriteFile(file, []byte("le plan de l'atelier\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	visitor := browser(t, hostPort)
	runBrowser(t, visitor, "a visitor enters, starts a pad and adds a file", enterSteps("Ana",
		chromedp.Navigate("http://tiers.box/pads"),
		chromedp.WaitVisible(chromedp.ID("title")),
		chromedp.SendKeys(chromedp.ID("title"), "Atelier vélo"),
		chromedp.Click(chromedp.CSS(`form[action="/pads"] button[type="submit"]`)),
		chromedp.WaitReady(chromedp.ID("pad-plain")),
		chromedp.Navigate("http://tiers.box/drive"),
		chromedp.WaitVisible(chromedp.ID("drive-form")),
		chromedp.SetUploadFiles(chromedp.ID("drive-file"), []string{file}),
		chromedp.Click(chromedp.CSS(`#drive-form button[type="submit"]`)),
	)...)
	waitJS(t, visitor, "the file was added", `document.querySelector("p.done[role=status]") !== null`)

	runBrowser(t, staff, "staff look at the dashboard again",
		chromedp.Navigate("http://tiers.box/admin"), chromedp.WaitVisible(chromedp.ID("dash-title")))
	if now, today, pads, drive := figure("dash-now"), figure("dash-today"), figure("dash-pads"), figure("dash-drive"); now != "1" || today != "1" || pads != "1" || !strings.HasPrefix(drive, "1 fichier, 21 o") {
		t.Errorf("after a visitor: now %s, today %s, pads %s, drive %s", now, today, pads, drive)
	}

	// The venue's name and rules.
	saveSettings := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		steps := append([]chromedp.Action[chromedp.Void]{
			chromedp.Navigate("http://tiers.box/admin/settings"),
			chromedp.WaitVisible(chromedp.ID("venue")),
		}, actions...)
		steps = append(steps, chromedp.Click(chromedp.CSS(`form.settings button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`p.done[role="status"]`)))
		runBrowser(t, staff, what, steps...)
	}
	saveSettings("staff rename the venue and rewrite the rules",
		chromedp.SetValue(chromedp.ID("venue"), "Café des Possibles"),
		chromedp.SetValue(chromedp.ID("rules"), "Bienvenue au **café** !\n\n- Rangez les outils"),
	)
	runBrowser(t, visitor, "the visitor opens the welcome page",
		chromedp.Navigate("http://tiers.box/welcome"), chromedp.WaitVisible(chromedp.ID("nickname")))
	if h1, rules := evalString(t, visitor, `document.querySelector("h1").textContent`), evalString(t, visitor, `document.querySelector(".rules").innerHTML`); h1 != "Café des Possibles" ||
		!strings.Contains(rules, "<strong>café</strong>") || !strings.Contains(rules, "<li>Rangez les outils</li>") {
		t.Errorf("welcome page: h1 %q, rules %q", h1, rules)
	}
	if lang := evalString(t, visitor, `document.documentElement.lang + " " + (document.querySelector('a[hreflang="en"]') !== null)`); lang != "fr true" {
		t.Errorf("before: language %q", lang)
	}

	// English only: no switch to French.
	saveSettings("staff offer English only", chromedp.SetValue(chromedp.ID("languages"), "en"))
	runBrowser(t, visitor, "the visitor opens the welcome page again",
		chromedp.Navigate("http://tiers.box/welcome"), chromedp.WaitVisible(chromedp.ID("nickname")))
	if lang := evalString(t, visitor, `document.documentElement.lang + " " + (document.querySelector('a[hreflang="fr"], nav.langs') !== null) + " " + document.querySelector("button[type=submit]").textContent`); lang != "en false Enter" {
		t.Errorf("English only: %q", lang)
	}

	// The WiFi.
	saveSettings("staff change the WiFi",
		chromedp.SetValue(chromedp.ID("ssid"), "Café libre"),
		chromedp.Click(chromedp.ID("security-wpa2")),
		chromedp.SetValue(chromedp.ID("passphrase"), "ouvert a tous"),
		chromedp.SetValue(chromedp.ID("channel"), "11"),
	)
	if done := evalString(t, staff, `document.querySelector("p.done").textContent`); !strings.Contains(done, "Café libre") || !strings.Contains(done, "disconnected") {
		t.Errorf("after the WiFi change the page says %q", done)
	}
	req, ok, err := firmware.ReadWiFiRequest(data)
	if want := (firmware.WiFiRequest{SSID: "Café libre", Passphrase: "ouvert a tous", Channel: 11}); err != nil || !ok || req != want {
		t.Fatalf("WiFi request %+v %v %v, want %+v", req, ok, err, want)
	}
	// What tiersbox-wifi.service runs, as root on the Pi.
	root := t.TempDir()
	out, stderr, code := tiersbox(t, "", "network-config", "--config", conf, "--data", data, "--root", root)
	if code != 0 {
		t.Fatalf("network-config: %d %s", code, stderr)
	}
	hostapd, err := os.ReadFile(filepath.Join(root, "etc/hostapd/tiersbox.conf"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"\nssid=Café libre\nutf8_ssid=1\n", "\nchannel=11\n", "\nwpa=2\n", "\nwpa_passphrase=ouvert a tous\n"} {
		if !strings.Contains(string(hostapd), want) {
			t.Errorf("hostapd.conf lacks %q:\n%s", want, hostapd)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/tiersbox-wifi.path"))
	if !strings.Contains(string(unit), "\nPathChanged="+filepath.Join(data, firmware.WiFiRequestFile)+"\n") {
		t.Errorf("the path unit does not watch the request:\n%s", unit)
	}

	// Both staff pages fit a 320 px wide phone.
	for _, page := range []string{"/admin", "/admin/settings"} {
		runBrowser(t, staff, "staff open "+page+" on a narrow phone",
			chromedp.EmulateViewport(320, 640),
			chromedp.Navigate("http://tiers.box"+page), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := evalString(t, staff, `String(document.documentElement.scrollWidth)`); w != "320" {
			t.Errorf("%s is %s px wide on a 320 px screen", page, w)
		}
	}
	runBrowser(t, staff, "back to a wide screen", chromedp.EmulateViewport(1280, 900))

	// The poster joins the new network.
	runBrowser(t, staff, "staff open the poster",
		chromedp.Navigate("http://tiers.box/admin/poster"), chromedp.WaitVisible(chromedp.CSS(".poster")))
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg is not installed (apt-get install zbar-tools): the QR code cannot be read back")
	}
	tctx, cancel := context.WithTimeout(staff, 30e9)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.Screenshot(chromedp.CSS(".poster-step:nth-of-type(1) .poster-qr")))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	qr, err := exec.Command(zbarimg, "-q", "--raw", "-Sbinary", "--nodbus", shot).Output()
	if got, want := strings.TrimSuffix(string(qr), "\n"), "WIFI:T:WPA;S:Café libre;P:ouvert a tous;;"; err != nil || got != want {
		t.Errorf("the poster's WiFi QR code reads %q (%v), want %q", got, err, want)
	}
}
