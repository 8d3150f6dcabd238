//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EChatInBrowsers: two visitors, each in a browser of their own,
// open the default channel; what one sends shows on the other's page
// within a second, without a reload; a message made of markup and script
// shows as text on both and runs nothing.
func TestE2EChatInBrowsers(t *testing.T) {
	requireE2E(t)
	d := startDaemon(t, "--data", t.TempDir(), "--http", "127.0.0.1:0")
	defer d.stop(t, os.Interrupt)
	hostPort := d.hostPort()

	people := []string{"Ana", "Bob"}
	ctxs := make([]context.Context, len(people))
	for i, nick := range people {
		ctx := browser(t, hostPort)
		ctxs[i] = ctx
		runBrowser(t, ctx, nick+" enters and opens the chat", enterSteps(nick,
			chromedp.Click(chromedp.CSS(`a[href="/chat"]`)),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/chat/g%c3%a9n%c3%a9ral"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/chat/g%c3%a9n%c3%a9ral"]`)),
			chromedp.WaitVisible(chromedp.ID("chat-text")),
		)...)
		waitJS(t, ctx, nick+" is live", `document.querySelector(".chat-status").textContent.startsWith("En direct")`)
		// Anything a message could make run would call alert or set this.
		runBrowser(t, ctx, "a trap for scripts", chromedp.Evaluate[chromedp.Void](`window.ran = 0; window.alert = () => { window.ran++ }`))
	}
	if role := evalString(t, ctxs[1], `document.getElementById("chat-log").getAttribute("role")`); role != "log" {
		t.Fatalf("the message list is announced as %q, not as a log", role)
	}

	// Bob's page notes when each message arrives; Ana's when she sends.
	runBrowser(t, ctxs[1], "Bob watches", chromedp.Evaluate[chromedp.Void](`
		window.arrived = {};
		new MutationObserver(() => {
			for (const li of document.querySelectorAll(".messages li[id]")) {
				window.arrived[li.querySelector(".text").textContent] ??= Date.now();
			}
		}).observe(document.querySelector(".messages"), {childList: true, subtree: true})`))
	send := func(ctx context.Context, text string) int64 {
		t.Helper()
		runBrowser(t, ctx, "typing", chromedp.SetValue(chromedp.ID("chat-text"), text))
		sent := evalInt(t, ctx, `Date.now()`)
		runBrowser(t, ctx, "sending with Enter", chromedp.SendKeys(chromedp.ID("chat-text"), "\r"))
		return sent
	}
	hello := "Bonjour à tous ! Le programme : https://tiers.box/pads/programme"
	sent := send(ctxs[0], hello)
	waitJS(t, ctxs[1], "Bob sees Ana's message", fmt.Sprintf(`window.arrived[%q] !== undefined`, hello))
	if took := evalInt(t, ctxs[1], fmt.Sprintf(`window.arrived[%q]`, hello)) - sent; took > 1000 {
		t.Errorf("Ana's message took %d ms to reach Bob", took)
	}
	if href := evalString(t, ctxs[1], `[...document.querySelectorAll(".messages a")].map(a => a.href).join(" ")`); href != "https://tiers.box/pads/programme" {
		t.Errorf("the address is not a link on Bob's page: %q", href)
	}

	// On a small phone screen the newest message stays in view, unless the
	// visitor scrolled up to read older ones.
	runBrowser(t, ctxs[1], "Bob's screen is a small phone's",
		chromedp.EmulateViewport(360, 640), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.getElementById("chat-log").offsetTop)`))
	// Both write (each visitor may send 8 messages at once, then 20 a
	// minute).
	for i := range 10 {
		send(ctxs[i%2], fmt.Sprintf("Ligne %d d'une longue discussion", i))
	}
	waitJS(t, ctxs[1], "Bob has the last lines, his own posted", `window.arrived["Ligne 8 d'une longue discussion"] !== undefined &&
		window.arrived["Ligne 9 d'une longue discussion"] !== undefined && document.getElementById("chat-text").value === ""`)
	atBottom := `(l => l.scrollHeight > l.clientHeight + 50 && l.scrollHeight - l.scrollTop - l.clientHeight < 40)(document.getElementById("chat-log"))`
	waitJS(t, ctxs[1], "the newest message is in view", atBottom)
	runBrowser(t, ctxs[1], "Bob scrolls up", chromedp.Evaluate[chromedp.Void](`document.getElementById("chat-log").scrollTop = 0`))
	send(ctxs[0], "Un message de plus")
	waitJS(t, ctxs[1], "Bob has the new message", `window.arrived["Un message de plus"] !== undefined`)
	if top := evalInt(t, ctxs[1], `document.getElementById("chat-log").scrollTop`); top != 0 {
		t.Errorf("a new message moved Bob's reading position to %d", top)
	}

	// On a slow network Bob starts his next message before the box
	// answered for the last one: what he types stays.
	runBrowser(t, ctxs[1], "Bob's network slows down", chromedp.Evaluate[chromedp.Void](`
		const slowFetch = window.fetch;
		window.fetch = (...a) => new Promise(r => setTimeout(r, 500)).then(() => slowFetch(...a))`))
	send(ctxs[1], "Je reviens dans cinq minutes")
	runBrowser(t, ctxs[1], "Bob types on", chromedp.SetValue(chromedp.ID("chat-text"), "Gardez-moi une place"))
	waitJS(t, ctxs[1], "Bob's message is posted", `[...document.querySelectorAll(".messages .text")].some(p => p.textContent === "Je reviens dans cinq minutes")`)
	if v := evalString(t, ctxs[1], `document.getElementById("chat-text").value`); v != "Gardez-moi une place" {
		t.Errorf("what Bob was typing became %q once the box answered", v)
	}

	hostile := `<script>alert(1)</script><img src=x onerror="alert(2)"> <a href="javascript:alert(3)">clic</a> javascript:alert(4)`
	send(ctxs[1], hostile)
	for i, ctx := range ctxs {
		waitJS(t, ctx, people[i]+" sees the hostile message as text", fmt.Sprintf(`[...document.querySelectorAll(".messages .text")].some(p => p.textContent === %q)`, hostile))
	}
	// Reloaded, the page renders it on the server side: still text.
	runBrowser(t, ctxs[0], "Ana reloads", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("chat-text")))
	runBrowser(t, ctxs[0], "the trap again", chromedp.Evaluate[chromedp.Void](`window.ran = window.ran || 0`))
	for i, ctx := range ctxs {
		check := `document.querySelectorAll(".messages script, .messages img, .messages [onerror], .messages a[href^='javascript']").length + (window.ran || 0)`
		if n := evalInt(t, ctx, check); n != 0 {
			t.Errorf("%s's page: %d elements or calls came from a message", people[i], n)
		}
		if !strings.Contains(evalString(t, ctx, `document.querySelector(".messages").textContent`), hostile) {
			t.Errorf("%s's page does not show the message as written", people[i])
		}
	}
}

func evalInt(t *testing.T, ctx context.Context, expr string) int64 {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := chromedp.Run(tctx, chromedp.Evaluate[float64](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return int64(n)
}
