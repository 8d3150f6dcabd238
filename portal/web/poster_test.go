package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"tiersbox/box/settings"
)

func TestWiFiURI(t *testing.T) {
	tests := []struct {
		name, ssid, pass, want string
	}{
		{"WPA", "tiersbox", "motdepasse", `WIFI:T:WPA;S:tiersbox;P:motdepasse;;`},
		{"open network", "tiersbox", "", `WIFI:T:nopass;S:tiersbox;;`},
		{"spaces and accents stay", "Café des Tiers", "mot de passe", `WIFI:T:WPA;S:Café des Tiers;P:mot de passe;;`},
		{"semicolon", "a;b", "c;d;e;f", `WIFI:T:WPA;S:a\;b;P:c\;d\;e\;f;;`},
		{"comma and colon", "Salle 1, étage:2", "x,y:z12345", `WIFI:T:WPA;S:Salle 1\, étage\:2;P:x\,y\:z12345;;`},
		{"double quote", `"Le" Lieu`, `pa"ss"word`, `WIFI:T:WPA;S:\"Le\" Lieu;P:pa\"ss\"word;;`},
		{"backslash first, not twice", `a\;`, `\\`, `WIFI:T:WPA;S:a\\\;;P:\\\\;;`},
		{"a name that ends in a backslash", `box\`, "", `WIFI:T:nopass;S:box\\;;`},
		{"what looks like the format", "S:x;;", "P:y;;", `WIFI:T:WPA;S:S\:x\;\;;P:P\:y\;\;;;`},
		{"single quote and others untouched", "l'atelier <&>", "!#$%&'()*+-./", `WIFI:T:WPA;S:l'atelier <&>;P:!#$%&'()*+-./;;`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wifiURI(tt.ssid, tt.pass)
			if got != tt.want {
				t.Fatalf("wifiURI(%q, %q) = %q, want %q", tt.ssid, tt.pass, got, tt.want)
			}
			checkWiFiURI(t, got, tt.ssid, tt.pass)
		})
	}
}

// FuzzWiFiURI: whatever staff type as the WiFi name and passphrase, a
// phone reading the URI finds exactly them, and nothing else.
func FuzzWiFiURI(f *testing.F) {
	f.Add("tiersbox", "")
	f.Add("Café des Tiers", "motdepasse")
	f.Add(`a;b,c:d"e\`, `\;;\`)
	f.Add(`\`, `;;`)
	f.Add("S:x;P:y;;", "T:nopass;")
	f.Add("", "x")
	f.Add("\xff\x00", "\n")
	f.Fuzz(func(t *testing.T, ssid, pass string) {
		checkWiFiURI(t, wifiURI(ssid, pass), ssid, pass)
	})
}

// checkWiFiURI reads uri as a phone would and checks it holds ssid and
// pass, with the right type.
func checkWiFiURI(t *testing.T, uri, ssid, pass string) {
	t.Helper()
	fields, err := parseWiFiURI(uri)
	if err != nil {
		t.Fatalf("%q: %v", uri, err)
	}
	want := map[string]string{"T": "WPA", "S": ssid, "P": pass}
	if pass == "" {
		want = map[string]string{"T": "nopass", "S": ssid}
	}
	if !maps.Equal(fields, want) {
		t.Fatalf("%q reads as %q, want %q", uri, fields, want)
	}
}

// parseWiFiURI reads a WIFI: URI the way phones do (ZXing's
// WifiResultParser): fields KEY:VALUE each ended by an unescaped ";", a
// backslash taking the next character as it is, and a last ";" closing
// the list. It is stricter than phones: ",", ":" and '"' must be escaped
// in a value, a key must not repeat, and nothing may follow the end.
func parseWiFiURI(s string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(s, "WIFI:")
	if !ok {
		return nil, errors.New("no WIFI: prefix")
	}
	fields := make(map[string]string)
	for rest != ";" {
		key, r, ok := strings.Cut(rest, ":")
		if !ok || key == "" || strings.ContainsAny(key, `;,"\`) {
			return nil, fmt.Errorf("no field at %q", rest)
		}
		var v strings.Builder
		i := 0
		for ; i < len(r) && r[i] != ';'; i++ {
			switch c := r[i]; c {
			case '\\':
				if i++; i == len(r) {
					return nil, errors.New("a backslash at the end")
				}
				v.WriteByte(r[i])
			case ',', ':', '"':
				return nil, fmt.Errorf("%q unescaped in field %s", c, key)
			default:
				v.WriteByte(c)
			}
		}
		if i == len(r) {
			return nil, fmt.Errorf("field %s not ended by ;", key)
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("field %s twice", key)
		}
		fields[key] = v.String()
		rest = r[i+1:]
	}
	return fields, nil
}

func TestPortalURL(t *testing.T) {
	for address, want := range map[string]string{
		"tiers.box":       "http://tiers.box/",
		"tiers.box:8080":  "http://tiers.box:8080/",
		"10.42.0.1":       "http://10.42.0.1/",
		"192.168.1.20:80": "http://192.168.1.20:80/",
		"tiers.local":     "http://tiers.local/",
	} {
		if got := portalURL(address); got != want {
			t.Errorf("portalURL(%q) = %q, want %q", address, got, want)
		}
	}
}

// posterBox is a box with a staff password, the given WiFi and two
// addresses, logged in: it returns the box and the staff cookie.
func posterBox(t *testing.T, wifi WiFi, rules string) (*testBox, *http.Cookie) {
	t.Helper()
	b, _ := newStaffBox(t, staffPassword, func(o *Options) {
		o.WiFi = wifi
		o.Addresses = []string{"tiers.box", "10.42.0.1"}
	})
	st, err := settings.Load(b.st)
	if err != nil {
		t.Fatal(err)
	}
	st.Venue = "La Fabrique <du> Coin"
	st.Rules = rules
	if err := settings.Save(b.st, st); err != nil {
		t.Fatal(err)
	}
	_, _, c := b.login(staffPassword)
	if c == nil {
		t.Fatal("no staff session")
	}
	return b, c
}

var svgElement = regexp.MustCompile(`(?s)<svg .*?</svg>`)

// svgs returns the inline SVG images of a page.
func svgs(body string) []template.HTML {
	var out []template.HTML
	for _, s := range svgElement.FindAllString(body, -1) {
		out = append(out, template.HTML(s))
	}
	return out
}

func TestPosterStaffOnly(t *testing.T) {
	b, _ := posterBox(t, WiFi{SSID: "tiersbox", Passphrase: "motdepasse", Own: true}, "")
	res, body := b.do(req{target: "/admin/poster"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin?next=%2Fadmin%2Fposter" {
		t.Errorf("a visitor: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if strings.Contains(body, "motdepasse") {
		t.Error("the redirect shows the passphrase")
	}
	// A visitor who entered the portal is still not staff.
	res, _ = b.do(req{method: "POST", target: "/enter", form: map[string][]string{"nickname": {"Ana"}}})
	visitor := res.Cookies()
	if len(visitor) != 1 || visitor[0].Name != visitorCookie {
		t.Fatalf("entering: %d, cookies %v", res.StatusCode, visitor)
	}
	res, body = b.do(req{target: "/admin/poster", cookies: visitor})
	if res.StatusCode != http.StatusSeeOther || strings.Contains(body, "motdepasse") {
		t.Errorf("a visitor who entered: %d", res.StatusCode)
	}
	res, _ = b.do(req{target: "/admin/poster", cookies: []*http.Cookie{{Name: staffCookie, Value: strings.Repeat("a", 64)}}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("a forged staff cookie: %d", res.StatusCode)
	}
	if res, _ := b.do(req{method: "POST", target: "/admin/poster"}); res.StatusCode == http.StatusOK {
		t.Error("POST /admin/poster answers 200")
	}
}

func TestPosterPage(t *testing.T) {
	const ssid, pass = `Café "Libre"; <b>`, "mot:de,passe"
	b, c := posterBox(t, WiFi{SSID: ssid, Passphrase: pass, Own: true}, "Rangez les outils.\nPas de <script>.")
	for _, tt := range []struct{ lang, title, other string }{
		{"fr", "Affiche à imprimer", "Printable poster"},
		{"en", "Printable poster", "Affiche à imprimer"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			res, body := b.do(req{target: "/admin/poster", cookies: []*http.Cookie{c, {Name: langCookie, Value: tt.lang}}})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%d", res.StatusCode)
			}
			// The page around the poster speaks the staff's language; the
			// poster speaks both, French first.
			for _, want := range []string{
				`<html lang="` + tt.lang + `">`, "<h1>" + tt.title + "</h1>", `href="/admin"`,
				`<h2 class="poster-venue">La Fabrique &lt;du&gt; Coin</h2>`,
				`<span lang="fr">Rejoignez le WiFi</span> / <span lang="en">Join the WiFi</span>`,
				`<span lang="fr">Ouvrez la box</span> / <span lang="en">Open the box</span>`,
				`<span lang="fr">Règles de la maison</span> / <span lang="en">House rules</span>`,
				`<p lang="fr">Bienvenue !`, `<p lang="en">Welcome!`,
				`<dd class="poster-secret">Café &#34;Libre&#34;; &lt;b&gt;</dd>`,
				`<dd class="poster-secret">mot:de,passe</dd>`,
				`<p class="poster-address">tiers.box</p>`, "<strong>10.42.0.1</strong>",
				"<p>Rangez les outils.</p>", "<p>Pas de &lt;script&gt;.</p>",
				"Pas d’internet sur ce WiFi", "No internet on this WiFi",
				translate(tt.lang, "poster.secret"),
			} {
				if !strings.Contains(body, want) {
					t.Errorf("the poster lacks %q", want)
				}
			}
			if strings.Contains(body, "<h1>"+tt.other+"</h1>") || strings.Contains(body, "<b>") || strings.Contains(body, "<script") {
				t.Error("the poster has the other language's title, or unescaped markup")
			}
			if fr, en := strings.Index(body, `lang="fr">Rejoignez`), strings.Index(body, `lang="en">Join`); fr > en {
				t.Error("English comes before French")
			}
			// The QR codes are drawn from the WIFI: URI and the portal's URL.
			wantURI := `WIFI:T:WPA;S:Café \"Libre\"\; <b>;P:mot\:de\,passe;;`
			if got := wifiURI(ssid, pass); got != wantURI {
				t.Fatalf("wifiURI = %q, want %q", got, wantURI)
			}
			got := svgs(body)
			if len(got) != 2 || got[0] != qrSVG(wantURI) || got[1] != qrSVG("http://tiers.box/") {
				t.Errorf("the poster's QR codes are not those of %q and http://tiers.box/ (%d SVG)", wantURI, len(got))
			}
			for _, s := range got {
				if !strings.Contains(string(s), `aria-hidden="true"`) {
					t.Error("a QR code is not hidden from screen readers")
				}
			}
			attr := regexp.MustCompile(`(?:src|href|action)="([^"]*)"`)
			for _, m := range attr.FindAllStringSubmatch(body, -1) {
				if u := m[1]; !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "#") || strings.HasPrefix(u, "//") {
					t.Errorf("the page links outside the box: %q", u)
				}
			}
		})
	}
	res, body := b.do(req{method: "HEAD", target: "/admin/poster", cookies: []*http.Cookie{c}})
	if res.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d, %d bytes", res.StatusCode, len(body))
	}
}

// TestPosterWithoutWiFi: when the box runs no WiFi of its own, or has no
// WiFi name, the poster gives only the portal's address.
func TestPosterWithoutWiFi(t *testing.T) {
	for name, wifi := range map[string]WiFi{
		"venue mode": {SSID: "tiersbox", Passphrase: "motdepasse"},
		"no name":    {Own: true},
		"zero value": {},
	} {
		t.Run(name, func(t *testing.T) {
			b, c := posterBox(t, wifi, "")
			res, body := b.do(req{target: "/admin/poster", cookies: []*http.Cookie{c}})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%d", res.StatusCode)
			}
			if got := svgs(body); len(got) != 1 || got[0] != qrSVG("http://tiers.box/") {
				t.Errorf("%d QR codes, or not that of the portal", len(got))
			}
			for _, absent := range []string{"motdepasse", "Rejoignez le WiFi", "Join the WiFi", `class="poster-num"`, "Pas d’internet sur ce WiFi", translate("fr", "poster.secret")} {
				if strings.Contains(body, absent) {
					t.Errorf("the poster has %q", absent)
				}
			}
			for _, want := range []string{translate("fr", "poster.nowifi"), `poster-steps poster-single`, `<p class="poster-address">tiers.box</p>`, "Ouvrez la box", "Open the box"} {
				if !strings.Contains(body, want) {
					t.Errorf("the poster lacks %q", want)
				}
			}
		})
	}
}

// TestPosterOpenNetwork: an open network says so instead of a passphrase,
// and its QR code joins without one.
func TestPosterOpenNetwork(t *testing.T) {
	b, c := posterBox(t, WiFi{SSID: "tiersbox", Own: true}, "")
	_, body := b.do(req{target: "/admin/poster", cookies: []*http.Cookie{c}})
	if got := svgs(body); len(got) != 2 || got[0] != qrSVG("WIFI:T:nopass;S:tiersbox;;") {
		t.Errorf("the WiFi QR code is not that of an open network")
	}
	want := `<dd><span lang="fr">Réseau ouvert : pas de mot de passe</span> / <span lang="en">Open network: no password</span></dd>`
	if !strings.Contains(body, want) || strings.Contains(body, translate("fr", "poster.secret")) {
		t.Errorf("the poster of an open network:\n%s", body)
	}
}

// TestPosterDefaultRules: without rules from staff, the poster shows the
// default rules in French, then in English.
func TestPosterDefaultRules(t *testing.T) {
	b, c := posterBox(t, WiFi{}, "")
	_, body := b.do(req{target: "/admin/poster", cookies: []*http.Cookie{c, {Name: langCookie, Value: "en"}}})
	fr := splitLines(translate("fr", "welcome.rules.default"))
	en := splitLines(translate("en", "welcome.rules.default"))
	last := -1
	for _, line := range append(fr, en...) {
		i := strings.Index(body, "<p>"+template.HTMLEscapeString(line)+"</p>")
		if i < 0 {
			t.Errorf("the poster lacks the rule %q", line)
		} else if i < last {
			t.Errorf("the rule %q is out of order", line)
		} else {
			last = i
		}
	}
	if !strings.Contains(body, `<div lang="fr"><p>`) || !strings.Contains(body, `<div lang="en"><p>`) {
		t.Error("the default rules are not marked with their language")
	}
}

func TestPosterStaffLink(t *testing.T) {
	b, c := posterBox(t, WiFi{}, "")
	for lang, label := range map[string]string{"fr": "Imprimer l’affiche du lieu", "en": "Print the venue's poster"} {
		_, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c, {Name: langCookie, Value: lang}}})
		if !strings.Contains(body, `<li><a href="/admin/poster">`+template.HTMLEscapeString(label)) {
			t.Errorf("%s: the staff home does not link to the poster", lang)
		}
	}
}

// TestPosterPrint shows the poster in Chromium: each QR code, as drawn,
// reads back as the WIFI: URI or the portal's URL (when zbarimg is
// installed), and the poster prints on one A4 page, with and without the
// WiFi, with the default rules in both languages or a few lines of
// staff's own.
func TestPosterPrint(t *testing.T) {
	if os.Getenv("TIERSBOX_E2E") != "1" {
		t.Skip("set TIERSBOX_E2E=1 to print in Chromium (scripts/test does)")
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatal("needs Chromium: apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser; it must not run under a
	// timeout, which would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	artifacts := os.Getenv("TIERSBOX_E2E_ARTIFACTS")
	// zbarimg reads the QR codes as drawn by Chromium (scripts/test
	// installs it).
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg is not installed (apt-get install zbar-tools): the QR codes cannot be read back")
	}
	// Staff's own rules: five lines, each in French then English.
	rules := strings.Repeat("Rangez le matériel après usage et laissez la salle comme vous l’avez trouvée. / Put the tools back and leave the room as you found it.\n", 5)
	long := WiFi{SSID: "Tiers-Lieu de la Fabrique", Passphrase: "un mot de passe assez long", Own: true}
	for name, tt := range map[string]struct {
		wifi  WiFi
		rules string
		qr    []string // what the QR codes hold, in order
	}{
		"wifi":       {WiFi{SSID: `Café "Libre"; a,b:c\`, Passphrase: `mot:de;passe"\`, Own: true}, "", []string{`WIFI:T:WPA;S:Café \"Libre\"\; a\,b\:c\\;P:mot\:de\;passe\"\\;;`, "http://tiers.box/"}},
		"open":       {WiFi{SSID: "tiersbox", Own: true}, "", []string{"WIFI:T:nopass;S:tiersbox;;", "http://tiers.box/"}},
		"venue":      {WiFi{}, "", []string{"http://tiers.box/"}},
		"staffrules": {long, rules, []string{wifiURI(long.SSID, long.Passphrase), "http://tiers.box/"}},
	} {
		t.Run(name, func(t *testing.T) {
			b, c := posterBox(t, tt.wifi, tt.rules)
			srv := httptest.NewServer(b.srv.Wrap(b.srv.Pages()))
			defer srv.Close()
			// A tab of its own; its first action opens it, without a
			// timeout, which would close it.
			tab, tcancel := chromedp.NewContext(ctx)
			defer tcancel()
			if err := chromedp.Do(tab); err != nil {
				t.Fatal(err)
			}
			sctx, scancel := context.WithTimeout(tab, 30*time.Second)
			defer scancel()
			err := chromedp.Do(sctx,
				chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, network.SetCookie, network.SetCookieParams{Name: staffCookie, Value: c.Value, URL: srv.URL})
					return err
				}),
				chromedp.Navigate(srv.URL+"/admin/poster"),
				chromedp.WaitVisible(chromedp.CSS(".poster")),
			)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.qr {
				png, err := chromedp.Run(sctx, chromedp.Screenshot(chromedp.CSS(fmt.Sprintf(".poster-step:nth-of-type(%d) .poster-qr", i+1))))
				if err != nil {
					t.Fatal(err)
				}
				f := filepath.Join(t.TempDir(), "qr.png")
				if err := os.WriteFile(f, png, 0o644); err != nil {
					t.Fatal(err)
				}
				// -Sbinary: the bytes as encoded, without zbar's guess
				// at their character set.
				out, err := exec.Command(zbarimg, "-q", "--raw", "-Sbinary", "--nodbus", f).Output()
				if got := strings.TrimSuffix(string(out), "\n"); err != nil || got != want {
					t.Errorf("QR code %d reads %q (%v), want %q", i+1, got, err, want)
				}
			}
			// The browser's paper is Letter: the page's @page rule asks
			// for A4.
			pdf, err := chromedp.Run(sctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperLetter), chromedp.PDFPreferCSSPageSize()))
			if err != nil {
				t.Fatal(err)
			}
			// A4 is 595.28 × 841.89 points; Chromium rounds to whole CSS
			// pixels.
			var w, h float64
			if m := regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`).FindSubmatch(pdf); m == nil {
				t.Error("no page size in the PDF")
			} else if fmt.Sscan(string(m[1])+" "+string(m[2]), &w, &h); math.Abs(w-595.28) > 2 || math.Abs(h-841.89) > 2 {
				t.Errorf("the poster prints on %.2f × %.2f points, not A4", w, h)
			}
			if artifacts != "" {
				if err := os.WriteFile(filepath.Join(artifacts, "poster-"+name+".pdf"), pdf, 0o644); err != nil {
					t.Error(err)
				}
				// What the printed page looks like, as an image the size
				// of A4 within its margins.
				err := chromedp.Do(sctx,
					chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
						_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
						return err
					}),
					chromedp.EmulateViewport(703, 1032),
				)
				png, serr := chromedp.Run(sctx, chromedp.FullScreenshot(100))
				if err != nil || serr != nil {
					t.Fatal(err, serr)
				}
				if err := os.WriteFile(filepath.Join(artifacts, "poster-"+name+".png"), png, 0o644); err != nil {
					t.Error(err)
				}
			}
			pages := len(regexp.MustCompile(`/Type\s*/Page\b`).FindAll(pdf, -1))
			if pages != 1 {
				t.Errorf("the poster prints on %d pages", pages)
			}
		})
	}
}
