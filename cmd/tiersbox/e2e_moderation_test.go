//go:build linux

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EModeration: a visitor has a pad open in one tab and the chat in
// another; staff, logged in in a browser of their own, lock the pad and
// remove the visitor's message. Without a reload, the visitor's editor
// turns read-only with a notice, and nothing they type (nor an edit their
// page forces past the editor) is stored; the removed message leaves
// their chat. The moderation log lists both actions.
func TestE2EModeration(t *testing.T) {
	requireE2E(t)
	const pw = "le mot de passe de l’équipe"
	data := initBox(t, "La Fabrique", pw)
	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	defer d.stop(t, os.Interrupt)
	hostPort := d.hostPort()
	padURL := "http://tiers.box/pads/reglement"

	// The visitor: the pad in one tab, the chat in another.
	padTab := browser(t, hostPort)
	runBrowser(t, padTab, "Ana enters and opens the pad", enterSteps("Ana", chromedp.Navigate(padURL))...)
	waitJS(t, padTab, "Ana's editor connects", `document.getElementById("pad-app").dataset.state === "connected" && window.tiersboxPad.provider.synced`)
	runBrowser(t, padTab, "Ana writes", chromedp.Click(chromedp.CSS(".cm-content")), chromedp.SendKeys(chromedp.CSS(".cm-content"), "Règlement du lieu"))
	waitJS(t, padTab, "Ana's line is in her document", `window.tiersboxPad.text.toString() === "Règlement du lieu"`)
	export := func() string {
		t.Helper()
		res, err := http.Get(d.url + "pads/reglement.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	for deadline := time.Now().Add(10 * time.Second); export() != "Règlement du lieu"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the pad holds %q", export())
		}
	}
	// Set on the page: gone if the page reloads.
	runBrowser(t, padTab, "a mark on the page", chromedp.Evaluate[chromedp.Void](`window.sameLoad = true`))

	chatTab, cancel := chromedp.NewContext(padTab) // a second tab, same browser
	t.Cleanup(cancel)
	// The first action opens the tab: not under a timeout, which would
	// close the tab with it.
	if err := chromedp.Do(chatTab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("opening a second tab: %v", err)
	}
	runBrowser(t, chatTab, "Ana opens the chat", chromedp.Navigate("http://tiers.box/chat/g%C3%A9n%C3%A9ral"), chromedp.WaitVisible(chromedp.ID("chat-text")))
	waitJS(t, chatTab, "Ana's chat is live", `document.querySelector(".chat-status").textContent.startsWith("En direct")`)
	runBrowser(t, chatTab, "Ana sends a message", chromedp.SetValue(chromedp.ID("chat-text"), "un message à retirer"), chromedp.SendKeys(chromedp.ID("chat-text"), "\r"))
	waitJS(t, chatTab, "Ana's message is posted", `[...document.querySelectorAll(".messages li[id]")].some(li => li.querySelector(".text").textContent === "un message à retirer")`)
	msgID := evalString(t, chatTab, `[...document.querySelectorAll(".messages li[id]")].find(li => li.querySelector(".text").textContent === "un message à retirer").id`)
	runBrowser(t, chatTab, "a mark on the chat page", chromedp.Evaluate[chromedp.Void](`window.sameLoad = true`))

	// Staff, in a browser of their own.
	staff := browser(t, hostPort)
	runBrowser(t, staff, "staff log in",
		chromedp.Navigate("http://tiers.box/admin"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.CSS(`form.enter button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/moderation"]`)),
	)
	runBrowser(t, staff, "staff lock the pad with a reason",
		chromedp.Navigate(padURL),
		chromedp.WaitVisible(chromedp.ID("lock-note")),
		chromedp.SendKeys(chromedp.ID("lock-note"), "relecture avant affichage"),
		chromedp.Click(chromedp.CSS(`form[action="/pads/reglement/lock"] button`)),
		chromedp.WaitVisible(chromedp.ID("pad-locked")),
	)

	waitJS(t, padTab, "Ana's editor turns read-only", `window.tiersboxPad.locked && window.tiersboxPad.view.state.readOnly &&
		!document.getElementById("pad-locked").hidden && window.tiersboxPad.provider.synced`)
	if !strings.Contains(evalString(t, padTab, `document.getElementById("pad-locked").textContent`), "verrouillé") {
		t.Error("the notice does not say the pad is locked")
	}
	if evalString(t, padTab, `String(window.sameLoad)`) != "true" {
		t.Error("the pad page reloaded")
	}
	if got := evalString(t, padTab, `window.tiersboxPad.text.toString()`); got != "Règlement du lieu" {
		t.Errorf("the read-only editor shows %q", got)
	}
	// Ana types; then her page forces an edit past the editor, as a
	// modified page could: the box drops it.
	runBrowser(t, padTab, "Ana types in the locked pad",
		chromedp.Click(chromedp.CSS(".cm-content")), chromedp.SendKeys(chromedp.CSS(".cm-content"), " tapé"))
	runBrowser(t, padTab, "Ana's page forces an edit", chromedp.Evaluate[chromedp.Void](`window.tiersboxPad.text.insert(0, "forcé ")`))
	time.Sleep(2 * time.Second) // longer than the journal's window
	if got := export(); got != "Règlement du lieu" {
		t.Errorf("the locked pad's export became %q", got)
	}

	// Staff remove Ana's message from the chat page.
	runBrowser(t, staff, "staff remove the message",
		chromedp.Navigate("http://tiers.box/chat/g%C3%A9n%C3%A9ral"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`li[id=%q] .moderate button`, msgID))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[id=%q] .moderate form[action$="/remove"] button`, msgID))),
		chromedp.WaitVisible(chromedp.ID("chat-text")),
	)
	waitJS(t, chatTab, "the message leaves Ana's chat", fmt.Sprintf(`document.getElementById(%q) === null && window.sameLoad === true`, msgID))

	// The moderation log lists both, newest first, with the reason.
	runBrowser(t, staff, "staff open the moderation log",
		chromedp.Navigate("http://tiers.box/admin/moderation"), chromedp.WaitVisible(chromedp.CSS("table.modlog")))
	rows := evalString(t, staff, `[...document.querySelectorAll("table.modlog tbody tr")].map(tr => tr.textContent.replace(/\s+/g, " ")).join("\n")`)
	lines := strings.Split(rows, "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "Message retiré") || !strings.Contains(lines[0], "général") ||
		!strings.Contains(lines[1], "Pad verrouillé") || !strings.Contains(lines[1], "reglement") || !strings.Contains(lines[1], "relecture avant affichage") {
		t.Errorf("the moderation log reads:\n%s", rows)
	}
	if n := evalInt(t, staff, `document.querySelectorAll('table.modlog a[href="/pads/reglement"], table.modlog a[href="/chat/g%C3%A9n%C3%A9ral"]').length`); n != 2 {
		t.Errorf("the log links to %d of its two targets", n)
	}
}
