package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tiersbox/box/drive"
	"tiersbox/box/visitor"
)

type driveBox struct {
	hs    *httptest.Server
	drive *drive.Service
	data  string
}

func newDriveServer(t *testing.T, maxFile, quota int64) *driveBox {
	t.Helper()
	data := t.TempDir()
	st, j := openVenue(t, data)
	d, err := drive.New(st, j, drive.Options{
		Dir: filepath.Join(data, "drive"), TmpDir: filepath.Join(data, "drive-tmp"), ThumbDir: filepath.Join(data, "drive-thumbs"),
		MaxFileSize: maxFile, Quota: quota,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	srv, err := New(Options{Store: st, Visitors: visitor.New(st, visitor.Options{}), Addresses: []string{"x"}, Drive: d})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Wrap(srv.Pages()))
	t.Cleanup(hs.Close)
	return &driveBox{hs: hs, drive: d, data: data}
}

type upload struct {
	name    string
	content []byte
}

// upload sends a multipart form as a browser does: fields first, then
// the files.
func (p *person) upload(fields map[string]string, files []upload, header map[string]string) (*http.Response, string) {
	p.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile("file", f.name)
		w.Write(f.content)
	}
	mw.Close()
	return p.send("/drive", mw.FormDataContentType(), &body, header)
}

func pngImage(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// files lists what is in a folder tree, relative to it.
func files(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestDriveUploadAndDownload(t *testing.T) {
	b := newDriveServer(t, 1<<20, 0)
	ana, bob, anon := newPerson(t, b.hs, "Ana"), newPerson(t, b.hs, "Bob"), newPerson(t, b.hs, "")
	report := []byte("Compte rendu de l'atelier vélo.\n")
	photo := pngImage(t, 600, 400)

	if res, _ := anon.upload(nil, []upload{{"x.txt", report}}, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an upload without a nickname: %d", res.StatusCode)
	}
	res, _ := ana.upload(map[string]string{"folder": "atelier-vélo", "description": "Notes du samedi", "licence": "CC BY 4.0"},
		[]upload{{"compte-rendu.txt", report}, {"photo.png", photo}}, nil)
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "added=") {
		t.Fatalf("upload: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// The same name again never replaces the first file.
	res, body := bob.upload(map[string]string{"folder": "atelier-vélo"}, []upload{{"compte-rendu.txt", []byte("autre")}}, map[string]string{"Accept": "application/json"})
	var added struct{ Added []string }
	if json.Unmarshal([]byte(body), &added); res.StatusCode != 200 || len(added.Added) != 1 || added.Added[0] != "atelier-vélo/compte-rendu (2).txt" {
		t.Fatalf("second upload of the same name: %d %s", res.StatusCode, body)
	}

	_, page := anon.get("/drive?folder=atelier-v%C3%A9lo")
	for _, want := range []string{"compte-rendu.txt", "compte-rendu (2).txt", "Notes du samedi", "CC BY 4.0", "ajouté par Ana", formatSize(int64(len(report)), "fr"), `src="/drive/atelier-v%C3%A9lo/photo.png?thumb"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the folder page lacks %q", want)
		}
	}
	if _, top := anon.get("/drive"); !strings.Contains(top, `href="/drive?folder=atelier-v%c3%a9lo"`) {
		t.Error("the top of the drive does not show the folder")
	}

	// Exact bytes, and ranges for audio and video players.
	res, got := anon.get("/drive/atelier-v%C3%A9lo/compte-rendu.txt")
	if res.StatusCode != 200 || got != string(report) || res.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("download: %d %q", res.StatusCode, got)
	}
	req, _ := http.NewRequest("GET", b.hs.URL+"/drive/atelier-v%C3%A9lo/photo.png", nil)
	req.Header.Set("Range", "bytes=100-199")
	res, err := anon.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(part, photo[100:200]) {
		t.Fatalf("range: %d, %d bytes", res.StatusCode, len(part))
	}
	res, thumb := anon.get("/drive/atelier-v%C3%A9lo/photo.png?thumb")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if cfg, _, err := image.DecodeConfig(strings.NewReader(thumb)); err != nil || cfg.Width != 320 {
		t.Fatalf("thumbnail: %+v %v", cfg, err)
	}
}

// TestDriveServesSafely: what visitors add never runs as a page of the box.
func TestDriveServesSafely(t *testing.T) {
	b := newDriveServer(t, 1<<20, 0)
	ana := newPerson(t, b.hs, "Ana")
	ana.upload(nil, []upload{
		{"page.html", []byte("<script>alert(1)</script>")},
		{"dessin.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)},
		{"notes.txt", []byte("<script>alert(1)</script>")},
	}, nil)
	tests := []struct{ path, disposition string }{
		{"/drive/page.html", "attachment"},
		{"/drive/dessin.svg", "attachment"},
		{"/drive/notes.txt", "inline"},
	}
	for _, tt := range tests {
		res, _ := ana.get(tt.path)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), tt.disposition) ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: %d, %q, %q, %q", tt.path, res.StatusCode, res.Header.Get("Content-Disposition"), res.Header.Get("X-Content-Type-Options"), res.Header.Get("Content-Security-Policy"))
		}
	}
}

func TestDriveRefusals(t *testing.T) {
	b := newDriveServer(t, 1000, 2500)
	ana := newPerson(t, b.hs, "Ana")
	ana.upload(nil, []upload{{"premier.txt", bytes.Repeat([]byte("a"), 900)}}, nil)
	ana.upload(nil, []upload{{"second.txt", bytes.Repeat([]byte("b"), 900)}}, nil)
	tests := []struct {
		name   string
		file   upload
		fields map[string]string
		status int
		says   string
	}{
		{"too large", upload{"gros.bin", bytes.Repeat([]byte("x"), 1001)}, nil, 413, "trop gros"},
		{"over the quota", upload{"trois.txt", bytes.Repeat([]byte("c"), 900)}, nil, 413, "plein"},
		{"a folder climbing out", upload{"x.txt", []byte("x")}, map[string]string{"folder": "../../etc"}, 400, "pas accepté"},
		{"a name that is only dots", upload{"..", []byte("*")}, nil, 400, "pas accepté"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := ana.upload(tt.fields, []upload{tt.file}, nil)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Fatalf("%d, want %d saying %q\n%s", res.StatusCode, tt.status, tt.says, body)
			}
		})
	}
	// A name with a path in it keeps only its last part, inside the drive,
	// and a hidden name (Syncthing's .stignore) is not hidden any more.
	ana.upload(nil, []upload{{`..\..\évadé.txt`, []byte("x")}, {".stignore", []byte("*")}}, nil)
	got := files(t, filepath.Join(b.data, "drive"))
	if fmt.Sprint(got) != "[premier.txt second.txt stignore évadé.txt]" {
		t.Fatalf("the drive folder holds %v", got)
	}
	if left := files(t, filepath.Join(b.data, "drive-tmp")); len(left) != 0 {
		t.Fatalf("refused uploads left %v", left)
	}
	for _, p := range []string{"/drive/..%2F..%2Ftiersbox.db", "/drive/%2E%2E/tiersbox.db", "/drive/nulle-part.txt"} {
		if res, body := ana.get(p); res.StatusCode == 200 || strings.Contains(body, "bbolt") {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
}

func TestDriveRemoveAndHide(t *testing.T) {
	b := newDriveServer(t, 1<<20, 0)
	ana, bob := newPerson(t, b.hs, "Ana"), newPerson(t, b.hs, "Bob")
	staff := newPerson(t, b.hs, "")
	staff.post("/admin/login", url.Values{"password": {staffPassword}}, nil)
	ana.upload(nil, []upload{{"a.txt", []byte("a")}, {"b.txt", []byte("b")}}, nil)

	if res, _ := bob.post("/drive-actions/remove", url.Values{"path": {"a.txt"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("Bob removes Ana's file: %d", res.StatusCode)
	}
	if res, _ := bob.post("/drive-actions/hide", url.Values{"path": {"a.txt"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a visitor hides a file: %d", res.StatusCode)
	}
	if res, _ := ana.post("/drive-actions/remove", url.Values{"path": {"a.txt"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ana removes her file: %d", res.StatusCode)
	}
	if res, _ := bob.get("/drive/a.txt"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a removed file downloads: %d", res.StatusCode)
	}
	if res, _ := staff.post("/drive-actions/hide", url.Values{"path": {"b.txt"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff hide: %d", res.StatusCode)
	}
	if _, page := bob.get("/drive"); strings.Contains(page, "b.txt") {
		t.Error("a hidden file is listed for visitors")
	}
	if res, _ := bob.get("/drive/b.txt"); res.StatusCode != http.StatusNotFound {
		t.Errorf("a hidden file downloads for visitors: %d", res.StatusCode)
	}
	if _, page := staff.get("/drive"); !strings.Contains(page, "b.txt") || !strings.Contains(page, "masqué") {
		t.Error("staff do not see the hidden file")
	}
	staff.post("/drive-actions/show", url.Values{"path": {"b.txt"}}, nil)
	if res, _ := bob.get("/drive/b.txt"); res.StatusCode != 200 {
		t.Errorf("a file shown again: %d", res.StatusCode)
	}
	if got := files(t, filepath.Join(b.data, "drive")); fmt.Sprint(got) != "[b.txt]" {
		t.Errorf("the drive folder holds %v", got)
	}
	// Staff choose the licence offered by default.
	staff.post("/drive-actions/licence", url.Values{"licence": {"Licence Ouverte 2.0"}}, nil)
	if _, page := ana.get("/drive"); !strings.Contains(page, `<option value="Licence Ouverte 2.0" selected>`) {
		t.Error("the default licence is not offered first")
	}
}

// TestDriveArrivedFile: a file that sync brought without its details
// says it came from another box, in French and in English, and staff can
// remove it but not hide it (there is no entry to hide).
func TestDriveArrivedFile(t *testing.T) {
	b := newDriveServer(t, 1<<20, 0)
	if err := os.WriteFile(filepath.Join(b.data, "drive", "affiche.pdf"), []byte("%PDF-1.4 affiche"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.drive.Received(drive.Arrival{Path: "affiche.pdf"}); err != nil {
		t.Fatal(err)
	}
	ana := newPerson(t, b.hs, "Ana")
	_, page := ana.get("/drive")
	for _, want := range []string{"affiche.pdf", "venu d’une autre box, le ", "application/pdf"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"ajouté par", "licence :", "Supprimer"} {
		if strings.Contains(page, unwanted) {
			t.Errorf("the page shows %q", unwanted)
		}
	}
	ana.get("/lang?to=en&back=/drive")
	if _, page := ana.get("/drive"); !strings.Contains(page, "from another box, on ") || strings.Contains(page, "added by") {
		t.Errorf("the English page does not say where the file came from")
	}
	if res, _ := ana.get("/drive/affiche.pdf"); res.StatusCode != 200 {
		t.Errorf("download: %d", res.StatusCode)
	}

	staff := newPerson(t, b.hs, "")
	staff.post("/admin/login", url.Values{"password": {staffPassword}}, nil)
	_, page = staff.get("/drive")
	if !strings.Contains(page, `action="/drive-actions/remove"`) || strings.Contains(page, `action="/drive-actions/hide"`) {
		t.Errorf("staff should be offered removal only")
	}
	if res, _ := staff.post("/drive-actions/remove", url.Values{"path": {"affiche.pdf"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff removal: %d", res.StatusCode)
	}
	if got := files(t, filepath.Join(b.data, "drive")); len(got) != 0 {
		t.Errorf("the drive folder holds %v", got)
	}
}
