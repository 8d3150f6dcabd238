package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersbox/box/backup"
)

// fakeBackup records what the page asked of it.
type fakeBackup struct {
	mu         sync.Mutex
	content    bool
	stageErr   error
	staged     []byte
	take       bool
	stageCalls int
	restarts   int
}

func (f *fakeBackup) Write(w io.Writer) error {
	_, err := io.WriteString(w, "ARCHIVE")
	return err
}

func (f *fakeBackup) HasContent() (bool, error) { return f.content, nil }

func (f *fakeBackup) Stage(r io.Reader, take bool) (*backup.Manifest, error) {
	b, err := io.ReadAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stageCalls++
	if err != nil {
		return nil, err
	}
	if f.stageErr != nil {
		return nil, f.stageErr
	}
	f.staged, f.take = b, take
	return &backup.Manifest{DeviceID: "AAAAAAA-BBBBBBB", Created: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
		Files: []backup.File{{Name: "drive/a.txt", Size: 1500}}}, nil
}

func (f *fakeBackup) Restart() {
	f.mu.Lock()
	f.restarts++
	f.mu.Unlock()
}

func backupBox(t *testing.T, fb *fakeBackup) (*testBox, *http.Cookie) {
	t.Helper()
	b, _ := newStaffBox(t, "un mot de passe", func(o *Options) { o.Backup = fb })
	_, _, c := b.login("un mot de passe")
	if c == nil {
		t.Fatal("no staff session")
	}
	return b, c
}

// restoreForm is the form as a browser sends it: fields in page order.
func restoreForm(fields [][2]string, archive string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	if archive != "" {
		fw, _ := mw.CreateFormFile("archive", "sauvegarde.tar")
		io.WriteString(fw, archive)
	}
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

func TestBackupStaffOnly(t *testing.T) {
	fb := &fakeBackup{}
	b, _ := backupBox(t, fb)
	for _, target := range []string{"/admin/backup", "/admin/backup/download"} {
		res, body := b.do(req{target: target})
		if res.StatusCode != http.StatusSeeOther || strings.Contains(body, "ARCHIVE") {
			t.Errorf("a visitor at %s: %d", target, res.StatusCode)
		}
	}
	form, ctype := restoreForm(nil, "x")
	res, _ := b.do(req{method: "POST", target: "/admin/backup/restore", body: form, header: map[string]string{"Content-Type": ctype}})
	if res.StatusCode != http.StatusForbidden || fb.stageCalls != 0 {
		t.Errorf("a visitor's restore: %d, %d stage calls", res.StatusCode, fb.stageCalls)
	}
}

func TestBackupPageAndDownload(t *testing.T) {
	fb := &fakeBackup{}
	b, c := backupBox(t, fb)
	_, home := b.do(req{target: "/admin", cookies: []*http.Cookie{c}})
	if !strings.Contains(home, `href="/admin/backup"`) {
		t.Error("the staff home does not link the backup page")
	}
	for _, lang := range []string{"fr", "en"} {
		res, body := b.do(req{target: "/admin/backup", cookies: []*http.Cookie{c, {Name: langCookie, Value: lang}}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", lang, res.StatusCode)
		}
		for _, want := range []string{`action="/admin/backup/download"`, `enctype="multipart/form-data"`, `<label for="archive">`, `<label for="take_identity">`, translate(lang, "backup.title")} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %q", lang, want)
			}
		}
		if strings.Contains(body, `name="replace"`) {
			t.Error("an empty box asks to confirm replacing its content")
		}
	}
	res, body := b.do(req{target: "/admin/backup/download", cookies: []*http.Cookie{c}})
	if res.StatusCode != http.StatusOK || body != "ARCHIVE" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: %d %q %v", res.StatusCode, body, res.Header)
	}
}

func TestBackupRestoreForm(t *testing.T) {
	cases := []struct {
		name       string
		content    bool
		stageErr   error
		fields     [][2]string
		archive    string
		status     int
		staged     bool
		take       bool
		restarted  bool
		pageSays   string
		stageCalls int
	}{
		{name: "fresh box", archive: "TAR", status: 200, staged: true, restarted: true, pageSays: "backup.staged.restart", stageCalls: 1},
		{name: "take identity", fields: [][2]string{{"take_identity", "yes"}}, archive: "TAR", status: 200, staged: true, take: true, restarted: true, pageSays: "backup.staged.take", stageCalls: 1},
		{name: "no file", status: 400, pageSays: "backup.error.nofile"},
		{name: "box with content, not confirmed", content: true, archive: "TAR", status: 409, pageSays: "backup.error.replace"},
		{name: "box with content, confirmed", content: true, fields: [][2]string{{"replace", "yes"}}, archive: "TAR", status: 200, staged: true, restarted: true, pageSays: "backup.staged.restart", stageCalls: 1},
		{name: "bad archive", stageErr: fmt.Errorf("%w: cut short", backup.ErrArchive), archive: "TAR", status: 422, pageSays: "backup.error.archive", stageCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb := &fakeBackup{content: tc.content, stageErr: tc.stageErr}
			b, c := backupBox(t, fb)
			form, ctype := restoreForm(tc.fields, tc.archive)
			res, body := b.do(req{method: "POST", target: "/admin/backup/restore", body: form, cookies: []*http.Cookie{c, {Name: langCookie, Value: "en"}},
				header: map[string]string{"Content-Type": ctype}})
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if want := translate("en", tc.pageSays); !strings.Contains(body, want) {
				t.Errorf("the page does not say %q", want)
			}
			if fb.stageCalls != tc.stageCalls || (fb.staged != nil) != tc.staged || fb.take != tc.take || (fb.restarts > 0) != tc.restarted {
				t.Errorf("stage calls %d, staged %q, take %v, restarts %d", fb.stageCalls, fb.staged, fb.take, fb.restarts)
			}
		})
	}
}

func TestBackupRestoreCrossOrigin(t *testing.T) {
	fb := &fakeBackup{}
	b, c := backupBox(t, fb)
	form, ctype := restoreForm(nil, "TAR")
	res, _ := b.do(req{method: "POST", target: "/admin/backup/restore", body: form, cookies: []*http.Cookie{c},
		header: map[string]string{"Content-Type": ctype, "Sec-Fetch-Site": "cross-site"}})
	if res.StatusCode != http.StatusForbidden || fb.stageCalls != 0 {
		t.Errorf("a cross-site restore: %d, %d stage calls", res.StatusCode, fb.stageCalls)
	}
}

// A download that fails midway cuts the connection rather than end a
// response that looks whole.
func TestBackupDownloadFailureCuts(t *testing.T) {
	b, c := backupBox(t, &fakeBackup{})
	b.srv.opts.Backup = &failingBackup{}
	srv := httptest.NewServer(b.srv.Wrap(b.srv.Pages()))
	defer srv.Close()
	r, _ := http.NewRequest("GET", srv.URL+"/admin/backup/download", nil)
	r.AddCookie(c)
	res, err := http.DefaultClient.Do(r)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Error("a failed backup ended like a complete download")
	}
}

type failingBackup struct{ fakeBackup }

func (*failingBackup) Write(w io.Writer) error {
	io.WriteString(w, strings.Repeat("x", 100000))
	return errors.New("disk failed")
}
