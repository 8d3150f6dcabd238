package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tiersbox/box/settings"
	"tiersbox/firmware"
)

// settingsBox is a staff box whose access point is its own (WiFi
// "tiersbox", open, channel 6, in France), logged in.
func settingsBox(t *testing.T, with ...func(*Options)) (*testBox, *http.Cookie, string) {
	t.Helper()
	dir := t.TempDir()
	b, _ := newStaffBox(t, staffPassword, append([]func(*Options){func(o *Options) {
		o.WiFi = WiFi{SSID: "tiersbox", Own: true, Country: "FR", Channel: 6}
		o.WiFiRequestDir = dir
	}}, with...)...)
	_, _, c := b.login(staffPassword)
	if c == nil {
		t.Fatal("no staff session")
	}
	return b, c, dir
}

// settingsForm is a valid form, the box's WiFi unchanged.
func validSettings() url.Values {
	return url.Values{
		"venue": {"La Fabrique"}, "description": {"Un fablab de quartier"}, "rules": {"Rangez les outils."},
		"languages": {"fr,en"}, "licence": {"CC BY 4.0"}, "session_hours": {"24"}, "retention_days": {"0"},
		"ssid": {"tiersbox"}, "security": {"open"}, "passphrase": {""}, "channel": {"6"},
	}
}

func (b *testBox) postSettings(c *http.Cookie, form url.Values, header map[string]string) (*http.Response, string) {
	b.t.Helper()
	return b.do(req{method: "POST", target: "/admin/settings", form: form, cookies: []*http.Cookie{c}, header: header})
}

func TestSettingsStaffOnly(t *testing.T) {
	b, _, dir := settingsBox(t)
	res, _ := b.do(req{target: "/admin/settings"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin?next=%2Fadmin%2Fsettings" {
		t.Errorf("a visitor asking for the page: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	form := validSettings()
	form.Set("venue", "Pirate")
	form.Set("ssid", "Pirate")
	res, _ = b.do(req{method: "POST", target: "/admin/settings", form: form})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a visitor's POST: %d", res.StatusCode)
	}
	res, _ = b.do(req{method: "POST", target: "/admin/settings", form: form, cookies: []*http.Cookie{{Name: staffCookie, Value: strings.Repeat("a", 64)}}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a forged staff cookie: %d", res.StatusCode)
	}
	checkUnchanged(t, b, dir)
}

func TestSettingsCrossOrigin(t *testing.T) {
	b, c, dir := settingsBox(t)
	form := validSettings()
	form.Set("venue", "Pirate")
	form.Set("ssid", "Pirate")
	res, _ := b.postSettings(c, form, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin POST: %d", res.StatusCode)
	}
	checkUnchanged(t, b, dir)
}

// checkUnchanged fails if the settings or the WiFi request changed.
func checkUnchanged(t *testing.T, b *testBox, dir string) {
	t.Helper()
	st, err := settings.Load(b.st)
	if err != nil {
		t.Fatal(err)
	}
	if st.Venue != "La Fabrique" || st.Rules != "" || st.Languages != "" || st.SessionHours != 0 {
		t.Errorf("the settings changed: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, firmware.WiFiRequestFile)); !os.IsNotExist(err) {
		t.Errorf("a WiFi request was written (%v)", err)
	}
	if b.srv.wifi.get().SSID != "tiersbox" {
		t.Errorf("the WiFi changed: %+v", b.srv.wifi.get())
	}
}

func TestSettingsPage(t *testing.T) {
	b, c, _ := settingsBox(t)
	for _, lang := range []string{"fr", "en"} {
		res, body := b.do(req{target: "/admin/settings", cookies: []*http.Cookie{c, {Name: langCookie, Value: lang}}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", lang, res.StatusCode)
		}
		for _, want := range []string{
			`<form method="post" action="/admin/settings"`, `value="La Fabrique"`, `<label for="venue">`,
			`<label for="rules">`, `<option value="fr,en" selected>`, `<option value="CC BY-SA 4.0" selected>`,
			`id="session_hours" name="session_hours" type="number" inputmode="numeric" min="1" max="720" value="24"`,
			`id="retention_days" name="retention_days" type="number" inputmode="numeric" min="0" max="3650" value="0"`,
			`value="tiersbox"`, `<option value="6" selected>6</option>`, `<option value="13">13</option>`,
			`id="security-open" name="security" type="radio" value="open" checked`,
			translate(lang, "settings.wifi.warning", "tiersbox"),
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q", lang, want)
			}
		}
	}
	// The staff home links to it.
	if _, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c}}); !strings.Contains(body, `<a href="/admin/settings">`) {
		t.Error("the staff home does not link to the settings")
	}
}

// TestSettingsSave: a saved change shows at once to visitors.
func TestSettingsSave(t *testing.T) {
	b, c, dir := settingsBox(t)
	form := validSettings()
	form.Set("venue", "  Le Café des Possibles ")
	form.Set("description", "Un tiers-lieu")
	form.Set("rules", "Bienvenue !\r\n\r\n- Rangez les **outils**\r\n- Pas de <script>alert(1)</script>")
	form.Set("licence", "CC0 1.0")
	form.Set("session_hours", "8")
	form.Set("retention_days", "30")
	res, _ := b.postSettings(c, form, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/settings?done=saved" {
		t.Fatalf("save: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	st, _ := settings.Load(b.st)
	if st.Venue != "Le Café des Possibles" || st.Licence != "CC0 1.0" || st.SessionHours != 8 || st.ChatRetentionDays != 30 || st.Languages != "fr,en" {
		t.Errorf("saved %+v", st)
	}
	if got := b.visitors.SessionLength(); got != 8*time.Hour {
		t.Errorf("session length %v, want 8h", got)
	}
	// Unchanged WiFi: no request, visitors stay connected.
	if _, err := os.Stat(filepath.Join(dir, firmware.WiFiRequestFile)); !os.IsNotExist(err) {
		t.Errorf("an unchanged WiFi was requested again (%v)", err)
	}
	if _, body := b.do(req{target: "/admin/settings?done=saved", cookies: []*http.Cookie{c}}); !strings.Contains(body, "Réglages enregistrés.") {
		t.Error("no confirmation after saving")
	}

	_, body := b.do(req{target: "/welcome"})
	for _, want := range []string{"<h1>Le Café des Possibles</h1>", "Un tiers-lieu", "<p>Bienvenue !</p>",
		"<li>Rangez les <strong>outils</strong></li>", "8 h"} {
		if !strings.Contains(body, want) {
			t.Errorf("welcome page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("HTML in the rules reached the page")
	}
	res, _ = b.do(req{method: "POST", target: "/enter", form: url.Values{"nickname": {"Ana"}}})
	res, body = b.do(req{target: "/", cookies: res.Cookies()})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `<a href="/">Le Café des Possibles</a>`) {
		t.Errorf("home page: %d, lacks the new name", res.StatusCode)
	}
	v, err := b.visitors.ByClient(netip.MustParseAddr("10.42.0.50"), "")
	if err != nil || v.Expires.Sub(v.Entered) != 8*time.Hour {
		t.Errorf("a new session lasts %v (%v), want 8h", v.Expires.Sub(v.Entered), err)
	}
}

func TestSettingsErrors(t *testing.T) {
	tests := []struct {
		name  string
		set   map[string]string
		field string // the field marked wrong
		want  string // its message, in French
	}{
		{"no venue", map[string]string{"venue": "  "}, "venue", "Donnez un nom au lieu."},
		{"venue too long", map[string]string{"venue": strings.Repeat("a", 65)}, "venue", "au plus 64 caractères"},
		{"venue with a tab", map[string]string{"venue": "a\tb"}, "venue", "Pas de retour à la ligne"},
		{"description too long", map[string]string{"description": strings.Repeat("é", 501)}, "description", "Au plus 500 caractères."},
		{"rules too long", map[string]string{"rules": strings.Repeat("a", 5001)}, "rules", "Au plus 5000 caractères."},
		{"unknown languages", map[string]string{"languages": "de"}, "languages", "Choisissez une des propositions"},
		{"unknown licence", map[string]string{"licence": "WTFPL"}, "licence", "Choisissez une des propositions"},
		{"session zero", map[string]string{"session_hours": "0"}, "session_hours", "Un nombre entier de 1 à 720."},
		{"session not a number", map[string]string{"session_hours": "douze"}, "session_hours", "Un nombre entier de 1 à 720."},
		{"negative retention", map[string]string{"retention_days": "-1"}, "retention_days", "Un nombre entier de 0 à 3650."},
		{"no WiFi name", map[string]string{"ssid": ""}, "ssid", "Donnez un nom au réseau."},
		{"WiFi name too long", map[string]string{"ssid": strings.Repeat("é", 17)}, "ssid", "32 octets au plus"},
		{"WiFi name with a newline", map[string]string{"ssid": "a\nwpa=0"}, "ssid", "caractère de contrôle"},
		{"WPA2 without a passphrase", map[string]string{"security": "wpa2"}, "passphrase", "choisissez un réseau ouvert"},
		{"short passphrase", map[string]string{"security": "wpa2", "passphrase": "1234567"}, "passphrase", "de 8 à 63 caractères"},
		{"long passphrase", map[string]string{"security": "wpa2", "passphrase": strings.Repeat("a", 64)}, "passphrase", "de 8 à 63 caractères"},
		{"accented passphrase", map[string]string{"security": "wpa2", "passphrase": "mot de passé"}, "passphrase", "sans accents"},
		{"channel 14", map[string]string{"channel": "14"}, "channel", "Un nombre entier de 1 à 13."},
		{"unknown security", map[string]string{"security": "wep"}, "security", "Choisissez une des propositions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c, dir := settingsBox(t)
			form := validSettings()
			form.Set("rules", "Ce que j’ai tapé")
			for k, v := range tt.set {
				form.Set(k, v)
			}
			res, body := b.postSettings(c, form, nil)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d", res.StatusCode)
			}
			if !strings.Contains(body, "Rien n’a été enregistré") {
				t.Error("no summary of the error")
			}
			msg := `<span class="error" id="` + tt.field + `-error">`
			if tt.field == "security" {
				msg = `<p class="error" id="security-error">`
			}
			if i := strings.Index(body, msg); i < 0 || !strings.Contains(body[i:], tt.want) || strings.Index(body[i:], tt.want) > 200 {
				t.Errorf("no message %q beside %s", tt.want, tt.field)
			}
			if tt.field != "security" && !strings.Contains(body, `aria-describedby="`) {
				t.Error("no aria-describedby")
			}
			// What was typed is kept.
			if _, own := tt.set["rules"]; !own && !strings.Contains(body, ">Ce que j’ai tapé</textarea>") {
				t.Error("the rules typed were lost")
			}
			checkUnchanged(t, b, dir)
		})
	}
}

// TestSettingsErrorsEnglish: the messages follow the staff's language.
func TestSettingsErrorsEnglish(t *testing.T) {
	b, c, _ := settingsBox(t)
	form := validSettings()
	form.Set("venue", "")
	form.Set("security", "wpa2")
	form.Set("passphrase", "short")
	res, body := b.do(req{method: "POST", target: "/admin/settings", form: form, cookies: []*http.Cookie{c, {Name: langCookie, Value: "en"}}})
	for _, want := range []string{"Nothing was saved", "Give the venue a name.", "A WPA2 password has 8 to 63 characters."} {
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%d, lacks %q", res.StatusCode, want)
		}
	}
}

func TestSettingsLanguages(t *testing.T) {
	b, c, _ := settingsBox(t)
	save := func(langs string) {
		t.Helper()
		form := validSettings()
		form.Set("languages", langs)
		if res, _ := b.postSettings(c, form, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("save %s: %d", langs, res.StatusCode)
		}
	}
	welcome := func(header map[string]string, cookies ...*http.Cookie) string {
		t.Helper()
		_, body := b.do(req{target: "/welcome", header: header, cookies: cookies})
		return body
	}
	frBrowser := map[string]string{"Accept-Language": "fr-FR,fr;q=0.9"}

	save("en")
	for name, body := range map[string]string{
		"no preference":  welcome(nil),
		"French browser": welcome(frBrowser),
		"French chosen":  welcome(nil, &http.Cookie{Name: langCookie, Value: "fr"}),
		"French, both":   welcome(frBrowser, &http.Cookie{Name: langCookie, Value: "fr"}),
	} {
		if !strings.Contains(body, `<html lang="en">`) || strings.Contains(body, `class="langs"`) || strings.Contains(body, "lang?to=fr") {
			t.Errorf("English only, %s: not English, or a language switch", name)
		}
	}

	save("en,fr")
	if body := welcome(nil); !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "lang?to=fr") {
		t.Error("English first: no preference does not get English with a switch to French")
	}
	if body := welcome(frBrowser); !strings.Contains(body, `<html lang="fr">`) {
		t.Error("English first: a French browser does not get French")
	}

	save("fr")
	if body := welcome(map[string]string{"Accept-Language": "en"}, &http.Cookie{Name: langCookie, Value: "en"}); !strings.Contains(body, `<html lang="fr">`) || strings.Contains(body, `class="langs"`) {
		t.Error("French only: English asked for is still served, or a switch shows")
	}
}

func TestSettingsWiFi(t *testing.T) {
	b, c, dir := settingsBox(t)
	form := validSettings()
	form.Set("ssid", "Atelier partagé")
	form.Set("security", "wpa2")
	form.Set("passphrase", "ouvert a tous")
	form.Set("channel", "11")
	res, _ := b.postSettings(c, form, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/settings?done=wifi" {
		t.Fatalf("save: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	got, ok, err := firmware.ReadWiFiRequest(dir)
	want := firmware.WiFiRequest{SSID: "Atelier partagé", Passphrase: "ouvert a tous", Channel: 11}
	if err != nil || !ok || got != want {
		t.Fatalf("request %+v %v %v, want %+v", got, ok, err, want)
	}
	_, body := b.do(req{target: "/admin/settings?done=wifi", cookies: []*http.Cookie{c}})
	for _, w := range []string{translate("fr", "settings.done.wifi", "Atelier partagé"), `value="ouvert a tous"`,
		`<option value="11" selected>`, `value="wpa2" checked`} {
		if !strings.Contains(body, w) {
			t.Errorf("settings page after the change lacks %q", w)
		}
	}
	_, body = b.do(req{target: "/admin/poster", cookies: []*http.Cookie{c}})
	if !strings.Contains(body, "Atelier partagé") || !strings.Contains(body, "ouvert a tous") || strings.Contains(body, ">tiersbox<") {
		t.Error("the poster does not show the new WiFi")
	}
	if b.srv.poster(settings.Settings{}).WiFi.QR != qrSVG(wifiURI("Atelier partagé", "ouvert a tous")) {
		t.Error("the poster's QR code does not join the new WiFi")
	}

	// Back to an open network: the passphrase typed is dropped.
	form.Set("security", "open")
	if res, _ := b.postSettings(c, form, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("open: %d", res.StatusCode)
	}
	if got, _, _ := firmware.ReadWiFiRequest(dir); got.Passphrase != "" {
		t.Errorf("open network with passphrase %q", got.Passphrase)
	}
}

// TestSettingsVenueMode: without a WiFi of its own, the page offers no
// WiFi and a posted one is ignored.
func TestSettingsVenueMode(t *testing.T) {
	b, c, dir := settingsBox(t, func(o *Options) { o.WiFi = WiFi{} })
	if _, body := b.do(req{target: "/admin/settings", cookies: []*http.Cookie{c}}); strings.Contains(body, `name="ssid"`) {
		t.Error("venue mode offers a WiFi")
	}
	form := validSettings()
	form.Set("ssid", "Pirate")
	if res, _ := b.postSettings(c, form, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", res.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, firmware.WiFiRequestFile)); !os.IsNotExist(err) {
		t.Error("venue mode wrote a WiFi request")
	}
}
