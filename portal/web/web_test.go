package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"tiersbox/box/settings"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
)

type testBox struct {
	t        *testing.T
	srv      *Server
	st       *store.Store
	visitors *visitor.Service
}

func newTestBox(t *testing.T) *testBox {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	vs := visitor.New(st, visitor.Options{})
	srv, err := New(Options{Store: st, Visitors: vs, Addresses: []string{"tiers.box", "10.42.0.1"}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &testBox{t: t, srv: srv, st: st, visitors: vs}
}

type req struct {
	method, target string
	client         string
	form           url.Values
	body           string
	header         map[string]string
	cookies        []*http.Cookie
}

func (b *testBox) do(r req) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	} else if r.body != "" {
		body = strings.NewReader(r.body)
	}
	if r.method == "" {
		r.method = "GET"
	}
	hr := httptest.NewRequest(r.method, "http://tiers.box"+r.target, body)
	if body != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.client == "" {
		r.client = "10.42.0.50"
	}
	hr.RemoteAddr = r.client + ":40000"
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	for _, c := range r.cookies {
		hr.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.srv.Wrap(b.srv.Pages()).ServeHTTP(w, hr)
	res := w.Result()
	out, _ := io.ReadAll(res.Body)
	return res, string(out)
}

func TestWelcomeLanguage(t *testing.T) {
	b := newTestBox(t)
	tests := []struct {
		name    string
		header  map[string]string
		cookies []*http.Cookie
		want    string
		lang    string
	}{
		{"no preference: French", nil, nil, "Votre pseudo", "fr"},
		{"English browser", map[string]string{"Accept-Language": "en-GB,en;q=0.9"}, nil, "Your nickname", "en"},
		{"French Canadian browser", map[string]string{"Accept-Language": "fr-CA"}, nil, "Votre pseudo", "fr"},
		{"German browser: French", map[string]string{"Accept-Language": "de-DE"}, nil, "Votre pseudo", "fr"},
		{"German then English", map[string]string{"Accept-Language": "de, en;q=0.5"}, nil, "Your nickname", "en"},
		{"choice beats browser", map[string]string{"Accept-Language": "en"}, []*http.Cookie{{Name: langCookie, Value: "fr"}}, "Votre pseudo", "fr"},
		{"bogus cookie ignored", map[string]string{"Accept-Language": "en"}, []*http.Cookie{{Name: langCookie, Value: "xx"}}, "Your nickname", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := b.do(req{target: "/welcome", header: tt.header, cookies: tt.cookies})
			if res.StatusCode != 200 || !strings.Contains(body, tt.want) || !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
				t.Errorf("%d, lang %s, want %q in the page", res.StatusCode, tt.lang, tt.want)
			}
		})
	}
}

func TestWelcomeShowsVenue(t *testing.T) {
	b := newTestBox(t)
	err := settings.Save(b.st, settings.Settings{Venue: "La Fabrique <du> Coin", Description: "Un fablab", Rules: "Rangez les outils.\n\n- Pas de <script>.\n- **Merci**"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := b.do(req{target: "/welcome"})
	for _, want := range []string{
		"<h1>La Fabrique &lt;du&gt; Coin</h1>", "Un fablab", "<p>Rangez les outils.</p>", "<li>Pas de <!-- raw HTML omitted -->.</li>", "<li><strong>Merci</strong></li>",
		`name="nickname"`, `<button type="submit">Entrer</button>`, "tiers.box", "10.42.0.1", "Restez connecté",
		`href="/lang?to=en&amp;back=%2fwelcome"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("welcome page lacks %q", want)
		}
	}
	// The rules are Markdown, and HTML in them is left out.
	if strings.Contains(body, "<script>") {
		t.Error("HTML in the rules reached the page")
	}
}

func TestEnter(t *testing.T) {
	b := newTestBox(t)
	bad := []struct {
		name, nickname, want string
	}{
		{"empty", "", "Choisissez un pseudo"},
		{"spaces", "   ", "Choisissez un pseudo"},
		{"too long", strings.Repeat("a", 33), "trop long"},
		{"control characters", "ab\x07c", "non autorisés"},
		{"HTML", "<img src=x onerror=alert(1)>", "non autorisés"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res, body := b.do(req{method: "POST", target: "/enter", form: url.Values{"nickname": {tt.nickname}}})
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tt.want) {
				t.Errorf("%d, want 400 with %q", res.StatusCode, tt.want)
			}
			if strings.Contains(body, "<img src=x") {
				t.Error("the refused nickname came back unescaped")
			}
			if len(res.Cookies()) != 0 {
				t.Error("a refused nickname set a cookie")
			}
		})
	}
	if n, _ := b.visitors.Count(); n != 0 {
		t.Fatalf("%d sessions after refused nicknames", n)
	}

	// Before entering, / leads to the welcome page.
	res, _ := b.do(req{target: "/"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/welcome" {
		t.Fatalf("/ before entering: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	// As a browser on plain HTTP posts the form: Origin, no Sec-Fetch-Site.
	res, _ = b.do(req{method: "POST", target: "/enter", form: url.Values{"nickname": {" Zoé "}, "lang": {"en"}},
		header: map[string]string{"Origin": "http://tiers.box"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("enter: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || cookies[0].Name != visitorCookie || !cookies[0].HttpOnly || !visitor.ValidID(cookies[0].Value) {
		t.Fatalf("cookie: %+v", cookies)
	}

	// Home, by cookie, by device, and not for another device.
	_, body := b.do(req{target: "/", cookies: cookies})
	if !strings.Contains(body, "Bonjour Zoé !") || !strings.Contains(body, "Pads") || !strings.Contains(body, "Bientôt disponible") {
		t.Errorf("home page by cookie: %s", body)
	}
	_, body = b.do(req{target: "/"})
	if !strings.Contains(body, "Bonjour Zoé !") {
		t.Error("home page by device address failed")
	}
	res, _ = b.do(req{target: "/", client: "10.42.0.99"})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("another device reached home: %d", res.StatusCode)
	}
	// The cookie follows the visitor to a new address, and the device is
	// then recognised there.
	b.do(req{target: "/", client: "10.42.0.77", cookies: cookies})
	if !b.visitors.Entered(netip.MustParseAddr("10.42.0.77"), "") {
		t.Error("new address not recorded")
	}

	// Entering again keeps the pseudonym and renames.
	res, _ = b.do(req{method: "POST", target: "/enter", form: url.Values{"nickname": {"Zoé B."}}, cookies: cookies})
	if c := res.Cookies(); len(c) != 1 || c[0].Value != cookies[0].Value {
		t.Errorf("re-entering changed the pseudonym: %+v", c)
	}
	_, body = b.do(req{target: "/welcome", cookies: cookies})
	if !strings.Contains(body, `value="Zoé B."`) {
		t.Error("welcome page does not offer the current nickname")
	}

	_, metrics := b.do(req{target: "/metrics"})
	if !strings.Contains(metrics, "tiersbox_visitors_entered_total 2\n") || !strings.Contains(metrics, "tiersbox_visitors_current 1\n") {
		t.Errorf("metrics:\n%s", metrics)
	}
}

func TestBadRequests(t *testing.T) {
	b := newTestBox(t)
	tests := []struct {
		name   string
		r      req
		status int
		want   string
	}{
		{"cross-origin form", req{method: "POST", target: "/enter", form: url.Values{"nickname": {"Eve"}},
			header: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}}, 403, "refusée"},
		{"huge form", req{method: "POST", target: "/enter", body: "nickname=" + strings.Repeat("a", 10000)}, 413, "trop gros"},
		{"malformed form", req{method: "POST", target: "/enter", body: "nickname=%zz"}, 400, "pas pu être comprise"},
		{"unknown page", req{target: "/nowhere"}, 404, "n’existe pas"},
		{"unknown static file", req{target: "/static/evil.css"}, 404, "n’existe pas"},
		{"GET on a form", req{target: "/enter"}, 405, "ne s’utilise pas"},
		{"unknown language", req{target: "/lang?to=xx"}, 400, "pas pu être comprise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := b.do(tt.r)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%d, want %d with %q", res.StatusCode, tt.status, tt.want)
			}
		})
	}
	if n, _ := b.visitors.Count(); n != 0 {
		t.Errorf("%d sessions after bad requests", n)
	}
}

func TestLangSwitch(t *testing.T) {
	b := newTestBox(t)
	tests := []struct{ target, location string }{
		{"/lang?to=en&back=/welcome", "/welcome"},
		{"/lang?to=fr&back=/about", "/about"},
		{"/lang?to=en&back=//evil.example/", "/"},
		{"/lang?to=en&back=http://evil.example/", "/"},
		{"/lang?to=en&back=/\\evil.example", "/"},
		{"/lang?to=en&back=/%09/evil.example/x", "/"},
		{"/lang?to=en&back=/ok%5C%5Cevil", "/"},
		{"/lang?to=en", "/"},
	}
	for _, tt := range tests {
		res, _ := b.do(req{target: tt.target})
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d %q, want %q", tt.target, res.StatusCode, res.Header.Get("Location"), tt.location)
		}
		if c := res.Cookies(); len(c) != 1 || c[0].Name != langCookie {
			t.Errorf("%s: cookies %+v", tt.target, c)
		}
	}
}

func TestAbout(t *testing.T) {
	b := newTestBox(t)
	_, body := b.do(req{target: "/about?from=example.org", header: map[string]string{"Accept-Language": "en"}})
	for _, want := range []string{"This box works without internet", "You asked for example.org", "Pads", "Chat", "Documents", `href="/welcome"`} {
		if !strings.Contains(body, want) {
			t.Errorf("about page lacks %q", want)
		}
	}
	_, body = b.do(req{target: "/about?from=%3Cscript%3E"})
	if strings.Contains(body, "<script>") {
		t.Error("about page reflects markup")
	}
}

func TestOpsAndHeaders(t *testing.T) {
	b := newTestBox(t)
	res, body := b.do(req{target: "/healthz"})
	if res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
	_, page := b.do(req{target: "/welcome"})
	css := regexp.MustCompile(`href="(/static/style\.[0-9a-f]{12}\.css)"`).FindStringSubmatch(page)
	if css == nil {
		t.Fatal("no hashed stylesheet link")
	}
	res, body = b.do(req{target: css[1]})
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") || !strings.Contains(body, "font-family") {
		t.Errorf("stylesheet: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	// no-referrer would make browsers send "Origin: null" on the box's
	// own forms, which the CSRF check refuses.
	if rp := res.Header.Get("Referrer-Policy"); rp == "no-referrer" {
		t.Errorf("Referrer-Policy %q breaks the box's forms", rp)
	}
	_, metrics := b.do(req{target: "/metrics"})
	if !strings.Contains(metrics, `tiersbox_http_requests_total{code="200"}`) {
		t.Errorf("metrics lack request counts:\n%s", metrics)
	}
}

// TestCatalogComplete checks that both languages have the same keys and
// that every key a template uses exists.
func TestCatalogComplete(t *testing.T) {
	for key := range catalog["fr"] {
		if _, ok := catalog["en"][key]; !ok {
			t.Errorf("English lacks %q", key)
		}
	}
	for key := range catalog["en"] {
		if _, ok := catalog["fr"][key]; !ok {
			t.Errorf("French lacks %q", key)
		}
	}
	uses := regexp.MustCompile(`\{\{t "([^"]+)"`)
	files, _ := templateFS.ReadDir("templates")
	for _, f := range files {
		src, _ := templateFS.ReadFile("templates/" + f.Name())
		for _, m := range uses.FindAllStringSubmatch(string(src), -1) {
			if _, ok := catalog["fr"][m[1]]; !ok {
				t.Errorf("%s uses unknown key %q", f.Name(), m[1])
			}
		}
	}
}

// Headings in the rules sit under the page's "house rules" heading: the
// page keeps one h1.
func TestWelcomeRulesHeadings(t *testing.T) {
	b := newTestBox(t)
	if err := settings.Save(b.st, settings.Settings{Venue: "La Fabrique", Rules: "# Atelier\n\nRangez.\n\n## Bruit\n\n#### Nuit\n\n###### Fin"}); err != nil {
		t.Fatal(err)
	}
	_, body := b.do(req{target: "/welcome"})
	for _, want := range []string{"<h3>Atelier</h3>", "<h4>Bruit</h4>", "<h6>Nuit</h6>", "<h6>Fin</h6>"} {
		if !strings.Contains(body, want) {
			t.Errorf("welcome page lacks %q", want)
		}
	}
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("%d h1 on the welcome page", n)
	}
}
