package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"tiersbox/box/settings"
	"tiersbox/box/visitor"
)

// newPrivacyBox is a test box whose visitor sessions last sessionLength
// (zero: the default), for a venue with a name that needs escaping.
func newPrivacyBox(t *testing.T, sessionLength time.Duration) *testBox {
	t.Helper()
	b, _ := newStaffBox(t, "", func(o *Options) {
		o.Visitors = visitor.New(o.Store, visitor.Options{SessionLength: sessionLength})
	})
	b.visitors = b.srv.opts.Visitors
	if err := settings.Save(b.st, settings.Settings{Venue: "La Fabrique <du> Coin"}); err != nil {
		t.Fatal(err)
	}
	return b
}

// langIs is the cookie of a visitor who chose lang.
func langIs(lang string) []*http.Cookie { return []*http.Cookie{{Name: langCookie, Value: lang}} }

func TestPrivacyPage(t *testing.T) {
	tests := []struct {
		lang    string
		session time.Duration
		want    []string
	}{
		{"fr", 0, []string{
			`<h1>Vie privée</h1>`, "La Fabrique &lt;du&gt; Coin", "le temps de votre session : 24 h.",
			"Pas de compte, pas d’e-mail", "Pas de pistage, pas de publicité", "Rien n’est chargé depuis internet",
			"tb_visitor", "adresse matérielle (MAC)", "pseudonyme calculé à partir de votre identifiant",
			"box que l’équipe a reliées", "tentative de connexion de l’équipe qui échoue", "Adressez-vous à l’équipe de La Fabrique &lt;du&gt; Coin",
			`<a href="/welcome">Entrer sur la box</a>`, `href="/lang?to=en&amp;back=%2fprivacy"`,
		}},
		{"en", 0, []string{
			`<h1>Privacy</h1>`, "La Fabrique &lt;du&gt; Coin", "for the length of your session: 24 hours.",
			"No account, no e-mail", "No tracking, no advertising", "Nothing is loaded from the internet",
			"tb_visitor", "hardware (MAC) address", "pseudonym derived from your ID",
			"boxes its staff linked", "every failed staff login", "Ask the staff of La Fabrique &lt;du&gt; Coin",
			`<a href="/welcome">Enter the box</a>`, `href="/lang?to=fr&amp;back=%2fprivacy"`,
		}},
		// The length is the one the box is configured with.
		{"fr", 72 * time.Hour, []string{"le temps de votre session : 3 jours."}},
		{"en", 72 * time.Hour, []string{"for the length of your session: 3 days."}},
		{"en", 2 * time.Hour, []string{"for the length of your session: 2 hours."}},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+tt.session.String(), func(t *testing.T) {
			b := newPrivacyBox(t, tt.session)
			res, body := b.do(req{target: "/privacy", cookies: langIs(tt.lang)})
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Language") != tt.lang {
				t.Fatalf("%d, %q", res.StatusCode, res.Header.Get("Content-Language"))
			}
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			checkReadable(t, body, tt.lang)
		})
	}
}

// checkReadable checks what makes the page usable without JavaScript and
// with a screen reader: no script, the page's language, the landmarks,
// one h1 before the h2s, and each section named by its heading.
func checkReadable(t *testing.T, body, lang string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	ids := map[string]string{} // id → element
	var labelled []string
	var headings []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "form" && attr(n, "action") == "/privacy/erase" {
			continue // the visitor's erasure: an action, not needed to read
		}
		count[n.Data]++
		if id := attr(n, "id"); id != "" {
			ids[id] = n.Data
		}
		switch n.Data {
		case "html":
			if attr(n, "lang") != lang {
				t.Errorf("<html lang=%q>, want %q", attr(n, "lang"), lang)
			}
		case "section":
			labelled = append(labelled, attr(n, "aria-labelledby"))
		case "h1", "h2", "h3":
			headings = append(headings, n.Data)
		}
	}
	for _, tag := range []string{"script", "noscript", "iframe", "form"} {
		if count[tag] > 0 {
			// The language switch is links, and nothing on the page needs
			// a form or a script to be read.
			t.Errorf("the page has %d <%s>", count[tag], tag)
		}
	}
	for _, tag := range []string{"header", "main", "footer"} {
		if count[tag] != 1 {
			t.Errorf("%d <%s> landmarks, want 1", count[tag], tag)
		}
	}
	if len(headings) < 2 || headings[0] != "h1" || count["h1"] != 1 {
		t.Errorf("headings %v: want one h1, first", headings)
	}
	if len(labelled) < 5 {
		t.Errorf("%d sections, want the page in sections", len(labelled))
	}
	for _, id := range labelled {
		if ids[id] != "h2" {
			t.Errorf("a section is labelled by %q, which is a <%s>, not its h2", id, ids[id])
		}
	}
}

// TestPrivacyEntered: an entered visitor reads their own nickname and when
// their session, and with it what the box keeps, ends.
func TestPrivacyEntered(t *testing.T) {
	b := newPrivacyBox(t, 0)
	res, _ := b.do(req{method: "POST", target: "/enter", form: url.Values{"nickname": {"Zoé"}}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enter: %d", res.StatusCode)
	}
	v, err := b.visitors.ByID(res.Cookies()[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"fr": {"Vous êtes entré·e sous le pseudo « Zoé » ; votre session se termine le " + v.Expires.Local().Format("02/01/2006 à 15:04") + ".", `<a href="/">Accueil</a>`},
		"en": {"You entered as “Zoé”; your session ends on " + v.Expires.Local().Format("2006-01-02 at 15:04") + ".", `<a href="/">Home</a>`},
	} {
		_, body := b.do(req{target: "/privacy", cookies: append(res.Cookies(), langIs(lang)...)})
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
		checkReadable(t, body, lang)
	}
	// Someone else on another device does not see Zoé's session.
	_, body := b.do(req{target: "/privacy", client: "10.42.0.99"})
	if strings.Contains(body, "Zoé") {
		t.Error("another device sees the visitor's nickname")
	}
}

// TestPrivacyLinked: every page's footer leads to the privacy page, and
// the welcome page says where to read more next to what it keeps.
func TestPrivacyLinked(t *testing.T) {
	b := newPrivacyBox(t, 0)
	for _, lang := range []string{"fr", "en"} {
		for _, target := range []string{"/welcome", "/about", "/privacy", "/nowhere", "/admin", "/lang?to=xx"} {
			_, body := b.do(req{target: target, cookies: langIs(lang)})
			footer := body[strings.Index(body, "<footer>"):]
			label := translate(lang, "nav.privacy")
			if !strings.Contains(footer, `<a href="/privacy">`+label+`</a>`) {
				t.Errorf("%s %s: no privacy link in the footer", lang, target)
			}
		}
		_, body := b.do(req{target: "/welcome", cookies: langIs(lang)})
		main := body[strings.Index(body, "<main"):strings.Index(body, "</main>")]
		if !strings.Contains(main, `<a href="/privacy">`+translate(lang, "privacy.more")+`</a></p>`) {
			t.Errorf("%s: the welcome page does not link to the privacy page", lang)
		}
	}
}
