package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersbox/box/journal"
	"tiersbox/box/pad"
	"tiersbox/box/password"
	"tiersbox/box/settings"
	"tiersbox/box/staff"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
)

const staffPassword = "le mot de passe de l’équipe"

// testClock is a settable time for the staff sessions.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newStaffBox is a test box with a staff password (none if pw is empty)
// and staff sessions on a fake clock; with can change its options.
func newStaffBox(t *testing.T, pw string, with ...func(*Options)) (*testBox, *testClock) {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if pw != "" {
		hash, err := password.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := settings.Save(st, settings.Settings{Venue: "La Fabrique", AdminPasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	clock := &testClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	vs := visitor.New(st, visitor.Options{})
	opts := Options{
		Store: st, Visitors: vs, Addresses: []string{"tiers.box"}, Version: "test",
		Staff: staff.New(st, staff.Options{Now: clock.Now}),
	}
	for _, f := range with {
		f(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testBox{t: t, srv: srv, st: st, visitors: vs}, clock
}

// login posts the staff password and returns the response and its
// tb_staff cookie, if any.
func (b *testBox) login(pw string, extra ...string) (*http.Response, string, *http.Cookie) {
	b.t.Helper()
	form := url.Values{"password": {pw}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	res, body := b.do(req{method: "POST", target: "/admin/login", form: form})
	return res, body, staffCookieOf(res)
}

func staffCookieOf(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == staffCookie {
			return c
		}
	}
	return nil
}

func TestAdminLoginForm(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)
	for _, lang := range []string{"fr", "en"} {
		res, body := b.do(req{target: "/admin", cookies: []*http.Cookie{{Name: langCookie, Value: lang}}})
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", lang, res.StatusCode)
		}
		for _, want := range []string{
			`<html lang="` + lang + `">`, "<h1>", `<form method="post" action="/admin/login"`,
			`<label for="password">`, `id="password" name="password" type="password"`, `autocomplete="current-password"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the login page lacks %q", lang, want)
			}
		}
		if strings.Contains(body, "<script") {
			t.Errorf("%s: the login page has a script", lang)
		}
	}
}

func TestAdminLogin(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)

	res, body, c := b.login("pas le bon")
	if res.StatusCode != http.StatusForbidden || c != nil || !strings.Contains(body, "n’est pas le bon") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Errorf("wrong password: %d, cookie %v", res.StatusCode, c)
	}

	res, _, c = b.login(staffPassword)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if c == nil || !staff.ValidID(c.Value) || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Fatalf("cookie %+v", c)
	}
	// No expiry: the cookie ends with the browser.
	if raw := res.Header.Get("Set-Cookie"); strings.Contains(raw, "Expires") || strings.Contains(raw, "Max-Age") {
		t.Errorf("Set-Cookie %q", raw)
	}

	res, body = b.do(req{target: "/admin", cookies: []*http.Cookie{c}})
	if res.StatusCode != 200 || !strings.Contains(body, `action="/admin/logout"`) || strings.Contains(body, `type="password"`) {
		t.Errorf("staff home: %d\n%s", res.StatusCode, body)
	}
	if !b.srv.isStaff(cookieRequest(c)) {
		t.Error("isStaff is false for a logged-in request")
	}
	if b.srv.isStaff(httptest.NewRequest("GET", "/", nil)) {
		t.Error("isStaff is true without a cookie")
	}
}

func cookieRequest(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "http://tiers.box/", nil)
	r.AddCookie(c)
	return r
}

// TestAdminLoginTLS: a box reached over TLS gets a Secure cookie.
func TestAdminLoginTLS(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)
	r := httptest.NewRequest("POST", "https://tiers.box/admin/login", strings.NewReader(url.Values{"password": {staffPassword}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "10.42.0.50:40000"
	w := httptest.NewRecorder()
	b.srv.Wrap(b.srv.Pages()).ServeHTTP(w, r)
	c := staffCookieOf(w.Result())
	if w.Code != http.StatusSeeOther || c == nil || !c.Secure {
		t.Errorf("%d, cookie %+v", w.Code, c)
	}
}

func TestAdminCrossOrigin(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)
	cross := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
	res, body := b.do(req{method: "POST", target: "/admin/login", form: url.Values{"password": {staffPassword}}, header: cross})
	if res.StatusCode != http.StatusForbidden || staffCookieOf(res) != nil || !strings.Contains(body, "refusée") {
		t.Errorf("cross-origin login: %d", res.StatusCode)
	}

	_, _, c := b.login(staffPassword)
	res, _ = b.do(req{method: "POST", target: "/admin/logout", cookies: []*http.Cookie{c}, header: cross})
	if res.StatusCode != http.StatusForbidden || !b.srv.opts.Staff.Check(c.Value) {
		t.Errorf("a cross-origin logout: %d, or the session ended", res.StatusCode)
	}
}

func TestAdminLogout(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)
	_, _, c := b.login(staffPassword)
	res, _ := b.do(req{method: "POST", target: "/admin/logout", cookies: []*http.Cookie{c}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin" {
		t.Fatalf("logout: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if gone := staffCookieOf(res); gone == nil || gone.MaxAge >= 0 || gone.Value != "" {
		t.Errorf("the cookie was not cleared: %+v", gone)
	}
	// Even a copy of the cookie no longer works.
	_, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c}})
	if !strings.Contains(body, `type="password"`) {
		t.Error("the old cookie still opens the staff home")
	}
	if b.srv.isStaff(cookieRequest(c)) {
		t.Error("isStaff after logout")
	}
}

func TestAdminSessionExpires(t *testing.T) {
	b, clock := newStaffBox(t, staffPassword)
	_, _, c := b.login(staffPassword)
	clock.Add(staff.DefaultIdleTimeout)
	_, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c}})
	if !strings.Contains(body, `type="password"`) {
		t.Error("an idle session still opens the staff home")
	}
}

func TestRequireStaff(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)
	var sawStaff bool
	h := b.srv.Wrap(b.srv.requireStaff(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawStaff = b.srv.isStaff(r)
		io.WriteString(w, "moderation")
	})))
	serve := func(method, target string, c *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://tiers.box"+target, nil)
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := serve("GET", "/chat/general/moderate?x=1", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin?next=%2Fchat%2Fgeneral%2Fmoderate%3Fx%3D1" {
		t.Errorf("GET without a session: %d to %q", w.Code, w.Header().Get("Location"))
	}
	w = serve("POST", "/chat/general/remove", nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "réservée à l’équipe") {
		t.Errorf("POST without a session: %d", w.Code)
	}
	w = serve("GET", "/x", &http.Cookie{Name: staffCookie, Value: strings.Repeat("a", 64)})
	if w.Code != http.StatusSeeOther {
		t.Errorf("a forged cookie: %d", w.Code)
	}

	_, _, c := b.login(staffPassword)
	for _, method := range []string{"GET", "POST"} {
		sawStaff = false
		w = serve(method, "/x", c)
		if w.Code != 200 || w.Body.String() != "moderation" || !sawStaff {
			t.Errorf("%s with a session: %d %q, isStaff %v", method, w.Code, w.Body, sawStaff)
		}
	}

	// After logging in from the redirect, staff land on the page they
	// asked for; a return path off the box is ignored.
	res, _, _ := b.login(staffPassword, "next", "/chat/general/moderate?x=1")
	if loc := res.Header.Get("Location"); loc != "/chat/general/moderate?x=1" {
		t.Errorf("login with next: to %q", loc)
	}
	for _, next := range []string{"//evil.example/", "http://evil.example/", "/\\evil.example"} {
		res, _, _ := b.login(staffPassword, "next", next)
		if loc := res.Header.Get("Location"); loc != "/admin" {
			t.Errorf("login with next %q: to %q", next, loc)
		}
	}
	_, body := b.do(req{target: "/admin?next=%2Fchat%2Fgeneral"})
	if !strings.Contains(body, `name="next" value="/chat/general"`) {
		t.Error("the login form does not carry the return path")
	}
	_, body = b.do(req{target: "/admin?next=%2F%2Fevil.example"})
	if strings.Contains(body, `name="next"`) {
		t.Error("the login form carries a return path off the box")
	}
}

func TestAdminSlowdown(t *testing.T) {
	b, clock := newStaffBox(t, staffPassword)
	for range staff.FreeAttempts {
		b.login("devine")
	}
	res, body, c := b.login(staffPassword)
	if res.StatusCode != http.StatusTooManyRequests || c != nil || res.Header.Get("Retry-After") != "1" || !strings.Contains(body, "Réessayez dans 1 s") {
		t.Errorf("after %d failures: %d, Retry-After %q, cookie %v", staff.FreeAttempts, res.StatusCode, res.Header.Get("Retry-After"), c)
	}
	clock.Add(time.Second)
	if res, _, c := b.login(staffPassword); res.StatusCode != http.StatusSeeOther || c == nil {
		t.Errorf("after the wait: %d", res.StatusCode)
	}
}

func TestAdminNoPassword(t *testing.T) {
	b, _ := newStaffBox(t, "")
	_, body := b.do(req{target: "/admin", header: map[string]string{"Accept-Language": "en"}})
	if strings.Contains(body, `type="password"`) || !strings.Contains(body, "tiersbox init") || !strings.Contains(body, "tiersbox admin-password") {
		t.Errorf("the login page of a box without a staff password:\n%s", body)
	}
	res, _, c := b.login("n’importe quoi")
	if res.StatusCode != http.StatusForbidden || c != nil {
		t.Errorf("login: %d, cookie %v", res.StatusCode, c)
	}
}

func TestAdminLinks(t *testing.T) {
	b, _ := newStaffBox(t, staffPassword)
	_, _, c := b.login(staffPassword)
	_, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c}})
	// This box has no pads service: no link to a page that would say 404.
	if strings.Contains(body, `href="/pads"`) {
		t.Error("the staff home links to pads the box does not serve")
	}
	withPads, _ := newStaffBox(t, staffPassword, func(o *Options) {
		j, err := journal.Open(o.Store, journal.Origin{1}, journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if o.Pads, err = pad.New(o.Store, j, pad.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Pads.Close() })
	})
	_, _, pc := withPads.login(staffPassword)
	if _, body := withPads.do(req{target: "/admin", cookies: []*http.Cookie{pc}}); !strings.Contains(body, `<a href="/pads">Voir les pads</a>`) {
		t.Error("the staff home does not link to the pads")
	}
	res, _ := b.do(req{target: "/admin/", cookies: []*http.Cookie{c}})
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/admin" {
		t.Errorf("/admin/: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, target := range []string{"/admin/login", "/admin/logout"} {
		if res, _ := b.do(req{target: target}); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d", target, res.StatusCode)
		}
	}
}
