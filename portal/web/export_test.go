package web

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/pad"
	"tiersbox/box/settings"
	"tiersbox/box/visitor"
	"tiersbox/box/ydoc"
)

// exportBox is a venue with pads, channels and documents, some of them
// moderated, to export.
type exportBox struct {
	src   ExportSources
	srv   *Server
	files map[string][]byte // drive path → content, of the files visitors see
}

const (
	keptMessage    = "Rendez-vous samedi à 14 h, https://example.org/plan"
	removedMessage = "Message retiré par l’équipe"
	deletedMessage = "Message effacé par son auteur"
	padText        = "# Compte rendu\n\nOn a réparé **trois vélos**.\n\n" +
		"Voir [l’autre pad](/pads/autre), [la suite](autre#fin), [le plan](/drive/atelier/plan%20v%C3%A9lo.pdf), " +
		"[le secret](/drive/secret.txt), [le site](https://example.org) et [l’équipe](/admin).\n\n" +
		"![la photo](/drive/atelier/photo.png) ![cachée](/drive/secret.txt)\n"
)

func newExportBox(t *testing.T) *exportBox {
	t.Helper()
	data := t.TempDir()
	st, j := openVenue(t, data)
	venue, err := settings.Load(st)
	if err != nil {
		t.Fatal(err)
	}
	venue.Venue, venue.Description, venue.Licence = "La Fabrique <du> Coin", "Un fablab de quartier.\nOuvert le samedi.", "CC BY 4.0"
	venue.Rules = "Rangez les **outils**.\n\nVoir [le pad des règles](/pads/autre)."
	if err := settings.Save(st, venue); err != nil {
		t.Fatal(err)
	}
	pads, err := pad.New(st, j, pad.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pads.Close() })
	chats, err := chat.New(st, j, chat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := drive.New(st, j, drive.Options{Dir: filepath.Join(data, "drive"), TmpDir: filepath.Join(data, "drive-tmp"), ThumbDir: filepath.Join(data, "drive-thumbs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })

	for name, text := range map[string]string{"compte-rendu": padText, "autre": "# Autre\n\n## Fin\n\nLa fin.\n", "vide": ""} {
		p, err := pads.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		err = p.Edit("ana", func(d *ydoc.Doc) error {
			if err := d.Map(pad.MetaName).Set("title", "Titre de "+name); err != nil {
				return err
			}
			return d.Text(pad.ContentName).Insert(0, text)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	if err := chats.Create("atelier-vélo", "staff"); err != nil {
		t.Fatal(err)
	}
	post := func(channel, text string) chat.Message {
		m, err := chats.Post(channel, "ana", "Ana <3", text)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	post(chat.Default, keptMessage)
	if err := chats.Remove(post(chat.Default, removedMessage).ID, "staff"); err != nil {
		t.Fatal(err)
	}
	if err := chats.Delete(post("atelier-vélo", deletedMessage).ID, "ana"); err != nil {
		t.Fatal(err)
	}
	post("atelier-vélo", "Une ligne\net une autre")
	post("pad-compte-rendu", "À propos du compte rendu")

	b := &exportBox{files: map[string][]byte{}}
	add := func(folder, name string, content []byte, licence string) drive.File {
		f, err := files.Upload(context.Background(), drive.UploadRequest{Folder: folder, Name: name, Licence: licence,
			Description: "Déposé par Ana", Author: "ana", Nickname: "Ana"}, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	photo := pngImage(t, 40, 30)
	b.files[add("atelier", "photo.png", photo, "CC BY-SA 4.0").Path] = photo
	plan := bytes.Repeat([]byte("%PDF-1.4 plan\n"), 1000)
	b.files[add("atelier", "plan vélo.pdf", plan, "CC0 1.0").Path] = plan
	// A document named like the drive's own page in the export.
	b.files[add("", "index.html", []byte("<p>pas une page</p>"), "").Path] = []byte("<p>pas une page</p>")
	secret := add("", "secret.txt", []byte("caché"), "CC BY 4.0")
	if err := files.Hide(secret.Path, "staff"); err != nil {
		t.Fatal(err)
	}

	b.src = ExportSources{Store: st, Pads: pads, Chat: chats, Drive: files, Version: "test",
		Now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	b.srv, err = New(Options{Store: st, Visitors: visitor.New(st, visitor.Options{}), Addresses: []string{"tiers.box"},
		Pads: pads, Chat: chats, Drive: files, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openZip reads a ZIP and returns its entries by name, failing on any
// name that would land outside the folder it is unpacked in.
func openZip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the export is not a ZIP: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		if !filepath.IsLocal(f.Name) || strings.Contains(f.Name, `\`) || !utf8.ValidString(f.Name) || path.Clean(f.Name) != f.Name {
			t.Errorf("unsafe name in the ZIP: %q", f.Name)
		}
		if _, dup := out[f.Name]; dup {
			t.Errorf("%q twice in the ZIP", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = b
	}
	return out
}

// checkSite checks every page of an unpacked export: valid enough to
// parse, with a language, landmarks and one main heading, no script,
// nothing loaded from outside, and every relative link leading to an
// entry of the ZIP (and its anchor, if it names one).
func checkSite(t *testing.T, entries map[string][]byte) {
	t.Helper()
	ids := map[string]map[string]bool{}
	docs := map[string]*html.Node{}
	for name, body := range entries {
		if !strings.HasSuffix(name, ".html") || strings.HasPrefix(name, "drive/") && name != "drive/index.html" {
			continue
		}
		doc, err := html.Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs[name], ids[name] = doc, map[string]bool{}
		if !bytes.HasPrefix(body, []byte("<!doctype html>\n<html lang=\"fr\">")) {
			t.Errorf("%s does not start with a doctype and <html lang=\"fr\">", name)
		}
		count := map[string]int{}
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode {
				continue
			}
			count[n.Data]++
			for _, a := range n.Attr {
				if a.Key == "id" {
					ids[name][a.Val] = true
				}
			}
		}
		if count["main"] != 1 || count["header"] != 1 || count["footer"] != 1 || count["h1"] != 1 || count["title"] != 1 {
			t.Errorf("%s: want one each of main, header, footer, h1, title; got %v", name, count)
		}
		if count["script"] != 0 || count["link"] != 0 || count["iframe"] != 0 {
			t.Errorf("%s: scripts or external resources: %v", name, count)
		}
	}
	for _, want := range []string{"index.html", "drive/index.html"} {
		if docs[want] == nil {
			t.Errorf("no %s in the export", want)
		}
	}
	links := 0
	for name, doc := range docs {
		for n := range doc.Descendants() {
			if n.Type != html.ElementNode {
				continue
			}
			for _, a := range n.Attr {
				if a.Key != "href" && a.Key != "src" {
					continue
				}
				u, err := url.Parse(a.Val)
				if err != nil {
					t.Errorf("%s: bad address %q", name, a.Val)
					continue
				}
				if u.Scheme != "" || u.Host != "" {
					if a.Key == "src" || n.Data != "a" {
						t.Errorf("%s: loads %q from outside", name, a.Val)
					}
					continue
				}
				if strings.HasPrefix(u.Path, "/") {
					t.Errorf("%s: absolute path %q", name, a.Val)
					continue
				}
				target := name
				if u.Path != "" {
					target = path.Join(path.Dir(name), u.Path)
				}
				if _, ok := entries[target]; !ok {
					t.Errorf("%s: %q leads to %q, not in the ZIP", name, a.Val, target)
					continue
				}
				// Anchors of the export's own pages; those written in pads
				// are the writer's.
				if u.Fragment != "" && target == "index.html" && !ids[target][u.Fragment] {
					t.Errorf("%s: %q: no id %q in %s", name, a.Val, u.Fragment, target)
				}
				links++
			}
		}
	}
	if links < 10 {
		t.Errorf("only %d links checked", links)
	}
}

func TestExportHoldsEverythingVisitorsSee(t *testing.T) {
	b := newExportBox(t)
	var buf bytes.Buffer
	if err := WriteExport(context.Background(), &buf, b.src); err != nil {
		t.Fatal(err)
	}
	entries := openZip(t, buf.Bytes())
	for name := range entries {
		t.Logf("%s (%d bytes)", name, len(entries[name]))
	}
	checkSite(t, entries)

	index := string(entries["index.html"])
	for _, want := range []string{
		"<h1>La Fabrique &lt;du&gt; Coin</h1>", "<p>Un fablab de quartier.</p>", "<p>Ouvert le samedi.</p>",
		"Rangez les <strong>outils</strong>.", `<a href="./pads/autre.html">le pad des règles</a>`,
		"partagée sous la licence CC BY 4.0", `<time datetime="2026-11-29">29/11/2026</time>`,
		`<a href="./pads/compte-rendu.html">Titre de compte-rendu</a>`, `href="./pads/compte-rendu.md"`,
		`<a href="./chat/g%C3%A9n%C3%A9ral.html">#général</a>`, `<a href="./chat/atelier-v%C3%A9lo.html">#atelier-vélo</a>`,
		`<a href="./chat/pad-compte-rendu.html">#pad-compte-rendu</a>`, `<a href="./drive/index.html">`,
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}

	// Every pad, as HTML and as its exact Markdown.
	for name, text := range map[string]string{"compte-rendu": padText, "autre": "# Autre\n\n## Fin\n\nLa fin.\n", "vide": ""} {
		if got, ok := entries["pads/"+name+".md"]; !ok || string(got) != text {
			t.Errorf("pads/%s.md = %q, want %q", name, got, text)
		}
		if !strings.Contains(string(entries["pads/"+name+".html"]), "<title>Titre de "+name+" · La Fabrique &lt;du&gt; Coin</title>") {
			t.Errorf("pads/%s.html lacks its title", name)
		}
	}
	page := string(entries["pads/compte-rendu.html"])
	for _, want := range []string{
		"On a réparé <strong>trois vélos</strong>.",
		`<a href="./autre.html">l’autre pad</a>`, `<a href="./autre.html#fin">la suite</a>`,
		`<a href="../drive/atelier/plan%20v%C3%A9lo.pdf">le plan</a>`, `<a href="https://example.org">le site</a>`,
		`<img src="../drive/atelier/photo.png" alt="la photo">`, `<a href="../chat/pad-compte-rendu.html">`,
		"le secret, ", "l’équipe.", // links the export cannot follow keep their text
	} {
		if !strings.Contains(page, want) {
			t.Errorf("pads/compte-rendu.html lacks %q", want)
		}
	}
	if strings.Contains(page, "secret.txt") || strings.Contains(page, "/admin") {
		t.Error("pads/compte-rendu.html still links to a hidden file or a staff page")
	}

	// Every channel; what moderation removed is not there.
	for _, ch := range []string{"général", "atelier-vélo", "pad-compte-rendu"} {
		for _, ext := range []string{".html", ".txt"} {
			if _, ok := entries["chat/"+ch+ext]; !ok {
				t.Errorf("no chat/%s%s", ch, ext)
			}
		}
	}
	general := string(entries["chat/général.html"])
	if !strings.Contains(general, "Rendez-vous samedi à 14 h, <a href=\"https://example.org/plan\"") || !strings.Contains(general, "Ana &lt;3") {
		t.Errorf("chat/général.html lacks the message:\n%s", general)
	}
	if !strings.Contains(string(entries["chat/général.txt"]), "Ana <3: "+keptMessage) {
		t.Errorf("chat/général.txt lacks the message:\n%s", entries["chat/général.txt"])
	}
	for name, body := range entries {
		if bytes.Contains(body, []byte(removedMessage)) || bytes.Contains(body, []byte(deletedMessage)) {
			t.Errorf("%s holds a message moderation took away", name)
		}
	}

	// The documents visitors see, byte for byte; not the hidden one.
	got := map[string][]byte{}
	for name, body := range entries {
		if rest, ok := strings.CutPrefix(name, "drive/"); ok && rest != "index.html" {
			got[rest] = body
		}
	}
	want := map[string][]byte{"atelier/photo.png": b.files["atelier/photo.png"], "atelier/plan vélo.pdf": b.files["atelier/plan vélo.pdf"],
		"index (2).html": b.files["index.html"]}
	if len(got) != len(want) {
		t.Errorf("drive files in the ZIP: %d, want %d", len(got), len(want))
	}
	for name, content := range want {
		if !bytes.Equal(got[name], content) {
			t.Errorf("drive/%s: %d bytes, want %d", name, len(got[name]), len(content))
		}
	}
	list := string(entries["drive/index.html"])
	for _, want := range []string{`<a href="./atelier/plan%20v%C3%A9lo.pdf">plan vélo.pdf</a>`, "CC0 1.0", "CC BY-SA 4.0", "Ana", "Déposé par Ana",
		`<a href="./index%20%282%29.html" download>index.html</a>`, "non précisée", "<h2>atelier</h2>"} {
		if !strings.Contains(list, want) {
			t.Errorf("drive/index.html lacks %q", want)
		}
	}
	for name := range entries {
		if strings.Contains(name, "secret") {
			t.Errorf("the hidden file is in the ZIP as %s", name)
		}
	}
}

// TestExportPage: staff find the page from their home, it says what the
// ZIP holds, and the download is the ZIP; visitors are sent to log in.
func TestExportPage(t *testing.T) {
	b := newExportBox(t)
	tb := &testBox{t: t, srv: b.srv, st: b.src.Store}
	res, _ := tb.do(req{target: "/admin/export"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin?next=%2Fadmin%2Fexport" {
		t.Errorf("/admin/export for a visitor: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := tb.do(req{target: "/admin/export/download"}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the download for a visitor: %d", res.StatusCode)
	}
	_, _, c := tb.login(staffPassword)
	if c == nil {
		t.Fatal("no staff session")
	}
	if _, body := tb.do(req{target: "/admin", cookies: []*http.Cookie{c}}); !strings.Contains(body, `<a href="/admin/export">Exporter la documentation du lieu`) {
		t.Error("the staff home does not link to the export")
	}
	_, body := tb.do(req{target: "/admin/export", cookies: []*http.Cookie{c}})
	for _, want := range []string{"<h1>Exporter la documentation</h1>", "les pads (3)", "les documents (3, ", "CC BY 4.0",
		`<form method="get" action="/admin/export/download">`, "la-fabrique-du-coin-"} {
		if !strings.Contains(body, want) {
			t.Errorf("the export page lacks %q", want)
		}
	}
	_, body = tb.do(req{target: "/admin/export", cookies: langCookies(c, "en")})
	if !strings.Contains(body, "<h1>Export the documentation</h1>") {
		t.Error("the export page is not in English for an English browser")
	}
	res, body = tb.do(req{target: "/admin/export/download", cookies: []*http.Cookie{c}})
	wantName := `attachment; filename="la-fabrique-du-coin-` + time.Now().Format("2006-01-02") + `.zip"`
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/zip" || res.Header.Get("Content-Disposition") != wantName {
		t.Fatalf("download: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	entries := openZip(t, []byte(body))
	checkSite(t, entries)
	if _, ok := entries["pads/compte-rendu.md"]; !ok {
		t.Error("the downloaded ZIP lacks the pads")
	}
}

func TestExportFileName(t *testing.T) {
	day := time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)
	for venue, want := range map[string]string{
		"La Fabrique":            "la-fabrique-2026-03-07.zip",
		"Numérique en Commun[s]": "numerique-en-commun-s-2026-03-07.zip",
		`"; rm -rf /`:            "rm-rf-2026-03-07.zip",
		"東京":                     "tiersbox-2026-03-07.zip",
	} {
		if got := ExportFileName(venue, day); got != want {
			t.Errorf("ExportFileName(%q) = %q, want %q", venue, got, want)
		}
	}
}

// TestExportNamesStayInside: whatever a name holds, the entry lands
// inside the folder the ZIP is unpacked in, and two names never meet.
func TestExportNamesStayInside(t *testing.T) {
	var buf bytes.Buffer
	z := &zipSite{zw: zip.NewWriter(&buf), taken: map[string]bool{}}
	odd := [][]string{
		{"drive", ".."}, {"drive", "..", "..", "etc", "passwd"}, {"drive", "/etc/passwd"}, {"drive", `C:\Windows\x.txt`},
		{"drive", "a/../../b"}, {"drive", "."}, {"drive", ""}, {"drive", " . "}, {"drive", "CON"}, {"drive", "nul.txt"},
		{"drive", "tab\there\x00.txt"}, {"drive", "\u202eexe.txt"}, {"drive", strings.Repeat("é", 300) + ".pdf"},
		{"drive", "Photo.PNG"}, {"drive", "photo.png"}, {"drive", "photo.png"}, {"drive", "e\u0301te\u0301.txt"}, {"drive", "été.txt"},
		{"chat", "..."}, {"pads", "a:b"},
	}
	seen := map[string]bool{}
	for _, segs := range odd {
		w, name, err := z.create(segs, zip.Deflate, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, name)
		if !filepath.IsLocal(name) || strings.ContainsAny(name, `\:*?"<>|`) || path.Clean(name) != name || !strings.HasPrefix(name, segs[0]+"/") {
			t.Errorf("%q became %q", segs, name)
		}
		if strings.HasSuffix(segs[len(segs)-1], ".pdf") && !strings.HasSuffix(name, ".pdf") {
			t.Errorf("%q lost its extension: %q", segs, name)
		}
		for _, seg := range strings.Split(name, "/") {
			if len(seg) > maxSegment+10 || seg != strings.Trim(seg, " .") {
				t.Errorf("%q became %q", segs, name)
			}
		}
		if seen[foldName(name)] {
			t.Errorf("%q became %q, taken already", segs, name)
		}
		seen[foldName(name)] = true
		t.Logf("%q → %q", segs, name)
	}
	if err := z.zw.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(openZip(t, buf.Bytes())); n != len(odd) {
		t.Errorf("%d entries, want %d", n, len(odd))
	}
}

// FuzzExportName: any name becomes one safe segment, and making it safe
// again changes nothing.
func FuzzExportName(f *testing.F) {
	for _, s := range []string{"", ".", "..", "a/b", `a\b`, "CON.txt", " x. ", "\x00", "é", strings.Repeat("ab", 200), "CON." + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeSegment(s)
		if got == "" || got == "." || got == ".." || strings.ContainsAny(got, `/\:*?"<>|`) || !filepath.IsLocal(got) || len(got) > maxSegment {
			t.Fatalf("safeSegment(%q) = %q", s, got)
		}
		if again := safeSegment(got); again != got {
			t.Fatalf("safeSegment(%q) = %q, then %q", s, got, again)
		}
	})
}

// The export speaks the venue's default language: the first it offers.
func TestExportLanguage(t *testing.T) {
	b := newExportBox(t)
	venue, err := settings.Load(b.src.Store)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ offered, want string }{{"", "fr"}, {"en,fr", "en"}, {"fr", "fr"}, {"en", "en"}} {
		venue.Languages = tt.offered
		if err := settings.Save(b.src.Store, venue); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteExport(context.Background(), &buf, b.src); err != nil {
			t.Fatal(err)
		}
		index := string(openZip(t, buf.Bytes())["index.html"])
		if !strings.Contains(index, `<html lang="`+tt.want+`"`) {
			t.Errorf("offered %q: index.html is not in %s", tt.offered, tt.want)
		}
	}
}
