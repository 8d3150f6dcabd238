package web

// The box promises visitors that its pages load nothing from outside it
// (privacy.short.outside). These tests hold it to that: they render every
// page the handler serves, as a newcomer, as an entered visitor and as
// staff, in both languages, and check every reference in the markup, the
// stylesheets and the Content-Security-Policy header.

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/moderation"
	"tiersbox/box/pad"
	"tiersbox/box/privacy"
	"tiersbox/box/visitor"
	"tiersbox/box/ydoc"
)

// refChecker finds, in what the box serves, references to anything that is
// not on the box.
type refChecker struct {
	// hosts are the box's own host[:port]s: an absolute URL to one of
	// them is still a path on the box.
	hosts map[string]bool
}

// refAttrs are the attributes through which markup loads another
// resource or leads to one. srcset, imagesrcset and ping hold several.
var refAttrs = map[string]bool{
	"src": true, "href": true, "action": true, "formaction": true, "srcset": true, "imagesrcset": true,
	"poster": true, "data": true, "background": true, "cite": true, "longdesc": true, "manifest": true,
	"ping": true, "icon": true, "lowsrc": true, "dynsrc": true,
}

// local reports whether ref, as a browser reads it, stays on the box: a
// relative reference (a path, "?query", "#fragment", or empty), or an
// absolute http(s) URL to one of the box's own hosts.
func (c refChecker) local(ref string) bool {
	// Browsers trim spaces and control characters around a URL, drop
	// tabs and newlines inside it, and read "\" as "/": "/\t/x" and
	// "/\x" both mean "//x", another host.
	ref = strings.TrimFunc(ref, func(r rune) bool { return r <= ' ' })
	ref = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, ref)
	if strings.HasPrefix(ref, "//") {
		return false
	}
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	if u.Scheme == "" && u.Host == "" && u.Opaque == "" {
		return true
	}
	return (u.Scheme == "http" || u.Scheme == "https") && c.hosts[u.Host]
}

// urls splits an attribute's value into the URLs it holds.
func attrURLs(key, val string) []string {
	switch key {
	case "srcset", "imagesrcset":
		var out []string
		for cand := range strings.SplitSeq(val, ",") {
			if f := strings.Fields(cand); len(f) > 0 {
				out = append(out, f[0])
			}
		}
		return out
	case "ping":
		return strings.Fields(val)
	}
	return []string{val}
}

var (
	cssURL    = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)`)
	cssImport = regexp.MustCompile(`(?i)@import\s+(?:"([^"]*)"|'([^']*)')`)
	refreshTo = regexp.MustCompile(`(?i)url\s*=\s*['"]?([^'"\s]+)`)
)

// checkCSS returns the references in a stylesheet (a file, a <style>
// block or a style attribute) that leave the box.
func (c refChecker) checkCSS(css string) []string {
	var out []string
	for _, re := range []*regexp.Regexp{cssURL, cssImport} {
		for _, m := range re.FindAllStringSubmatch(css, -1) {
			ref := strings.Join(m[1:], "")
			if !c.local(ref) {
				out = append(out, fmt.Sprintf("%s: %q", strings.TrimSpace(m[0]), ref))
			}
		}
	}
	return out
}

// placeFunc reports whether an element sits in text that visitors wrote.
type placeFunc func(*html.Node) bool

// inVisitorText is where pages show what visitors wrote with their web
// addresses made into links: a chat message's text (chat.html:
// <ol class="messages"><li><p class="text">) and a pad's text (pad.html,
// version.html: <article class="pad">). Links there are the visitors'
// choice to follow, not something the page loads.
func inVisitorText(n *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		switch {
		case p.Type != html.ElementNode:
		case p.Data == "p" && hasClass(p, "text") && within(p, "ol", "messages"):
			return true
		case p.Data == "article" && hasClass(p, "pad"):
			return true
		}
	}
	return false
}

// inExportBody: a pad exported as a page (GET /pads/NAME.html) is the
// pad's text and nothing else, so its whole body is what visitors wrote.
func inExportBody(n *html.Node) bool { return within(n, "body", "") }

func within(n *html.Node, tag, class string) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == tag && (class == "" || hasClass(p, class)) {
			return true
		}
	}
	return false
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == "class" && slices.Contains(strings.Fields(a.Val), class) {
			return true
		}
	}
	return false
}

// checkHTML returns the references in a page that leave the box, and
// apart the links that visitors wrote (<a href> in a place visitorText
// accepts), which may.
func (c refChecker) checkHTML(r io.Reader, visitorText placeFunc) (findings, visitorLinks []string, err error) {
	doc, err := html.Parse(r)
	if err != nil {
		return nil, nil, err
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "style" {
			for t := range n.Descendants() {
				if t.Type == html.TextNode {
					for _, f := range c.checkCSS(t.Data) {
						findings = append(findings, "<style> "+f)
					}
				}
			}
		}
		for _, a := range n.Attr {
			switch {
			case a.Key == "style":
				for _, f := range c.checkCSS(a.Val) {
					findings = append(findings, fmt.Sprintf("<%s style> %s", n.Data, f))
				}
			case n.Data == "meta" && a.Key == "content" && strings.EqualFold(attr(n, "http-equiv"), "refresh"):
				if m := refreshTo.FindStringSubmatch(a.Val); m != nil && !c.local(m[1]) {
					findings = append(findings, fmt.Sprintf("<meta http-equiv=refresh> %q", m[1]))
				}
			case refAttrs[a.Key]:
				for _, ref := range attrURLs(a.Key, a.Val) {
					if c.local(ref) {
						continue
					}
					if n.Data == "a" && a.Key == "href" && visitorText != nil && visitorText(n) {
						visitorLinks = append(visitorLinks, ref)
						continue
					}
					key := a.Key
					if a.Namespace != "" {
						key = a.Namespace + ":" + key
					}
					findings = append(findings, fmt.Sprintf("<%s %s=%q>", n.Data, key, ref))
				}
			}
		}
	}
	return findings, visitorLinks, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// cspSourceOK reports whether a source expression allows nothing but the
// box itself: 'self', 'none', hashes, nonces, the unsafe-* keywords
// (which are about inline code, not origins) and the data: and blob:
// schemes, which name no origin. 'strict-dynamic' is refused: it lets a
// trusted script load scripts from anywhere.
func cspSourceOK(src string) bool {
	src = strings.ToLower(src)
	switch {
	case src == "'strict-dynamic'":
		return false
	case strings.HasPrefix(src, "'") && strings.HasSuffix(src, "'"):
		return true
	case src == "data:" || src == "blob:":
		return true
	}
	return false
}

// checkCSP returns what in a reply's Content-Security-Policy (and
// X-Frame-Options) allows another origin. html says whether the reply is
// a page, where the policy must also close what default-src does not
// govern: where forms go and what <base> may say.
func (c refChecker) checkCSP(h http.Header, isHTML bool) []string {
	var out []string
	policies := h.Values("Content-Security-Policy")
	if len(policies) == 0 {
		return []string{"no Content-Security-Policy"}
	}
	dirs := map[string][]string{}
	for _, policy := range policies {
		for d := range strings.SplitSeq(policy, ";") {
			f := strings.Fields(d)
			if len(f) == 0 {
				continue
			}
			name := strings.ToLower(f[0])
			if _, dup := dirs[name]; !dup { // a repeated directive is ignored
				dirs[name] = f[1:]
			}
		}
	}
	for name, srcs := range dirs {
		switch name {
		case "sandbox", "upgrade-insecure-requests", "block-all-mixed-content", "report-to",
			"require-trusted-types-for", "trusted-types":
			// No sources (report-to names a group, which needs a
			// Reporting-Endpoints header, checked below).
		case "report-uri":
			for _, u := range srcs {
				if !c.local(u) {
					out = append(out, fmt.Sprintf("report-uri %s", u))
				}
			}
		default:
			if len(srcs) == 0 {
				out = append(out, name+" with no source")
			}
			for _, s := range srcs {
				if !cspSourceOK(s) {
					out = append(out, fmt.Sprintf("%s allows %s", name, s))
				}
			}
		}
	}
	if _, ok := dirs["default-src"]; !ok {
		out = append(out, "no default-src: whatever no other directive names may come from anywhere")
	}
	_, sandboxed := dirs["sandbox"]
	if _, ok := dirs["form-action"]; !ok && !(sandboxed && !slices.Contains(dirs["sandbox"], "allow-forms")) {
		out = append(out, "no form-action: forms may post anywhere")
	}
	if _, ok := dirs["base-uri"]; !ok && isHTML && !sandboxed {
		out = append(out, "no base-uri: a <base> may point relative links anywhere")
	}
	if _, ok := dirs["frame-ancestors"]; !ok {
		if xfo := strings.ToUpper(h.Get("X-Frame-Options")); xfo != "DENY" && xfo != "SAMEORIGIN" {
			out = append(out, "no frame-ancestors and no X-Frame-Options: any site may frame the page")
		}
	}
	for _, name := range []string{"Reporting-Endpoints", "Report-To", "NEL"} {
		if v := h.Get(name); v != "" {
			out = append(out, fmt.Sprintf("%s: %s", name, v))
		}
	}
	return out
}

// TestExternalCheckerFinds proves the checkers would catch a page, a
// stylesheet or a policy that reaches outside the box, and accept what
// the box does.
func TestExternalCheckerFinds(t *testing.T) {
	c := refChecker{hosts: map[string]bool{"tiers.box": true}}
	chatMessage := func(inner string) string {
		return `<ol class="messages"><li id="m-1"><p class="meta"><strong class="nick">Ana</strong></p><p class="text">` + inner + `</p></li></ol>`
	}
	tests := []struct {
		name, page  string
		findings    int
		visitorLink int
	}{
		{"script from a CDN", `<script src="https://cdn.example/lib.js"></script>`, 1, 0},
		{"protocol-relative stylesheet", `<link rel="stylesheet" href="//cdn.example/x.css">`, 1, 0},
		{"stylesheet behind spaces", `<link rel="stylesheet" href="  //cdn.example/x.css">`, 1, 0},
		{"tab inside the slashes", "<img src=\"/\t/cdn.example/x.png\">", 1, 0},
		{"backslash for a slash", `<img src="/\cdn.example/x.png">`, 1, 0},
		{"srcset", `<img src="/a.png" srcset="/a.png 1x, https://cdn.example/b.png 2x">`, 1, 0},
		{"poster", `<video poster="http://cdn.example/p.jpg"></video>`, 1, 0},
		{"object data", `<object data="https://cdn.example/o.svg"></object>`, 1, 0},
		{"form action", `<form method="post" action="https://evil.example/"></form>`, 1, 0},
		{"formaction", `<form method="post" action="/x"><button formaction="https://evil.example/">x</button></form>`, 1, 0},
		{"style attribute", `<p style="background: url('https://cdn.example/bg.png')">x</p>`, 1, 0},
		{"style block", `<style>@import "https://cdn.example/x.css"; body { background: url(//cdn.example/b.png) }</style>`, 2, 0},
		{"SVG use", `<svg><use xlink:href="https://cdn.example/s.svg#i"></use></svg>`, 1, 0},
		{"meta refresh", `<meta http-equiv="refresh" content="0; url=https://evil.example/">`, 1, 0},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, 1, 0},
		{"box's own link outside", `<footer><a href="https://example.org/">x</a></footer>`, 1, 0},
		{"data image", `<img src="data:image/png;base64,AAAA">`, 1, 0},
		{"chat link", chatMessage(`voir <a href="https://example.org/atelier">https://example.org/atelier</a>`), 0, 1},
		{"chat link to the box", chatMessage(`<a href="http://tiers.box/pads">x</a>`), 0, 0},
		{"image in a chat message", chatMessage(`<img src="https://cdn.example/x.png">`), 1, 0},
		{"link beside a chat message's text", `<ol class="messages"><li><p class="meta"><a href="https://example.org/">x</a></p></li></ol>`, 1, 0},
		{"pad link", `<article id="pad-plain" class="pad"><p><a href="https://example.org/">x</a></p></article>`, 0, 1},
		{"pad image", `<article class="pad"><p><img src="https://cdn.example/x.png" alt="x"></p></article>`, 1, 0},
		{"the box's own paths", `<a href="/pads">x</a><a href="#main">x</a><a href="?q=x">x</a><a href="pads/x">x</a><a href="">x</a><form action="/enter"></form><img src="/drive/a.png?thumb"><a href="http://tiers.box/x">x</a>`, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := "<!doctype html><html><head></head><body>" + tt.page + "</body></html>"
			findings, links, err := c.checkHTML(strings.NewReader(page), inVisitorText)
			if err != nil {
				t.Fatal(err)
			}
			if len(findings) != tt.findings || len(links) != tt.visitorLink {
				t.Errorf("findings %q, visitors' links %q; want %d and %d", findings, links, tt.findings, tt.visitorLink)
			}
		})
	}
	if f := c.checkCSS("@font-face { src: url(\"https://fonts.example/a.woff2\") } .x { background: url(/static/a.svg) }"); len(f) != 1 {
		t.Errorf("stylesheet: %q, want one finding", f)
	}

	xfo := func(policy string) http.Header {
		h := http.Header{}
		if policy != "" {
			h.Set("Content-Security-Policy", policy)
		}
		h.Set("X-Frame-Options", "DENY")
		return h
	}
	csp := []struct {
		name   string
		h      http.Header
		isHTML bool
		bad    bool
	}{
		{"the box's policy", xfo(contentSecurityPolicy), true, false},
		{"a drive file's policy", xfo("sandbox; default-src 'none'"), false, false},
		{"none", xfo(""), true, true},
		{"a CDN host", xfo("default-src 'self' https://cdn.example; form-action 'self'; base-uri 'self'"), true, true},
		{"a wildcard", xfo("default-src *; form-action 'self'; base-uri 'self'"), true, true},
		{"any https script", xfo("default-src 'self'; script-src 'self' https:; form-action 'self'; base-uri 'self'"), true, true},
		{"strict-dynamic", xfo("default-src 'self'; script-src 'strict-dynamic' 'nonce-abc'; form-action 'self'; base-uri 'self'"), true, true},
		{"no default-src", xfo("img-src 'self'; form-action 'self'; base-uri 'self'"), true, true},
		{"no form-action", xfo("default-src 'self'; base-uri 'self'"), true, true},
		{"no base-uri", xfo("default-src 'self'; form-action 'self'"), true, true},
		{"reports sent out", xfo(contentSecurityPolicy + "; report-uri https://collector.example/csp"), true, true},
		{"no framing rule", http.Header{"Content-Security-Policy": {"default-src 'self'; form-action 'self'; base-uri 'self'"}}, true, true},
	}
	for _, tt := range csp {
		if f := c.checkCSP(tt.h, tt.isHTML); (len(f) > 0) != tt.bad {
			t.Errorf("%s: %q", tt.name, f)
		}
	}
}

// externalBox is a box with every part the web handler can serve, some
// content written by a visitor, and three people: a newcomer, an entered
// visitor and a logged-in staff member.
type externalBox struct {
	srv                      *Server
	hs                       *httptest.Server
	newcomer, visitor, staff *person
}

func newExternalBox(t *testing.T) *externalBox {
	t.Helper()
	data := t.TempDir()
	st, j := openVenue(t, data)
	pads, err := pad.New(st, j, pad.Options{Window: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	chats, err := chat.New(st, j, chat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := drive.New(st, j, drive.Options{
		Dir: filepath.Join(data, "drive"), TmpDir: filepath.Join(data, "drive-tmp"), ThumbDir: filepath.Join(data, "drive-thumbs"),
		MaxFileSize: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakePeers{
		seen: []PeerSeen{{DeviceID: thirdID, Name: "Fablab du coin", Version: "v1.0", Addresses: []string{"tcp://192.168.1.30:22000"}}},
		linked: []PeerLinked{{DeviceID: otherID, Name: "Café des Possibles", Connected: true, Address: "192.168.1.21:51000",
			Folders: []PeerFolder{{Kind: FolderJournal}, {Kind: FolderDrive, NeedFiles: 1, NeedBytes: 10}}}},
	}
	fp.StartPairing("tiers.box") // the page then shows the code and its QR
	srv, err := New(Options{
		Store: st, Visitors: visitor.New(st, visitor.Options{}), Addresses: []string{"tiers.box", "10.42.0.1"},
		Pads: pads, Chat: chats, Drive: d, Peers: fp, Backup: &fakeBackup{}, Version: "test",
		Privacy: privacy.New(j, chats, d, nil), Moderation: moderation.New(j),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Wrap(srv.Pages()))
	t.Cleanup(func() { srv.CloseWebsockets(); hs.Close(); pads.Close(); d.Close() })

	b := &externalBox{srv: srv, hs: hs}
	b.newcomer = newPerson(t, hs, "")
	b.visitor = newPerson(t, hs, "Ana")
	b.staff = newPerson(t, hs, "")
	if res, _ := b.staff.post("/admin/login", url.Values{"password": {staffPassword}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff login: %d", res.StatusCode)
	}

	// What the visitor writes, with web addresses of their choice in it.
	if res, body := b.visitor.post(generalPath, url.Values{"text": {"Le programme : https://example.org/atelier?jour=1 et les notes sur /pads"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("chat post: %d\n%s", res.StatusCode, body)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "Compte rendu.md")
	fw.Write([]byte("# Compte rendu\n\nVoir [le site du lieu](https://example.org/) et <https://example.net/doc>.\n\n![l'affiche](https://cdn.example/affiche.png)\n"))
	mw.Close()
	if res, body := b.visitor.send("/pads/import", mw.FormDataContentType(), &mp, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pad import: %d\n%s", res.StatusCode, body)
	}
	p, err := pads.Open("compte-rendu")
	if err != nil {
		t.Fatal(err)
	}
	p.Edit(visitor.Pseudonym(b.visitor.visitorID()), func(d *ydoc.Doc) error {
		txt := d.Text(pad.ContentName)
		return txt.Insert(txt.Len(), "\n- une deuxième version\n")
	})
	p.Flush()
	res, body := b.visitor.upload(map[string]string{"folder": "atelier", "licence": "CC BY-SA 4.0", "description": "L’affiche, aussi sur https://example.org/affiche"},
		[]upload{{"affiche.png", pngImage(t, 64, 48)}, {"notes.txt", []byte("des notes")}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("drive upload: %d\n%s", res.StatusCode, body)
	}
	return b
}

// pageCrawl visits pages as one person in one language, following every
// link that stays on the box.
type pageCrawl struct {
	t      *testing.T
	b      *externalBox
	c      refChecker
	who    string
	p      *person
	lang   string
	seen   map[string]bool
	queue  []string
	served map[string]bool // route patterns that answered, across crawls

	pages, visitorLinks int
}

// maxCrawl bounds one crawl; far more than the box has pages.
const maxCrawl = 300

// add queues target, a link found on a page or, if seed, one the crawl
// starts from.
func (cr *pageCrawl) add(target string, seed bool) {
	u, err := url.Parse(target)
	if err != nil || u.Host != "" && !cr.c.hosts[u.Host] {
		return
	}
	target = u.RequestURI()
	switch {
	case cr.seen[target]:
	case u.Path == "/lang" && !seed:
		// Following the language switch would change the crawl's
		// language; a seed checks its page.
	case strings.HasPrefix(u.Path, "/ws/"):
		// Websockets (data-ws), not pages.
	default:
		cr.seen[target] = true
		cr.queue = append(cr.queue, target)
	}
}

func (cr *pageCrawl) run(seeds ...string) {
	for _, s := range seeds {
		cr.add(s, true)
	}
	for len(cr.queue) > 0 {
		if len(cr.seen) > maxCrawl {
			cr.t.Fatalf("%s: more than %d pages: a link loop?", cr.who, maxCrawl)
		}
		target := cr.queue[0]
		cr.queue = cr.queue[1:]
		req, _ := http.NewRequest("GET", cr.b.hs.URL+target, nil)
		cr.check(req)
	}
}

// check sends req as the crawl's person and checks the answer.
func (cr *pageCrawl) check(req *http.Request) {
	t := cr.t
	t.Helper()
	_, pattern := cr.b.srv.mux.Handler(req)
	cr.served[pattern] = true
	res, err := cr.p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	where := fmt.Sprintf("%s, %s, %s %s", cr.who, cr.lang, req.Method, req.URL.RequestURI())

	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	disposition, _, _ := mime.ParseMediaType(res.Header.Get("Content-Disposition"))
	isHTML := ct == "text/html"
	for _, f := range cr.c.checkCSP(res.Header, isHTML) {
		t.Errorf("%s: Content-Security-Policy: %s", where, f)
	}
	what := ct
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		loc := res.Header.Get("Location")
		if !cr.c.local(loc) {
			t.Errorf("%s: redirects outside the box: %q", where, loc)
		}
		cr.add(loc, false)
		what = "redirect to " + loc
	case isHTML && pattern == "GET /drive/{path...}" && disposition != "":
		what = "a visitor's file, not a page"
	case isHTML:
		place := inVisitorText
		if disposition == "attachment" && pattern == "GET /pads/{name}" {
			place, what = inExportBody, "a pad exported as a page"
		} else {
			what = "page"
		}
		findings, links, err := cr.c.checkHTML(bytes.NewReader(body), place)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		for _, f := range findings {
			t.Errorf("%s: refers outside the box: %s", where, f)
		}
		cr.pages++
		cr.visitorLinks += len(links)
		if len(links) > 0 {
			what += fmt.Sprintf(", %d link(s) visitors wrote", len(links))
		}
		doc, _ := html.Parse(bytes.NewReader(body))
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode {
				continue
			}
			for _, a := range n.Attr {
				if (a.Key == "href" || a.Key == "src") && cr.c.local(a.Val) && !strings.HasPrefix(a.Val, "#") {
					cr.add(a.Val, false)
				}
			}
		}
	case ct == "text/css":
		for _, f := range cr.c.checkCSS(string(body)) {
			t.Errorf("%s: stylesheet refers outside the box: %s", where, f)
		}
		what = "stylesheet"
	}
	t.Logf("%s → %d, %s [%s]", where, res.StatusCode, what, pattern)
}

// TestNothingLoadedFromOutside renders every page as a newcomer, an
// entered visitor and staff, in French and English, and checks every
// reference in them, the stylesheets and every reply's
// Content-Security-Policy.
func TestNothingLoadedFromOutside(t *testing.T) {
	b := newExternalBox(t)
	hsURL, _ := url.Parse(b.hs.URL)
	c := refChecker{hosts: map[string]bool{hsURL.Host: true}}

	// The crawl starts from these, and follows every link from there.
	// Pages no link leads to (error pages, the staff-only page asked for
	// by someone else) are here too.
	seeds := []string{
		"/", "/welcome", "/about", "/about?from=example.org", "/privacy",
		"/pads", "/pads?q=compte", "/pads/compte-rendu", "/chat", generalPath, "/drive", "/drive?folder=atelier",
		"/admin", "/admin/", "/admin/peers", "/admin/export/download", "/admin/backup", "/admin/backup/download", "/admin/moderation", "/healthz", "/metrics",
		"/nowhere", "/static/nowhere.css", "/lang?to=xx", "/pads/pas%20un%20nom", "/pads/compte-rendu/history/nope",
		"/chat/pas%20un%20salon", "/drive/nowhere.png", "/enter", "/admin/login", "/pair",
	}
	for name := range b.srv.staticOf {
		if strings.HasSuffix(name, ".css") {
			seeds = append(seeds, b.srv.staticOf[name])
		}
	}
	// Pages that answer a form: a refusal, or the form again with an error.
	posts := []struct {
		path   string
		form   url.Values
		header map[string]string
	}{
		{"/enter", url.Values{"nickname": {""}}, nil},
		{"/enter", url.Values{"nickname": {"Eve"}}, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}},
		{"/enter", url.Values{"nickname": {strings.Repeat("a", 10000)}}, nil},
		{"/admin/login", url.Values{"password": {"pas le bon"}}, nil},
		{generalPath, url.Values{"text": {""}}, nil},
		{"/pads", url.Values{"title": {""}}, nil},
	}

	served := map[string]bool{}
	personas := []struct {
		who string
		p   *person
	}{{"newcomer", b.newcomer}, {"visitor", b.visitor}, {"staff", b.staff}}
	for _, pp := range personas {
		for _, lang := range []string{"fr", "en"} {
			pp.p.client.Jar.SetCookies(hsURL, []*http.Cookie{{Name: langCookie, Value: lang, Path: "/"}})
			cr := &pageCrawl{t: t, b: b, c: c, who: pp.who, p: pp.p, lang: lang, seen: map[string]bool{}, served: served}
			cr.run(seeds...)
			for _, ps := range posts {
				req, _ := http.NewRequest("POST", b.hs.URL+ps.path, strings.NewReader(ps.form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", b.hs.URL)
				for k, v := range ps.header {
					req.Header.Set(k, v)
				}
				cr.check(req)
			}
			t.Logf("%s, %s: %d pages checked, %d links visitors wrote left to them", pp.who, lang, cr.pages, cr.visitorLinks)
			if pp.who != "newcomer" && cr.visitorLinks == 0 {
				// The chat message and the pad hold such links: if none
				// was seen, the places inVisitorText knows have moved.
				t.Errorf("%s, %s: no link visitors wrote was found: does inVisitorText still match chat.html and pad.html?", pp.who, lang)
			}
		}
	}

	// Every GET route the package declares must have answered at least
	// once, so that a new page cannot escape the check.
	for _, pattern := range getPatterns(t) {
		if strings.HasPrefix(pattern, "GET /ws/") {
			continue // websockets: no page, nothing to load
		}
		if !served[pattern] {
			t.Errorf("%s is served but no check reached it: add a seed (or a link to it)", pattern)
		}
	}
	if !served["/"] {
		t.Error("the not-found page was not checked")
	}
}

// getPatterns lists the "GET ..." route patterns written in the package's
// source.
func getPatterns(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(GET /[^"]*)"`)
	set := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			set[m[1]] = true
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	if len(out) < 10 {
		t.Fatalf("only %d GET routes found in the source: %q", len(out), out)
	}
	return out
}
