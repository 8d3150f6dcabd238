//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts a headless Chromium of its own (its own profile, so two
// of them share nothing: no IndexedDB, no BroadcastChannel between tabs)
// whose every host name leads to the box on loopback.
func browser(t *testing.T, hostPort string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := chromiumOptions(append(extra, chromedp.Flag("host-resolver-rules", "MAP * "+hostPort))...)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	// The first action starts the browser; it must not run under a
	// timeout, which would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

func runBrowser(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// enterSteps are a visitor's first steps: the welcome page, a nickname,
// Enter, and the home page, then whatever follows.
func enterSteps(nick string, then ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
	return append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate("http://tiers.box/welcome"),
		chromedp.WaitVisible(chromedp.ID("nickname")),
		chromedp.SendKeys(chromedp.ID("nickname"), nick),
		chromedp.Click(chromedp.CSS(`form.enter button[type="submit"]`)),
		// The home page (the welcome page has an h1 too).
		chromedp.WaitVisible(chromedp.CSS(`ul.spaces`)),
	}, then...)
}

// waitJS polls a JavaScript expression until it is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(window.tiersboxPad ? JSON.stringify(window.tiersboxPad.text.toString()) : "no pad") + " " + (document.getElementById("pad-app")||{dataset:{}}).dataset.state`))
			t.Fatalf("%s: still false after 20 s (%s)", what, dump)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestE2EPadsInBrowsers: two visitors, each in a browser of their own,
// enter with a nickname and write in one pad at the same time; both end
// with the same text, which is the pad's .txt export, and each sees the
// other's cursor with their nickname. Then the connection drops, one keeps
// writing, and the edits merge when it returns.
func TestE2EPadsInBrowsers(t *testing.T) {
	requireE2E(t)
	data := t.TempDir()
	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	hostPort := d.hostPort()
	padURL := "http://tiers.box/pads/atelier-e2e"
	// The pad starts with a line, as a created pad does; each visitor then
	// writes in a place of their own (two people typing at the very same
	// spot at the very same instant race inside the editor library).
	if res, err := http.Get(d.url + "pads/atelier-e2e"); err == nil {
		res.Body.Close()
	}

	people := []struct{ nick, words string }{{"Ana", "Bonjour de Ana."}, {"Bob", "Salut de Bob 👋"}}
	ctxs := make([]context.Context, len(people))
	for i, p := range people {
		ctx := browser(t, hostPort)
		ctxs[i] = ctx
		runBrowser(t, ctx, p.nick+" enters", enterSteps(p.nick, chromedp.Navigate(padURL))...)
		waitJS(t, ctx, p.nick+" connects", `document.getElementById("pad-app").dataset.state === "connected"`)
		runBrowser(t, ctx, p.nick+" clicks into the editor", chromedp.Click(chromedp.CSS(".cm-content")))
		if i == 0 {
			runBrowser(t, ctx, "Ana writes a first line", chromedp.SendKeys(chromedp.CSS(".cm-content"), "Atelier\n\n"))
			waitJS(t, ctx, "the first line is stored", `window.tiersboxPad.text.toString() === "Atelier\n\n"`)
		}
		waitJS(t, ctx, p.nick+"'s editor has the focus", `document.activeElement === document.querySelector(".cm-content")`)
	}
	// Both pages know each other before they type: the first sync and
	// the local store (IndexedDB) are done.
	for i, ctx := range ctxs {
		waitJS(t, ctx, people[i].nick+" sees the other visitor", `window.tiersboxPad.provider.awareness.getStates().size === 2 && window.tiersboxPad.provider.synced`)
	}
	// Ana writes at the end, Bob at the start.
	for i, ctx := range ctxs {
		pos := "0"
		if i == 0 {
			pos = "window.tiersboxPad.view.state.doc.length"
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(v => (v.dispatch({selection: {anchor: `+pos+`}}), v.focus(), true))(window.tiersboxPad.view)`)); err != nil {
			t.Fatal(err)
		}
	}
	// Both type at once.
	done := make(chan error, len(people))
	for i, p := range people {
		go func() {
			tctx, cancel := context.WithTimeout(ctxs[i], 30*time.Second)
			defer cancel()
			// One key at a time, at a brisk human pace: a burst of
			// synthetic key events faster than any typist can race
			// CodeMirror's reading of the page.
			for _, r := range p.words {
				if err := chromedp.Do(tctx, chromedp.SendKeys(chromedp.CSS(".cm-content"), string(r))); err != nil {
					done <- err
					return
				}
				time.Sleep(40 * time.Millisecond)
			}
			done <- nil
		}()
	}
	for range people {
		if err := <-done; err != nil {
			t.Fatalf("typing: %v", err)
		}
	}
	both := fmt.Sprintf(`(t => t.includes(%q) && t.includes(%q))(window.tiersboxPad.text.toString())`, people[0].words, people[1].words)
	for i, ctx := range ctxs {
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](both))
			if err == nil && ok {
				break
			}
			if time.Now().After(deadline) {
				res, _ := http.Get(d.url + "pads/atelier-e2e.txt")
				srv, _ := io.ReadAll(res.Body)
				t.Fatalf("%s does not see both after 20 s: Ana %q, Bob %q, box %q", people[i].nick,
					evalString(t, ctxs[0], `window.tiersboxPad.text.toString()`), evalString(t, ctxs[1], `window.tiersboxPad.text.toString()`), srv)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a := evalString(t, ctxs[0], `window.tiersboxPad.text.toString()`)
	b := evalString(t, ctxs[1], `window.tiersboxPad.text.toString()`)
	if a != b {
		t.Fatalf("the pages differ:\n%q\n%q", a, b)
	}
	res, err := http.Get(d.url + "pads/atelier-e2e.txt")
	if err != nil {
		t.Fatal(err)
	}
	export, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(export) != a {
		t.Fatalf("the .txt export %q differs from the pages' %q", export, a)
	}
	// Each sees the other's cursor with the other's nickname.
	for i, ctx := range ctxs {
		other := people[1-i].nick
		waitJS(t, ctx, people[i].nick+" sees "+other+"'s cursor",
			fmt.Sprintf(`[...document.querySelectorAll(".cm-ySelectionInfo")].some(e => e.textContent.includes(%q))`, other))
	}

	// A stock Yjs client (the y-websocket package's, in Node) writes too:
	// the browsers and the export have it.
	node := " Écrit par un client Yjs."
	dir, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "yjs"))
	out, err := exec.Command("node", filepath.Join(dir, "ws-client.mjs"), "ws://"+hostPort+"/ws/pads", "atelier-e2e", "--insert", node).CombinedOutput()
	if err != nil {
		t.Fatalf("stock Yjs client (needs npm ci in scripts/yjs): %v\n%s", err, out)
	}
	// ... and it had received what the browsers typed.
	if seen := nodeText(t, out); !strings.Contains(seen, people[0].words) || !strings.Contains(seen, people[1].words) {
		t.Fatalf("the stock client lacks the browsers' words: %q", seen)
	}
	for i, ctx := range ctxs {
		waitJS(t, ctx, people[i].nick+" sees the stock client's words", fmt.Sprintf(`window.tiersboxPad.text.toString().includes(%q)`, node))
	}
	res, err = http.Get(d.url + "pads/atelier-e2e.txt")
	if err != nil {
		t.Fatal(err)
	}
	export, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(export), node) {
		t.Fatalf("the export lacks the stock client's words: %q", export)
	}

	// The WiFi drops (the box goes away): Ana keeps typing; her edits stay
	// in her browser, and when the box is back they reach the box and Bob.
	d.stop(t, os.Interrupt)
	waitJS(t, ctxs[0], "Ana sees she is offline", `document.getElementById("pad-app").dataset.state !== "connected"`)
	offline := " Écrit hors ligne."
	for _, r := range offline {
		runBrowser(t, ctxs[0], "Ana types offline", chromedp.SendKeys(chromedp.CSS(".cm-content"), string(r)))
	}
	waitJS(t, ctxs[0], "Ana's page has her offline words", fmt.Sprintf(`window.tiersboxPad.text.toString().includes(%q)`, offline))
	// Bob writes offline too, then closes the page: his words live only in
	// his browser's IndexedDB until he comes back.
	kept := " Gardé dans le navigateur."
	waitJS(t, ctxs[1], "Bob sees he is offline", `document.getElementById("pad-app").dataset.state !== "connected"`)
	for _, r := range kept {
		runBrowser(t, ctxs[1], "Bob types offline", chromedp.SendKeys(chromedp.CSS(".cm-content"), string(r)))
	}
	waitJS(t, ctxs[1], "Bob's words are stored in the browser", fmt.Sprintf(`window.tiersboxPad.text.toString().includes(%q) && window.tiersboxPad.local.synced`, kept))
	// IndexedDB writes land a moment after the keystroke (y-indexeddb
	// stores each update asynchronously); a person closing a page takes
	// longer than that.
	time.Sleep(time.Second)
	runBrowser(t, ctxs[1], "Bob closes the pad", chromedp.Navigate("about:blank"))

	d = startDaemon(t, "--data", data, "--http", hostPort)
	waitJS(t, ctxs[0], "Ana has her offline words after the reconnection", fmt.Sprintf(`window.tiersboxPad.text.toString().includes(%q)`, offline))
	runBrowser(t, ctxs[1], "Bob opens the pad again", chromedp.Navigate(padURL))
	for i, ctx := range ctxs {
		waitJS(t, ctx, people[i].nick+" has both offline edits", fmt.Sprintf(`(t => t.includes(%q) && t.includes(%q))(window.tiersboxPad.text.toString())`, offline, kept))
	}
	res, err = http.Get(d.url + "pads/atelier-e2e.txt")
	if err != nil {
		t.Fatal(err)
	}
	export, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(export), offline) || !strings.Contains(string(export), kept) {
		t.Fatalf("the box lacks an offline edit: %q", export)
	}
	// A stock client that connects now receives the offline edits too.
	out, err = exec.Command("node", filepath.Join(dir, "ws-client.mjs"), "ws://"+hostPort+"/ws/pads", "atelier-e2e").CombinedOutput()
	if err != nil {
		t.Fatalf("stock Yjs client: %v\n%s", err, out)
	}
	if seen := nodeText(t, out); seen != string(export) {
		t.Fatalf("the stock client has %q, the box %q", seen, export)
	}
	d.stop(t, os.Interrupt)
}

// nodeText returns the text ws-client.mjs printed as its last line.
func nodeText(t *testing.T, out []byte) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res struct{ Text *string }
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.Text == nil {
		t.Fatalf("stock Yjs client printed %q", out)
	}
	return *res.Text
}
