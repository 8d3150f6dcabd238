//go:build linux

package main

// The accessibility check of every page, through the real daemon and a real
// browser: axe-core (scripts/a11y, pinned in its package-lock.json) finds
// no WCAG 2.1 A or AA violation on any page in French and in English, no
// page scrolls sideways at 320 px wide or at 200 % zoom, the main forms
// are reached with Tab in order with a visible focus, and the welcome page
// stays light for a cheap phone on a busy WiFi.

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// a11yRole is who looks at a page: someone who has not entered yet, a
// visitor with a nickname, or a staff member (logged in, and entered).
type a11yRole int

const (
	anyone a11yRole = iota
	entered
	staffMember
)

// a11yPages lists every page the check visits. {pad} and {version} stand
// for the sample pad and one of its past versions. ready is a CSS selector
// that must be on the page (its content, so that a page is never checked
// empty; an image must have loaded). noJS: the page differs without
// JavaScript, so it is checked that way too. A new page is one more line.
var a11yPages = []struct {
	name  string
	path  string
	role  a11yRole
	noJS  bool
	ready string
}{
	{"welcome", "/welcome", anyone, false, "#nickname"},
	{"about", "/about?from=example.org", anyone, false, "ul.spaces"},
	{"privacy", "/privacy", anyone, false, "main h2"},
	{"pads, not entered", "/pads", anyone, false, "ul.spaces a"},
	{"chat channel, not entered", "/chat/g%C3%A9n%C3%A9ral", anyone, true, ".messages li[id]"},
	{"drive, not entered", "/drive", anyone, false, "ul.files img"},
	{"admin login", "/admin", anyone, false, "#password"},
	{"not found (404)", "/no-such-page", anyone, false, "p[role=alert]"},
	{"bad request (400)", "/pads/not%20a%20name", anyone, false, "p[role=alert]"},
	{"home", "/", entered, false, "ul.spaces"},
	{"welcome, entered", "/welcome", entered, false, "#nickname"},
	{"pads", "/pads", entered, false, "ul.spaces a"},
	{"pad", "/pads/{pad}", entered, true, "#pad-plain h1"},
	{"pad history", "/pads/{pad}/history", entered, false, "ol.history a"},
	{"pad past version", "/pads/{pad}/history/{version}", entered, false, "article.pad h1"},
	{"chat list", "/chat", entered, false, "ul.spaces a"},
	{"chat channel", "/chat/g%C3%A9n%C3%A9ral", entered, true, ".messages li[id] form.delete"},
	{"drive", "/drive", entered, true, "ul.files img"},
	{"privacy, entered", "/privacy", entered, false, `form[action="/privacy/erase"] input[type=checkbox]`},
	{"admin home", "/admin", staffMember, false, ".dashboard dl"},
	{"admin settings", "/admin/settings", staffMember, false, "#venue"},
	{"admin export", "/admin/export", staffMember, false, "#export-name"},
	{"admin backup", "/admin/backup", staffMember, false, `form[action="/admin/backup/restore"] input[type=file]`},
	{"admin moderation", "/admin/moderation", staffMember, false, "table.modlog td"},
	{"pad, staff", "/pads/{pad}", staffMember, true, `form[action$="/lock"] button`},
	{"admin peers", "/admin/peers", staffMember, false, "#self-id"},
	{"admin poster", "/admin/poster", staffMember, false, ".poster svg"},
	{"chat list, staff", "/chat", staffMember, false, `form[action="/chat/atelier/archive"] input[name=reopen]`},
	{"chat channel, staff", "/chat/g%C3%A9n%C3%A9ral", staffMember, true, ".moderate select"},
	{"drive, staff", "/drive", staffMember, true, ".hidden-file"},
}

// a11yTags are the axe-core rule sets of WCAG 2.1 levels A and AA.
var a11yTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// axeScript is axe-core as scripts/a11y installs it (npm ci).
const axeScript = "../../scripts/a11y/node_modules/axe-core/axe.min.js"

// welcomeBudget is what the welcome page may weigh in all: HTML, CSS,
// scripts and images.
const welcomeBudget = 50_000

// axeResult is what axe-core found: violations, and the rules it could
// not decide alone (such as contrast over an image), for a person to look.
type axeResult struct {
	Violations []axeViolation `json:"violations"`
	Incomplete []string       `json:"incomplete"`
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  string `json:"target"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

func TestA11y(t *testing.T) {
	requireE2E(t)
	axe, err := os.ReadFile(axeScript)
	if err != nil {
		t.Fatalf("axe-core is not installed (%v): run (cd scripts/a11y && npm ci), as scripts/test does", err)
	}

	const pw = "mot de passe du lieu"
	d := startDaemon(t, "--data", initBox(t, "Numérique en Commun[s]", pw), "--http", "127.0.0.1:0")
	defer d.stop(t, os.Interrupt)
	pad, version := a11yContent(t, d, pw)
	t.Logf("content: pad %s (past version %s), messages in #général, an archived channel, a photo and a hidden text in the drive", pad, version)

	total := 0
	for _, lang := range []struct{ code, accept, nick string }{
		{"fr", "fr-FR,fr", "Zoé"},
		{"en", "en-GB,en", "Sam"},
	} {
		ctx := browser(t, d.hostPort(), chromedp.Flag("lang", lang.accept[:5]), chromedp.Flag("accept-lang", lang.accept))
		checkWelcomeWeight(t, ctx)
		checkAxeFinds(t, ctx, string(axe))

		for role := anyone; role <= staffMember; role++ {
			switch role {
			case entered:
				// A refused nickname: the form says why.
				runBrowser(t, ctx, "back to the welcome page", chromedp.Navigate("http://tiers.box/welcome"))
				keyboardSubmit(t, ctx, "nickname", "<"+lang.nick+">", "#nickname-error")
				total += checkPage(t, ctx, string(axe), lang.code, "welcome, nickname refused", "", "#nickname-error", true)
				// Enter by keyboard alone, then try the main forms.
				runBrowser(t, ctx, "back to the welcome page", chromedp.Navigate("http://tiers.box/welcome"))
				checkKeyboard(t, ctx, lang.code+" welcome")
				keyboardSubmit(t, ctx, "nickname", lang.nick, "ul.spaces")
				checkKeyboard(t, ctx, lang.code+" home")
				for _, p := range []struct{ path, name string }{
					{"/pads", "pads"}, {"/chat/g%C3%A9n%C3%A9ral", "chat channel"}, {"/drive", "drive"},
				} {
					runBrowser(t, ctx, "opening "+p.path, chromedp.Navigate("http://tiers.box"+p.path))
					checkKeyboard(t, ctx, lang.code+" "+p.name)
				}
				// A message of this visitor's own, posted from the
				// keyboard, gives the channel its delete button.
				runBrowser(t, ctx, "opening the channel", chromedp.Navigate("http://tiers.box/chat/g%C3%A9n%C3%A9ral"))
				waitJS(t, ctx, "the channel is live", `document.querySelector(".chat-status").textContent !== ""`)
				keyboardSubmit(t, ctx, "chat-text", "Merci, à tout à l'heure !", ".messages li[id] form.delete")
			case staffMember:
				runBrowser(t, ctx, "opening the staff login", chromedp.Navigate("http://tiers.box/admin"))
				keyboardSubmit(t, ctx, "password", "pas le bon mot de passe", "#password-error")
				total += checkPage(t, ctx, string(axe), lang.code, "admin login, password refused", "", "#password-error", true)
				runBrowser(t, ctx, "opening the staff login", chromedp.Navigate("http://tiers.box/admin"))
				checkKeyboard(t, ctx, lang.code+" admin login")
				keyboardSubmit(t, ctx, "password", pw, `form[action="/admin/logout"]`)
			}
			for _, js := range []bool{true, false} {
				for _, p := range a11yPages {
					if p.role != role || (!js && !p.noJS) {
						continue
					}
					total += checkPage(t, ctx, string(axe), lang.code, p.name, expand(p.path, pad, version), p.ready, js)
				}
			}
		}
	}
	t.Logf("%d pages checked in two languages; %d axe-core violations (elements failing a rule)", countChecked(), total)
}

// countChecked is how many page checks a full run makes, for the summary.
func countChecked() int {
	n := 0
	for _, p := range a11yPages {
		n++
		if p.noJS {
			n++
		}
	}
	// The two refused forms (welcome, staff login).
	return 2 * (n + 2)
}

func expand(path, pad, version string) string {
	return strings.NewReplacer("{pad}", pad, "{version}", version).Replace(path)
}

// a11yContent fills the box as a visitor and staff would, so that no page
// is checked empty: a pad with a heading, a list, a link and code,
// messages in the default channel, an archived channel, and a photo and a
// text that staff hid in the drive. It returns the pad's name and one of
// its past versions.
func a11yContent(t *testing.T, d *daemon, pw string) (pad, version string) {
	t.Helper()
	ana := enterHTTP(t, d)
	md := "# Atelier vélo\n\nCe qu'il faut apporter :\n\n- une chambre à air\n- des rustines\n\n" +
		"Le programme est sur [le pad du lieu](/pads).\n\n```\ngonfler à 4 bars\n```\n"
	pad = importPadHTTP(t, d, ana, "atelier-velo.md", md)
	history := string(httpGet(t, d.url+"pads/"+pad+"/history", ana))
	m := regexp.MustCompile(`href="/pads/` + regexp.QuoteMeta(pad) + `/history/([^"?]+)"`).FindStringSubmatch(history)
	if m == nil {
		t.Fatalf("the pad's history lists no version:\n%s", history)
	}
	for _, text := range []string{
		"Bonjour à tous ! Le programme : https://tiers.box/pads/" + pad,
		"Qui a une pompe à vélo ?",
	} {
		postForm(t, d, ana, "chat/g%C3%A9n%C3%A9ral", "text="+strings.ReplaceAll(text, " ", "+"))
	}
	uploadHTTP(t, d, ana, "atelier vélo.png", testPhoto(t, 400, 300))
	notes := uploadHTTP(t, d, ana, "notes.txt", []byte("Notes de l'atelier\n"))
	staff := newStaffBrowser(t, d, pw)
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{"chat", url.Values{"name": {"atelier"}}},
		{"chat/atelier/archive", nil},
		{"drive-actions/hide", url.Values{"path": {notes}}},
	} {
		if res, body := staff.post(step.path, step.form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("staff POST /%s: %s\n%.500s", step.path, res.Status, body)
		}
	}
	return pad, m[1]
}

// importPadHTTP imports a Markdown file as a new pad, as the pads page's
// form does, and returns the new pad's name.
func importPadHTTP(t *testing.T, d *daemon, cookie *http.Cookie, name, text string) string {
	t.Helper()
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", name)
	io.WriteString(w, text)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, d.url+"pads/import", strings.NewReader(body.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", strings.TrimSuffix(d.url, "/"))
	req.AddCookie(cookie)
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/pads/") {
		t.Fatalf("importing %s: %s, Location %q", name, res.Status, loc)
	}
	return strings.TrimPrefix(loc, "/pads/")
}

// setScripts turns the page's JavaScript on or off for the pages opened
// next.
func setScripts(t *testing.T, ctx context.Context, on bool) {
	t.Helper()
	runBrowser(t, ctx, fmt.Sprintf("scripts on: %v", on), func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return chromedp.Void{}, err
	})
}

// checkPage opens a page (or stays on the page shown, for path ""), runs
// axe-core on it and checks its layout at 320 px wide and at 200 % zoom.
// It returns the number of elements that fail a rule.
func checkPage(t *testing.T, ctx context.Context, axe, lang, name, path, ready string, js bool) int {
	t.Helper()
	what := fmt.Sprintf("%s %s (%s)", lang, name, path)
	if !js {
		what += " without JavaScript"
	}
	if !js {
		// The page loads without its scripts; they are turned back on
		// once it is there, for axe-core's timers, but the page's own
		// never run (and <noscript> was read as markup).
		setScripts(t, ctx, false)
	}
	if path != "" {
		runBrowser(t, ctx, "opening "+what, chromedp.EmulateViewport(1280, 800), chromedp.Navigate("http://tiers.box"+path))
	} else {
		what = fmt.Sprintf("%s %s", lang, name)
		runBrowser(t, ctx, "resizing", chromedp.EmulateViewport(1280, 800))
	}
	if !js {
		setScripts(t, ctx, true)
	}
	if got := evalString(t, ctx, `document.documentElement.lang`); got != lang {
		t.Errorf("%s: the page is in %q", what, got)
	}
	waitJS(t, ctx, what+" shows "+ready, fmt.Sprintf(`(e => e !== null && (e.tagName !== "IMG" || (e.scrollIntoView(), e.complete && e.naturalWidth > 0)))(document.querySelector(%q))`, ready))
	if noscript := evalInt(t, ctx, `[...document.querySelectorAll("noscript")].filter(e => e.children.length > 0).length`); !js && strings.HasPrefix(path, "/pads/") && noscript == 0 {
		t.Errorf("%s: the page ran as if scripts were on (its <noscript> is not shown)", what)
	}

	res := runAxe(t, ctx, axe, "document")
	violations := res.Violations
	for _, v := range violations {
		for _, n := range v.Nodes {
			t.Errorf("%s: %s (%s) at %s: %s\n\t%s", what, v.ID, v.Impact, n.Target, v.Help, strings.ReplaceAll(n.Summary, "\n", "\n\t"))
		}
	}

	// 320 CSS px is a small phone; 640 CSS px on a 1280 px window is
	// that window at 200 % zoom.
	var widths []string
	for _, vp := range []struct {
		w, h  int64
		scale float64
		name  string
	}{{320, 640, 1, "320 px wide"}, {640, 400, 2, "200 % zoom"}} {
		runBrowser(t, ctx, "resizing to "+vp.name, chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateScale(vp.scale)))
		sw := evalInt(t, ctx, `document.documentElement.scrollWidth`)
		cw := evalInt(t, ctx, `document.documentElement.clientWidth`)
		if sw > cw {
			wide := evalString(t, ctx, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "")).join(", ")`)
			t.Errorf("%s scrolls sideways at %s: %d px of content for %d px (%s)", what, vp.name, sw, cw, wide)
		}
		widths = append(widths, fmt.Sprintf("%s %d/%d", vp.name, sw, cw))
	}
	review := ""
	if len(res.Incomplete) > 0 {
		review = fmt.Sprintf(" (%s left for a person to review)", strings.Join(res.Incomplete, ", "))
	}
	t.Logf("checked %s: %d axe-core violations%s; %s", what, len(violations), review, strings.Join(widths, ", "))
	n := 0
	for _, v := range violations {
		n += len(v.Nodes)
	}
	return n
}

// runAxe runs axe-core's WCAG 2.1 A and AA rules on a part of the page
// (a JavaScript expression: document, or a selector's context).
func runAxe(t *testing.T, ctx context.Context, axe, context string) axeResult {
	t.Helper()
	if evalString(t, ctx, `typeof axe`) == "undefined" {
		runBrowser(t, ctx, "injecting axe-core", chromedp.Evaluate[chromedp.Void](axe))
	}
	return fetchInPage[axeResult](t, ctx, fmt.Sprintf(`axe.run(%s, {
		runOnly: {type: "tag", values: ["%s"]},
		resultTypes: ["violations", "incomplete"],
	}).then(r => ({
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "), summary: n.failureSummary || ""})),
		})),
		incomplete: r.incomplete.map(v => v.id + " ×" + v.nodes.length),
	}))`, context, strings.Join(a11yTags, `", "`)))
}

// checkAxeFinds makes sure the check can fail: axe-core, as injected
// here, reports an image without a text and grey text on white.
func checkAxeFinds(t *testing.T, ctx context.Context, axe string) {
	t.Helper()
	// The box's Content-Security-Policy ignores style attributes in
	// markup; the CSS object model is allowed.
	runBrowser(t, ctx, "adding faults to the page", chromedp.Evaluate[chromedp.Void](`(() => {
		document.body.insertAdjacentHTML("beforeend", '<div id="a11y-canary"><img src="/no-such-image.png"><p>faint</p></div>');
		const p = document.querySelector("#a11y-canary p");
		p.style.color = "#bbb";
		p.style.background = "#fff";
	})()`))
	var found []string
	for _, v := range runAxe(t, ctx, axe, `{include: ["#a11y-canary"]}`).Violations {
		found = append(found, v.ID)
	}
	slices.Sort(found)
	if !slices.Contains(found, "image-alt") || !slices.Contains(found, "color-contrast") {
		t.Fatalf("axe-core missed faults put in the page: it found %v, want image-alt and color-contrast", found)
	}
	t.Logf("axe-core finds faults put in the page: %v", found)
}

// checkWelcomeWeight opens the welcome page in a browser with an empty
// cache and adds up what it loaded, from the browser's resource timing.
func checkWelcomeWeight(t *testing.T, ctx context.Context) {
	t.Helper()
	runBrowser(t, ctx, "opening the welcome page", chromedp.Navigate("http://tiers.box/welcome"))
	type entry struct {
		Name     string  `json:"name"`
		Transfer float64 `json:"transfer"`
		Decoded  float64 `json:"decoded"`
	}
	entries := fetchInPage[[]entry](t, ctx, `Promise.resolve([...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")].map(e => ({name: e.name, transfer: e.transferSize, decoded: e.decodedBodySize})))`)
	total := 0
	var parts []string
	for _, e := range entries {
		// The larger of what crossed the network (headers included) and
		// what the page holds once decoded.
		n := int(max(e.Transfer, e.Decoded))
		total += n
		parts = append(parts, fmt.Sprintf("%s %d B", filepath.Base(e.Name), n))
	}
	t.Logf("the welcome page weighs %d bytes in %d requests: %s", total, len(entries), strings.Join(parts, ", "))
	if len(entries) < 2 || total >= welcomeBudget {
		t.Errorf("the welcome page weighs %d bytes in %d requests; want under %d, its stylesheet included", total, len(entries), welcomeBudget)
	}
}

// tabStop is where focus is after a press of Tab.
type tabStop struct {
	Index   int    `json:"index"` // in the page's focusable elements, or -1
	Desc    string `json:"desc"`
	Style   string `json:"style"`
	Visible bool   `json:"visible"`
}

// checkKeyboard presses Tab through the page: every focusable element
// must be reached, in the order of the page, and look different when it
// has focus (an outline or a shadow); the first stop is the skip link to
// the main content.
func checkKeyboard(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	n := int(evalInt(t, ctx, `(() => {
		const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, iframe, audio[controls], video[controls], [tabindex], [contenteditable="true"]';
		const shown = el => {
			if (el.closest("[hidden], [inert]")) return false;
			const cs = getComputedStyle(el);
			if (cs.visibility === "hidden" || cs.display === "none") return false;
			const r = el.getBoundingClientRect();
			return r.width > 0 && r.height > 0;
		};
		const list = [...document.querySelectorAll(sel)].filter(el => !el.disabled && el.tabIndex >= 0 && shown(el));
		list.forEach((el, i) => { el.dataset.a11yTab = i });
		window.a11yDesc = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.getAttribute("href") ? "[href=" + el.getAttribute("href") + "]" : "") + (el.type ? "[type=" + el.type + "]" : "");
		window.a11yStyle = el => { const cs = getComputedStyle(el); return [cs.outlineStyle, cs.outlineWidth, cs.outlineColor, cs.boxShadow].join(" ") };
		window.a11yRest = list.map(a11yStyle);
		`+focusTop+`;
		return list.length;
	})()`))
	rest := fetchInPage[[]string](t, ctx, `Promise.resolve(window.a11yRest)`)
	var stops []tabStop
	for range n + 2 {
		runBrowser(t, ctx, "pressing Tab", chromedp.KeyEvent(kb.Tab))
		s := fetchInPage[tabStop](t, ctx, `Promise.resolve((el => {
			const cs = getComputedStyle(el);
			return {
				index: el.dataset && el.dataset.a11yTab !== undefined ? Number(el.dataset.a11yTab) : -1,
				desc: a11yDesc(el), style: a11yStyle(el),
				visible: (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== "none",
			};
		})(document.activeElement))`)
		if s.Index < 0 || (len(stops) > 0 && s.Index <= stops[len(stops)-1].Index) {
			break // out of the page, or round again
		}
		stops = append(stops, s)
	}
	var order []string
	reached := make([]bool, n)
	for _, s := range stops {
		order = append(order, s.Desc)
		reached[s.Index] = true
		if !s.Visible || s.Style == rest[s.Index] {
			t.Errorf("%s: %s shows no focus indicator (focused %q, at rest %q)", what, s.Desc, s.Style, rest[s.Index])
		}
	}
	if i := slices.Index(reached, false); i >= 0 {
		missed := evalString(t, ctx, fmt.Sprintf(`a11yDesc(document.querySelector('[data-a11y-tab="%d"]'))`, i))
		t.Errorf("%s: Tab never reaches %s (order: %s)", what, missed, strings.Join(order, " → "))
	}
	if len(stops) == 0 || !strings.HasPrefix(stops[0].Desc, "a[href=#main]") || evalInt(t, ctx, `document.querySelectorAll("main#main").length`) != 1 {
		t.Errorf("%s: the first Tab stop is not a skip link to the main content (order: %s)", what, strings.Join(order, " → "))
	}
	// The skip link leads to the main content: the Tab after it lands
	// there.
	runBrowser(t, ctx, "following the skip link", chromedp.Evaluate[chromedp.Void](focusTop), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.Tab))
	if inMain := evalString(t, ctx, `document.activeElement.closest("main") ? "" : a11yDesc(document.activeElement)`); inMain != "" {
		t.Errorf("%s: after the skip link, Tab goes to %s, outside the main content", what, inMain)
	}
	t.Logf("keyboard on %s: %d of %d elements reached with a visible focus, in order: %s", what, len(stops), n, strings.Join(order, " → "))
}

// focusTop puts focus before everything on the page, as on a page just
// opened (an autofocus field, or the last Tab, may have moved it): on an
// element out of the Tab order, first in the body.
const focusTop = `(() => {
	const top = document.createElement("span");
	top.tabIndex = -1;
	document.body.prepend(top);
	top.focus();
})()`

// keyboardSubmit reaches a field with Tab, types text into it and presses
// Enter, then waits for the selector next on the page that follows.
func keyboardSubmit(t *testing.T, ctx context.Context, id, text, next string) {
	t.Helper()
	runBrowser(t, ctx, "starting from the top", chromedp.Evaluate[chromedp.Void](focusTop))
	for i := 0; evalString(t, ctx, `document.activeElement.id`) != id; i++ {
		if i > 100 {
			t.Fatalf("Tab never reaches #%s", id)
		}
		runBrowser(t, ctx, "pressing Tab", chromedp.KeyEvent(kb.Tab))
	}
	runBrowser(t, ctx, "typing into #"+id+" and pressing Enter",
		chromedp.KeyEvent(text), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS(next)))
}
