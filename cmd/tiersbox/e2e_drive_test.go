//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestE2EDriveInBrowsers: two visitors, each in a browser of their own,
// open the drive from the home page. Ana adds a photo and a few megabytes
// of random bytes through the page's form, which shows its progress bar
// and then says the files were added. Bob reloads the drive and sees both,
// with the photo's thumbnail loaded; what his browser downloads is
// byte-identical to Ana's files, and a Range request gets the exact bytes
// asked for.
func TestE2EDriveInBrowsers(t *testing.T) {
	requireE2E(t)
	d := startDaemon(t, "--data", t.TempDir(), "--http", "127.0.0.1:0")
	defer d.stop(t, os.Interrupt)
	hostPort := d.hostPort()

	// Ana's files, on her disk.
	dir := t.TempDir()
	photo := filepath.Join(dir, "atelier vélo.png")
	photoBytes := testPhoto(t, 800, 600)
	blob := filepath.Join(dir, "données.bin")
	blobBytes := make([]byte, 3<<20+12345)
	rand.Read(blobBytes)
	for f, b := range map[string][]byte{photo: photoBytes, blob: blobBytes} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	people := []string{"Ana", "Bob"}
	ctxs := make([]context.Context, len(people))
	for i, nick := range people {
		// The box's address counts as a secure origin: Chromium offers
		// crypto.subtle, with which the page hashes what it downloads, only
		// there (a phone on the box's WiFi has no use for it).
		ctx := browser(t, hostPort, chromedp.Flag("unsafely-treat-insecure-origin-as-secure", "http://tiers.box"))
		ctxs[i] = ctx
		runBrowser(t, ctx, nick+" enters and opens the drive", enterSteps(nick,
			chromedp.Click(chromedp.CSS(`ul.spaces a[href="/drive"]`)),
			chromedp.WaitVisible(chromedp.ID("drive-form")),
		)...)
	}
	ana, bob := ctxs[0], ctxs[1]

	// Ana's page records every value its progress bar takes, in the
	// tab's sessionStorage, which outlives the page's move to the list
	// once the upload is done.
	runBrowser(t, ana, "Ana watches the progress bar", chromedp.Evaluate[chromedp.Void](`(() => {
		const bar = document.getElementById("drive-progress");
		const prop = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, "value");
		sessionStorage.setItem("progress", "[]");
		Object.defineProperty(bar, "value", {
			get() { return prop.get.call(this) },
			set(v) {
				const seen = JSON.parse(sessionStorage.getItem("progress"));
				seen.push({value: Number(v), hidden: this.hidden});
				sessionStorage.setItem("progress", JSON.stringify(seen));
				prop.set.call(this, v);
			},
		});
	})()`))
	description := "Les photos de l'atelier vélo"
	runBrowser(t, ana, "Ana picks her files and sends them",
		chromedp.SetUploadFiles(chromedp.ID("drive-file"), []string{photo, blob}),
		chromedp.SendKeys(chromedp.ID("drive-description"), description),
		chromedp.Click(chromedp.CSS(`#drive-form button[type="submit"]`)),
	)
	waitJS(t, ana, "Ana's page says her files were added", `location.search.includes("added=") && document.querySelector("p.done[role=status]") !== null`)
	var progress []struct {
		Value  float64 `json:"value"`
		Hidden bool    `json:"hidden"`
	}
	if err := json.Unmarshal([]byte(evalString(t, ana, `sessionStorage.getItem("progress")`)), &progress); err != nil {
		t.Fatal(err)
	}
	t.Logf("progress bar values: %v", progress)
	if len(progress) < 2 || progress[0].Value != 0 || progress[len(progress)-1].Value != 100 {
		t.Errorf("the progress bar did not go from 0 to 100: %v", progress)
	}
	for _, p := range progress[min(1, len(progress)):] {
		if p.Hidden {
			t.Errorf("the progress bar moved while hidden: %v", progress)
			break
		}
	}
	if added := evalString(t, ana, `new URLSearchParams(location.search).getAll("added").join("|")`); added != "atelier vélo.png|données.bin" {
		t.Errorf("Ana's page lists the files added as %q", added)
	}
	if status := evalString(t, ana, `document.querySelector("p.done").textContent`); !strings.Contains(status, "2") {
		t.Errorf("Ana's page says %q after adding two files", status)
	}

	// Bob reloads the drive: both files, with Ana's nickname and words.
	runBrowser(t, bob, "Bob reloads the drive", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("drive-form")))
	names := evalString(t, bob, `[...document.querySelectorAll("ul.files h3 a")].map(a => a.textContent).sort().join("|")`)
	if names != "atelier vélo.png|données.bin" {
		t.Fatalf("Bob's drive lists %q", names)
	}
	if text := evalString(t, bob, `document.querySelector("ul.files").textContent`); !strings.Contains(text, "Ana") || !strings.Contains(text, description) {
		t.Errorf("Bob's drive does not say who added the files and why:\n%s", text)
	}
	// The photo's thumbnail, scrolled into view since it loads lazily.
	runBrowser(t, bob, "Bob scrolls to the photo", chromedp.Evaluate[chromedp.Void](`document.querySelector("ul.files img").scrollIntoView()`))
	waitJS(t, bob, "the photo's thumbnail loads", `(i => i.complete && i.naturalWidth > 0)(document.querySelector("ul.files img"))`)
	if size := evalString(t, bob, `(i => i.naturalWidth + "x" + i.naturalHeight)(document.querySelector("ul.files img"))`); size != "320x240" {
		t.Errorf("the thumbnail is %s, want 320x240", size)
	}

	// Bob downloads both through the links on his page; his browser hashes
	// what it received.
	links := map[string][]byte{"atelier vélo.png": photoBytes, "données.bin": blobBytes}
	for name, want := range links {
		link := fmt.Sprintf(`[...document.querySelectorAll("ul.files h3 a")].find(a => a.textContent === %q).href`, name)
		got := fetchInPage[struct {
			Status int    `json:"status"`
			Size   int    `json:"size"`
			SHA256 string `json:"sha256"`
		}](t, bob, `(async () => {
			const r = await fetch(`+link+`);
			const b = await r.arrayBuffer();
			const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
			return {status: r.status, size: b.byteLength, sha256: [...sum].map(x => x.toString(16).padStart(2, "0")).join("")};
		})()`)
		sum := sha256.Sum256(want)
		if got.Status != 200 || got.Size != len(want) || got.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("Bob downloaded %s: status %d, %d bytes, SHA-256 %s; want 200, %d bytes, %x", name, got.Status, got.Size, got.SHA256, len(want), sum)
		}
	}
	rng := fetchInPage[struct {
		Status       int    `json:"status"`
		ContentRange string `json:"contentRange"`
		Bytes        []byte `json:"bytes"` // base64 in JSON
	}](t, bob, `(async () => {
		const r = await fetch([...document.querySelectorAll("ul.files h3 a")].find(a => a.textContent === "données.bin").href, {headers: {Range: "bytes=10-19"}});
		const b = new Uint8Array(await r.arrayBuffer());
		let bin = "";
		for (const x of b) bin += String.fromCharCode(x);
		return {status: r.status, contentRange: r.headers.get("Content-Range"), bytes: btoa(bin)};
	})()`)
	if rng.Status != 206 || rng.ContentRange != fmt.Sprintf("bytes 10-19/%d", len(blobBytes)) || !bytes.Equal(rng.Bytes, blobBytes[10:20]) {
		t.Errorf("Range bytes=10-19: %d %q, %d bytes %.20x; want 206 %q, 10 bytes %x", rng.Status, rng.ContentRange, len(rng.Bytes), rng.Bytes, fmt.Sprintf("bytes 10-19/%d", len(blobBytes)), blobBytes[10:20])
	}
}

// fetchInPage evaluates a script that resolves to an object, decoded into T.
func fetchInPage[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", script, err)
	}
	return v
}

// testPhoto encodes a w×h PNG with gradients and noise, as a photo has.
func testPhoto(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	noise := make([]byte, w*h)
	rand.Read(noise)
	for y := range h {
		for x := range w {
			n := noise[y*w+x] % 32
			img.Set(x, y, color.RGBA{uint8(255*x/w) ^ n, uint8(255*y/h) ^ n, uint8(128 + n), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
