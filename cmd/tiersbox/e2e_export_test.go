//go:build linux

package main

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"
)

// exportVisitor is a visitor's browser as plain HTTP: forms sent as the
// box's pages send them.
type exportVisitor struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newExportVisitor(t *testing.T, d *daemon, nick string) *exportVisitor {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	v := &exportVisitor{t: t, base: strings.TrimSuffix(d.url, "/"), client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if res := v.send("/enter", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"nickname": {nick}}.Encode())); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s enters: %d", nick, res.StatusCode)
	}
	return v
}

func (v *exportVisitor) send(p, contentType string, body io.Reader) *http.Response {
	v.t.Helper()
	req, _ := http.NewRequest("POST", v.base+p, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", v.base)
	res, err := v.client.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// multipart sends fields, then one file, as the pages' forms do.
func (v *exportVisitor) multipart(p string, fields [][2]string, fileField, fileName string, content []byte) *http.Response {
	v.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile(fileField, fileName)
	fw.Write(content)
	mw.Close()
	return v.send(p, mw.FormDataContentType(), &b)
}

func (v *exportVisitor) post(p string, form url.Values) *http.Response {
	v.t.Helper()
	return v.send(p, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// TestE2EExport: visitors write a pad, chat and add documents through the
// box's pages; staff remove a message and hide a document, find the
// export on their home, and download it. The ZIP is the documentation:
// the pad as HTML and Markdown, the chat without the removed message, the
// documents byte for byte without the hidden one, and every link of its
// pages leads inside it. `tiersbox export` writes the same, through the
// running box and from the stopped box's folder, and a browser reads the
// unpacked site from the disk.
func TestE2EExport(t *testing.T) {
	requireE2E(t)
	const pw = "mot de passe de la fabrique"
	data := initBox(t, "La Fabrique", pw)
	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	ana := newExportVisitor(t, d, "Ana")

	padBody := "# Atelier vélo\n\nOn a réparé **trois vélos** et [la photo](/drive/atelier/roue.png).\n"
	res := ana.multipart("/pads/import", [][2]string{{"title", "Atelier vélo"}}, "file", "notes.md", []byte(padBody))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/pads/atelier-velo" {
		t.Fatalf("importing a pad: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	const kept, removed = "Rendez-vous samedi pour la suite", "Un message que l’équipe retire"
	for _, text := range []string{kept, removed} {
		if res := ana.post("/chat/général", url.Values{"text": {text}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("posting %q: %d", text, res.StatusCode)
		}
	}

	photo := testPhoto(t, 64, 48)
	blob := make([]byte, 2<<20+777)
	rand.Read(blob)
	for _, f := range []struct {
		name    string
		content []byte
	}{{"roue.png", photo}, {"mesures vélo.bin", blob}, {"brouillon.txt", []byte("à ne pas publier")}} {
		res := ana.multipart("/drive", [][2]string{{"folder", "atelier"}, {"description", "Par Ana"}, {"licence", "CC BY 4.0"}}, "file", f.name, f.content)
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("uploading %s: %d", f.name, res.StatusCode)
		}
	}

	staff := newStaffBrowser(t, d, pw)
	_, body := staff.get("/chat/g%C3%A9n%C3%A9ral.json")
	var history struct {
		Messages []struct{ ID, Text string }
	}
	if err := json.Unmarshal([]byte(body), &history); err != nil {
		t.Fatal(err)
	}
	for _, m := range history.Messages {
		if m.Text == removed {
			if res, _ := staff.post("/chat/g%C3%A9n%C3%A9ral/remove", url.Values{"id": {m.ID}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("removing a message: %d", res.StatusCode)
			}
		}
	}
	if res, _ := staff.post("/drive-actions/hide", url.Values{"path": {"atelier/brouillon.txt"}, "folder": {"atelier"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("hiding a document: %d", res.StatusCode)
	}

	// Staff find the export on their home, read what it holds, download.
	if _, body := staff.get("/admin"); !strings.Contains(body, `href="/admin/export"`) {
		t.Fatal("the staff home does not link to /admin/export")
	}
	if res, body := staff.get("/admin/export"); res.StatusCode != 200 || !strings.Contains(body, "les pads (1)") || !strings.Contains(body, `action="/admin/export/download"`) {
		t.Fatalf("/admin/export: %d\n%s", res.StatusCode, body)
	}
	res, body = staff.get("/admin/export/download")
	wantDisposition := `attachment; filename="la-fabrique-` + time.Now().Format("2006-01-02") + `.zip"`
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/zip" || res.Header.Get("Content-Disposition") != wantDisposition {
		t.Fatalf("download: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	want := map[string][]byte{"drive/atelier/roue.png": photo, "drive/atelier/mesures vélo.bin": blob, "pads/atelier-velo.md": []byte(padBody)}
	checkExport(t, "download", []byte(body), want, kept, removed)

	// The command, while the box runs: through the box.
	dir := t.TempDir()
	out := filepath.Join(dir, "pendant.zip")
	if stdout, stderr, code := tiersbox(t, "", "export", "--data", data, "--out", out); code != 0 || !strings.Contains(stdout, "wrote "+out) {
		t.Fatalf("tiersbox export on a running box: %d %q %q", code, stdout, stderr)
	}
	zipped, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkExport(t, "export while running", zipped, want, kept, removed)

	d.stop(t, syscall.SIGTERM)
	for _, line := range strings.Split(d.stderr.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("the daemon logged an error: %s", line)
		}
	}

	// The command, the box stopped: from its data folder.
	out = filepath.Join(dir, "après.zip")
	if stdout, stderr, code := tiersbox(t, "", "export", "--data", data, "--out", out); code != 0 {
		t.Fatalf("tiersbox export on a stopped box: %d %q %q", code, stdout, stderr)
	}
	zipped, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	site := checkExport(t, "export while stopped", zipped, want, kept, removed)

	// A failed export leaves nothing behind.
	bad := filepath.Join(dir, "pas-là", "x.zip")
	if _, stderr, code := tiersbox(t, "", "export", "--data", data, "--out", bad); code == 0 || stderr == "" {
		t.Errorf("export into a missing folder: %d %q", code, stderr)
	}
	if _, stderr, code := tiersbox(t, "", "export", "--data", filepath.Join(dir, "nulle-part"), "--out", filepath.Join(dir, "y.zip")); code == 0 || !strings.Contains(stderr, "no box in") {
		t.Errorf("export of a folder with no box: %d %q", code, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 2 {
		t.Errorf("the folder holds %q after the failed exports", left)
	}

	// Unpacked on a disk, the site reads in a browser from file://.
	unpacked := filepath.Join(dir, "site")
	for name, content := range site {
		p := filepath.Join(unpacked, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t, "127.0.0.1:1")
	runBrowser(t, ctx, "open index.html from the disk", chromedp.Navigate("file://"+filepath.Join(unpacked, "index.html")), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if title := evalString(t, ctx, `document.querySelector("main h1").textContent + " | " + document.documentElement.lang`); title != "La Fabrique | fr" {
		t.Errorf("index.html in the browser: %q", title)
	}
	if n := evalString(t, ctx, `String([...document.querySelectorAll("main a")].filter(a => a.protocol === "file:").length)`); n == "0" {
		t.Error("index.html shows no link in the browser")
	}
	runBrowser(t, ctx, "follow the link to the pad", chromedp.Click(chromedp.CSS(`a[href="./pads/atelier-velo.html"]`)), chromedp.WaitVisible(chromedp.CSS("article h1")))
	if text := evalString(t, ctx, `document.querySelector("article").textContent`); !strings.Contains(text, "On a réparé trois vélos") {
		t.Errorf("the pad in the browser: %q", text)
	}
	if href := evalString(t, ctx, `[...document.querySelectorAll("article a")].map(a => a.href).join(" ")`); !strings.Contains(href, "file://"+filepath.Join(unpacked, "drive/atelier/roue.png")) {
		t.Errorf("the pad's link to the photo, in the browser: %q", href)
	}
}

// checkExport opens an export and checks what TestE2EExport put in it;
// it returns the ZIP's entries.
func checkExport(t *testing.T, what string, zipped []byte, want map[string][]byte, kept, removed string) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("%s: not a ZIP: %v", what, err)
	}
	entries := map[string][]byte{}
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) || strings.Contains(f.Name, `\`) {
			t.Errorf("%s: unsafe name %q", what, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		entries[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", what, f.Name, err)
		}
	}
	for name, content := range want {
		if !bytes.Equal(entries[name], content) {
			t.Errorf("%s: %s has %d bytes, want %d identical ones", what, name, len(entries[name]), len(content))
		}
	}
	if page := string(entries["pads/atelier-velo.html"]); !strings.Contains(page, "On a réparé <strong>trois vélos</strong>") || !strings.Contains(page, `href="../drive/atelier/roue.png"`) {
		t.Errorf("%s: pads/atelier-velo.html:\n%s", what, page)
	}
	if !strings.Contains(string(entries["chat/général.html"]), kept) || !strings.Contains(string(entries["chat/général.txt"]), "Ana: "+kept) {
		t.Errorf("%s: the chat transcript lacks the message", what)
	}
	for name, body := range entries {
		if bytes.Contains(body, []byte(removed)) || strings.Contains(name, "brouillon") || bytes.Contains(body, []byte("brouillon")) {
			t.Errorf("%s: %s holds what staff took away", what, name)
		}
	}
	if !strings.Contains(string(entries["drive/index.html"]), "CC BY 4.0") || !strings.Contains(string(entries["drive/index.html"]), "Ana") {
		t.Errorf("%s: drive/index.html does not give the licence and the author", what)
	}
	// Every link of index.html leads to an entry of the ZIP.
	doc, err := html.Parse(bytes.NewReader(entries["index.html"]))
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for n := range doc.Descendants() {
		for _, a := range n.Attr {
			if n.Type != html.ElementNode || a.Key != "href" || strings.HasPrefix(a.Val, "#") {
				continue
			}
			u, err := url.Parse(a.Val)
			if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") {
				t.Errorf("%s: index.html links to %q", what, a.Val)
				continue
			}
			if _, ok := entries[path.Clean(u.Path)]; !ok {
				t.Errorf("%s: index.html links to %q, not in the ZIP", what, a.Val)
			}
			links++
		}
	}
	if links < 6 {
		t.Errorf("%s: index.html has %d links", what, links)
	}
	t.Logf("%s: %d entries, index.html's %d links resolve", what, len(entries), links)
	return entries
}
