package web

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tiersbox/box/pad"
	"tiersbox/box/ydoc"
)

func TestPadPages(t *testing.T) {
	hs, pads := newPadServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}
	res, body := get("/pads")
	if res.StatusCode != 200 || !strings.Contains(body, "Aucun pad") {
		t.Fatalf("empty list: %d", res.StatusCode)
	}
	create := func(title string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", hs.URL+"/pads", strings.NewReader(url.Values{"title": {title}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", hs.URL)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("create %q: %d", title, res.StatusCode)
		}
		return res.Header.Get("Location")
	}
	if loc := create("Soirée jeux !"); loc != "/pads/soiree-jeux" {
		t.Fatalf("created at %q", loc)
	}
	if loc := create("Soirée jeux"); loc != "/pads/soiree-jeux-2" {
		t.Fatalf("second pad with the same title at %q", loc)
	}
	// Someone writes in it, including markup that must not run.
	p, _ := pads.Open("soiree-jeux")
	p.Edit("", func(d *ydoc.Doc) error {
		txt := d.Text(pad.ContentName)
		return txt.Insert(txt.Len(), "- jeu de **cartes**\n\n<script>alert(1)</script>\n\n[piège](javascript:alert(2))\n")
	})

	_, body = get("/pads")
	if !strings.Contains(body, `href="/pads/soiree-jeux"`) || !strings.Contains(body, "Soirée jeux !") {
		t.Fatalf("list lacks the pad:\n%s", body)
	}
	_, body = get("/pads?q=JEUX")
	if !strings.Contains(body, "soiree-jeux-2") {
		t.Error("filter by title is case-sensitive")
	}
	_, body = get("/pads?q=nothing-like-it")
	if strings.Contains(body, "soiree") {
		t.Error("filter let everything through")
	}

	res, body = get("/pads/soiree-jeux")
	for _, want := range []string{"<h1>Soirée jeux !</h1>", "<strong>cartes</strong>", `href="/pads/soiree-jeux.txt"`} {
		if !strings.Contains(body, want) {
			t.Errorf("pad page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "javascript:") {
		t.Error("raw HTML or a script link from a pad reached the page")
	}
	res, body = get("/pads/soiree-jeux.txt")
	if res.Header.Get("Content-Type") != "text/plain; charset=utf-8" || body != p.Text() {
		t.Errorf(".txt export: %q %q", res.Header.Get("Content-Type"), body)
	}
	res, body = get("/pads/soiree-jeux.md")
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/markdown") || body != p.Text() {
		t.Errorf(".md export: %q", res.Header.Get("Content-Type"))
	}
	_, body = get("/pads/soiree-jeux.html")
	if !strings.Contains(body, "<title>Soirée jeux !</title>") || !strings.Contains(body, "<strong>cartes</strong>") || strings.Contains(body, "<script>alert") {
		t.Errorf(".html export:\n%s", body)
	}
	// A pad that does not exist yet reads as empty, as in Etherpad.
	res, body = get("/pads/nouveau")
	if res.StatusCode != 200 || !strings.Contains(body, "vide") {
		t.Errorf("new pad: %d", res.StatusCode)
	}
	for _, bad := range []string{"/pads/a%20b", "/pads/x.exe", "/pads/" + strings.Repeat("a", 65)} {
		if res, _ := get(bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, res.StatusCode)
		}
	}
	// The home page now links to the pads.
	_, body = get("/about")
	if !strings.Contains(body, `href="/pads"`) {
		t.Error("about page does not link the pads")
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Soirée jeux !":     "soiree-jeux",
		"  Atelier  vélo ":  "atelier-velo",
		"日本語":               "",
		"Réunion 12/03":     "reunion-12-03",
		"---":               "",
		"Ça c'est la fête!": "ca-c-est-la-fete",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPadImport(t *testing.T) {
	hs, pads := newPadServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	upload := func(filename string, content []byte) *http.Response {
		t.Helper()
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", filename)
		fw.Write(content)
		mw.Close()
		req, _ := http.NewRequest("POST", hs.URL+"/pads/import", &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Origin", hs.URL)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := upload("Compte rendu.md", []byte("# Compte rendu\r\n\r\n- café ☕\r\n"))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/pads/compte-rendu" {
		t.Fatalf("import: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	p, _ := pads.Open("compte-rendu")
	if p.Text() != "# Compte rendu\n\n- café ☕\n" || p.Title() != "Compte rendu" {
		t.Fatalf("imported %q titled %q", p.Text(), p.Title())
	}
	for name, tc := range map[string]struct {
		file    string
		content []byte
		status  int
	}{
		"not text":     {"x.exe", []byte("MZ"), http.StatusBadRequest},
		"invalid utf8": {"x.txt", []byte{0xff, 0xfe}, http.StatusBadRequest},
		"too large":    {"x.txt", bytes.Repeat([]byte("a"), 2<<20), http.StatusRequestEntityTooLarge},
	} {
		if res := upload(tc.file, tc.content); res.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", name, res.StatusCode, tc.status)
		}
	}
	list, _ := pads.List()
	if len(list) != 1 {
		t.Errorf("refused imports created pads: %+v", list)
	}
}

func TestPadHistoryPages(t *testing.T) {
	hs, pads := newPadServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	p, _ := pads.Open("journal-de-bord")
	for _, s := range []string{"Lundi : atelier vélo.\n", "Mardi : couture.\n"} {
		p.Edit("", func(d *ydoc.Doc) error {
			txt := d.Text(pad.ContentName)
			return txt.Insert(txt.Len(), s)
		})
		p.Flush()
	}
	res, err := client.Get(hs.URL + "/pads/journal-de-bord/history")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	versions, _ := pads.History("journal-de-bord")
	if len(versions) != 2 || !strings.Contains(string(body), versions[1].ID) {
		t.Fatalf("history page lacks the first version: %d versions\n%s", len(versions), body)
	}
	res, _ = client.Get(hs.URL + "/pads/journal-de-bord/history/" + versions[1].ID)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "Lundi : atelier vélo.") || strings.Contains(string(body), "Mardi") {
		t.Fatalf("first version page:\n%s", body)
	}
	if res, _ := client.Get(hs.URL + "/pads/journal-de-bord/history/nope-1"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown version: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", hs.URL+"/pads/journal-de-bord/restore", strings.NewReader(url.Values{"version": {versions[1].ID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", hs.URL)
	res, err = client.Do(req)
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("restore: %v %v", res.StatusCode, err)
	}
	if p.Text() != "Lundi : atelier vélo.\n" {
		t.Fatalf("after restore: %q", p.Text())
	}
	p.Flush()
	if v, _ := pads.History("journal-de-bord"); len(v) != 3 {
		t.Fatalf("the restore is not a new version: %d", len(v))
	}
}
