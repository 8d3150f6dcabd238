package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// staffBrowser is a staff member's browser on one box: its own cookie jar
// (cookies ignore ports, and both boxes are on 127.0.0.1), redirects not
// followed so that each answer can be checked.
type staffBrowser struct {
	t      *testing.T
	d      *daemon
	client *http.Client
}

func newStaffBrowser(t *testing.T, d *daemon, pw string) *staffBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &staffBrowser{t: t, d: d, client: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	res, _ := b.post("admin/login", url.Values{"password": {pw}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff login on %s: %d", d.url, res.StatusCode)
	}
	return b
}

func (b *staffBrowser) read(res *http.Response, err error) (*http.Response, string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(body)
}

func (b *staffBrowser) get(path string) (*http.Response, string) {
	b.t.Helper()
	return b.read(b.client.Get(b.d.url + strings.TrimPrefix(path, "/")))
}

// post sends a form as a browser on the box's own page would: with the
// box as Origin.
func (b *staffBrowser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.d.url+strings.TrimPrefix(path, "/"), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(b.d.url, "/"))
	return b.read(b.client.Do(req))
}

// initBox sets up a data folder with a venue name and a staff password.
func initBox(t *testing.T, venue, pw string) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "box")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := tiersbox(t, "", "init", "--data", data, "--venue", venue, "--admin-password-file", pwFile); code != 0 {
		t.Fatalf("init %s: %d %s", venue, code, stderr)
	}
	return data
}

func deviceIDOf(t *testing.T, data string) string {
	t.Helper()
	out, stderr, code := tiersbox(t, "", "id", "--data", data)
	if code != 0 {
		t.Fatalf("id: %s", stderr)
	}
	return strings.TrimSpace(out)
}

var pairStringRE = regexp.MustCompile(`<textarea id="pair-string"[^>]*>([^<]+)</textarea>`)

// TestE2EPairing: two real boxes pair through their staff pages, as two
// venues' staff would. A creates a code; B's staff enter A's pairing
// string; then each box lists the other as linked, and they connect.
func TestE2EPairing(t *testing.T) {
	requireE2E(t)
	const pwA, pwB = "mot de passe de la fabrique", "mot de passe du café"
	dataA := initBox(t, "La Fabrique", pwA)
	dataB := initBox(t, "Café des Possibles", pwB)
	idA, idB := deviceIDOf(t, dataA), deviceIDOf(t, dataB)

	// --sync on loopback and a free port: never the default :22000.
	a := startDaemon(t, "--data", dataA, "--http", "127.0.0.1:0", "--sync", "127.0.0.1:0")
	b := startDaemon(t, "--data", dataB, "--http", "127.0.0.1:0", "--sync", "127.0.0.1:0")
	staffA, staffB := newStaffBrowser(t, a, pwA), newStaffBrowser(t, b, pwB)

	// The staff home leads to the page; it shows the box's own ID.
	if _, body := staffA.get("/admin"); !strings.Contains(body, `href="/admin/peers"`) {
		t.Fatal("the staff home does not link to /admin/peers")
	}
	if _, body := staffA.get("/admin/peers"); !strings.Contains(body, `readonly value="`+idA+`"`) {
		t.Fatal("A's page does not show A's device ID")
	}

	// A: a code, its QR code and its pairing string.
	res, _ := staffA.post("/admin/peers/code", nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create a code: %d", res.StatusCode)
	}
	_, body := staffA.get(res.Header.Get("Location"))
	m := pairStringRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "<svg") {
		t.Fatalf("A's page shows no pairing string or QR code:\n%s", body)
	}
	invite := html.UnescapeString(m[1])
	if want := "tiersbox-pair://" + a.hostPort() + "/" + idA + "/"; !strings.HasPrefix(invite, want) {
		t.Fatalf("pairing string %q, want it to start with %q", invite, want)
	}

	// B: staff type the string (in lower case, as a phone keyboard might).
	res, _ = staffB.post("/admin/peers/pair", url.Values{"invite": {strings.ToLower(invite)}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/peers?done=paired&id="+idA) {
		_, body := staffB.get("/admin/peers")
		t.Fatalf("pairing from B: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if _, body := staffB.get(res.Header.Get("Location")); !strings.Contains(body, "Association réussie : La Fabrique et cette box sont reliées") {
		t.Errorf("B's page does not say it paired:\n%s", body)
	}
	if _, body := staffA.get("/admin/peers"); !strings.Contains(body, "Le dernier code a servi à Café des Possibles") || strings.Contains(body, invite) {
		t.Errorf("A's page does not say the code was used, or still shows it")
	}

	// Each lists the other.
	for _, tt := range []struct{ data, other, name string }{{dataA, idB, "Café des Possibles"}, {dataB, idA, "La Fabrique"}} {
		out, stderr, code := tiersbox(t, "", "link", "list", "--data", tt.data)
		if code != 0 || !regexp.MustCompile(regexp.QuoteMeta(tt.other)+`\s+`+regexp.QuoteMeta(tt.name)+`\s+\[tcp://127\.0\.0\.1:\d+\]`).MatchString(out) {
			t.Errorf("link list on %s: %d %q %q", tt.data, code, out, stderr)
		}
	}

	// And they connect: each page says so.
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range []*staffBrowser{staffA, staffB} {
		for {
			_, body := s.get("/admin/peers")
			if strings.Contains(body, "Connectée depuis 127.0.0.1:") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never shows the other box connected:\n%s", s.d.url, body)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The code was used once: the same string with another code is
	// refused with a message, and the next try at once must wait.
	used := invite[:len(invite)-4] + "ZZZZ"
	res, body = staffB.post("/admin/peers/pair", url.Values{"invite": {used}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "Ce code a déjà servi à une autre box") {
		t.Errorf("a used code: %d\n%s", res.StatusCode, body)
	}
	res, body = staffB.post("/admin/peers/pair", url.Values{"invite": {used}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "L’autre box demande de patienter") {
		t.Errorf("right after a refusal: %d", res.StatusCode)
	}

	// B removes the link, after confirming.
	res, body = staffB.post("/admin/peers/unlink", url.Values{"id": {idA}})
	if res.StatusCode != 200 || !strings.Contains(body, `name="confirm" value="yes"`) {
		t.Fatalf("unlink without confirmation: %d", res.StatusCode)
	}
	res, _ = staffB.post("/admin/peers/unlink", url.Values{"id": {idA}, "confirm": {"yes"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d", res.StatusCode)
	}
	if out, _, _ := tiersbox(t, "", "link", "list", "--data", dataB); strings.Contains(out, idA) {
		t.Errorf("B still lists A after unlinking: %q", out)
	}

	a.stop(t, syscall.SIGTERM)
	b.stop(t, syscall.SIGTERM)
	for _, d := range []*daemon{a, b} {
		for _, line := range strings.Split(d.stderr.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("%s logged an error: %s", d.url, line)
			}
		}
	}
}

// TestPairingHost: the portal address a pairing string gives. It needs
// no daemon, so it runs without TIERSBOX_E2E.
func TestPairingHost(t *testing.T) {
	all := netip.MustParseAddrPort("0.0.0.0:80")
	first := "127.0.0.1:80"
	if a := localAddrs(); len(a) > 0 {
		first = netip.AddrPortFrom(a[0], 80).String()
	}
	tests := []struct {
		hint  string
		bound netip.AddrPort
		want  string
	}{
		{"tiers.box", netip.MustParseAddrPort("127.0.0.1:8080"), "127.0.0.1:8080"},
		{"tiers.box", netip.MustParseAddrPort("192.168.1.20:80"), "192.168.1.20:80"},
		{"192.168.1.20", all, "192.168.1.20:80"},
		{"192.168.1.20:80", all, "192.168.1.20:80"},
		{"[2001:db8::20]:80", all, "[2001:db8::20]:80"},
		{"[::ffff:192.168.1.20]:80", all, "192.168.1.20:80"},
		{"tiers.box", all, first},
		{"127.0.0.1:80", all, first},
		{"[fe80::1%eth0]:80", all, first},
		{"", netip.MustParseAddrPort("[::]:8080"), strings.TrimSuffix(first, ":80") + ":8080"},
	}
	for _, tt := range tests {
		if got := pairingHost(tt.hint, tt.bound); got != tt.want {
			t.Errorf("pairingHost(%q, %v) = %q, want %q", tt.hint, tt.bound, got, tt.want)
		}
	}
}
