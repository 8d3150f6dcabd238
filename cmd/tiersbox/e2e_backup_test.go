//go:build linux

package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"tiersbox/box/ydoc"
)

const backupPassword = "un mot de passe"

// postBody sends a form as a browser on the box's page does.
func postBody(t *testing.T, d *daemon, path, contentType string, body io.Reader, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.url+strings.TrimPrefix(path, "/"), body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", strings.TrimSuffix(d.url, "/"))
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return res
}

// staffCookie logs staff in and returns the session cookie.
func staffCookie(t *testing.T, d *daemon) *http.Cookie {
	t.Helper()
	code, c := staffLogin(t, d, backupPassword)
	if c == nil || c.Value == "" {
		t.Fatalf("staff login: %d", code)
	}
	return &http.Cookie{Name: c.Name, Value: c.Value}
}

// boxContent is what visitors see of the box: a pad's text export, the
// default channel's history and a drive file's bytes.
type boxContent struct {
	pad, chat, file string
}

func readContent(t *testing.T, d *daemon, padName, filePath string) boxContent {
	t.Helper()
	return boxContent{
		pad:  string(httpGet(t, d.url+"pads/"+padName+".txt", nil)),
		chat: string(httpGet(t, d.url+"chat/g%C3%A9n%C3%A9ral.json", nil)),
		file: string(httpGet(t, d.url+"drive/"+(&url.URL{Path: filePath}).EscapedPath(), nil)),
	}
}

// TestE2EBackupRestore: a box with a pad, chat messages and a drive file,
// all made through the pages; staff download its backup from
// /admin/backup; `tiersbox restore` puts it in a new data folder, and the
// box started there shows the same pad text, the same messages and the
// byte-identical file, under a device ID of its own (or the old one with
// --take-identity). Bad archives and a folder that holds a box are
// refused, changing nothing. Then the staff page restores the same
// archive onto a freshly set-up running box, in a browser, and the box
// restarts by itself with the content; a second restore there needs the
// staff's confirmation.
func TestE2EBackupRestore(t *testing.T) {
	requireE2E(t)
	dataA := initBox(t, "La Fabrique", backupPassword)
	a := startDaemon(t, "--data", dataA, "--http", "127.0.0.1:0")
	visitor := enterHTTP(t, a)

	// A pad, imported from a text file as the pads page does.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("title", "Atelier réparation")
	fw, _ := mw.CreateFormFile("file", "atelier.txt")
	io.WriteString(fw, "Atelier réparation\n\nSamedi à 14 h, apportez vos vélos.\n")
	mw.Close()
	res := postBody(t, a, "/pads/import", mw.FormDataContentType(), &buf, visitor)
	res.Body.Close()
	padName := strings.TrimPrefix(res.Header.Get("Location"), "/pads/")
	if res.StatusCode != http.StatusSeeOther || padName == "" {
		t.Fatalf("pad import: %s to %q", res.Status, res.Header.Get("Location"))
	}
	for _, text := range []string{"Bonjour à toutes et à tous", "Le café est prêt"} {
		res := postBody(t, a, "/chat/g%C3%A9n%C3%A9ral", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"text": {text}}.Encode()), visitor)
		res.Body.Close()
		if res.StatusCode >= 400 {
			t.Fatalf("chat post: %s", res.Status)
		}
	}
	fileBytes := randomBytes(300<<10 + 7)
	filePath := uploadHTTP(t, a, visitor, "plan du lieu.bin", fileBytes)
	want := readContent(t, a, padName, filePath)
	if !strings.Contains(want.pad, "apportez vos vélos") || !strings.Contains(want.chat, "Le café est prêt") || want.file != string(fileBytes) {
		t.Fatalf("the source box's content: %+v", want.pad)
	}
	idA := deviceID(t, dataA)

	// Staff log in to download the backup.
	staff := staffCookie(t, a)

	// An edit typed just before the backup, seen by another visitor: it
	// waits in the write-ahead log, and the backup journals it first.
	lastPad := "derniere-minute"
	observer, writer := dialPad(t, a, lastPad), dialPad(t, a, lastPad)
	typed := ydoc.NewDoc(ydoc.Options{ClientID: 41})
	var update []byte
	typed.OnUpdate(func(u []byte) { update = bytes.Clone(u) })
	typed.Text("content").Insert(0, "Écrit juste avant la sauvegarde.")
	if err := writer.WriteMessage(websocket.BinaryMessage, syncUpdate(update)); err != nil {
		t.Fatal(err)
	}
	for {
		observer.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := observer.ReadMessage()
		if err != nil {
			t.Fatalf("the other visitor: %v", err)
		}
		if bytes.Equal(msg, syncUpdate(update)) {
			break
		}
	}

	// They download it.
	req, _ := http.NewRequest(http.MethodGet, a.url+"admin/backup/download", nil)
	req.AddCookie(staff)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "sauvegarde.tar")
	f, _ := os.Create(archive)
	_, err = io.Copy(f, res.Body)
	res.Body.Close()
	f.Close()
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %s %v", res.Status, err)
	}

	// The command line backs up the running box too, through it.
	cliArchive := filepath.Join(t.TempDir(), "cli.tar.gz")
	if out, errOut, code := tiersbox(t, "", "backup", "--data", dataA, "--out", cliArchive); code != 0 || !strings.Contains(out, idA) {
		t.Fatalf("backup of the running box: %d %s %s", code, out, errOut)
	}
	a.stop(t, os.Interrupt)

	t.Run("restore keeps its own identity", func(t *testing.T) {
		dataB := filepath.Join(t.TempDir(), "b")
		out, errOut, code := tiersbox(t, "", "restore", "--data", dataB, archive)
		if code != 0 {
			t.Fatalf("restore: %s", errOut)
		}
		idB := deviceID(t, dataB)
		if idB == idA || !strings.Contains(out, idB) {
			t.Fatalf("device %s after restore (source %s):\n%s", idB, idA, out)
		}
		b := startDaemon(t, "--data", dataB, "--http", "127.0.0.1:0")
		defer b.stop(t, os.Interrupt)
		if got := readContent(t, b, padName, filePath); got != want {
			t.Errorf("restored content differs:\npad %q\nwant %q\nchat %s\nwant %s\nfile same: %v", got.pad, want.pad, got.chat, want.chat, got.file == want.file)
		}
		if got := string(httpGet(t, b.url+"pads/"+lastPad+".txt", nil)); !strings.Contains(got, "juste avant la sauvegarde") {
			t.Errorf("the pad written just before the backup was restored as %q", got)
		}
		// The old box's staff sessions do not open the new one.
		req, _ := http.NewRequest(http.MethodGet, b.url+"admin/backup", nil)
		req.AddCookie(staff)
		if res, err := http.DefaultTransport.RoundTrip(req); err != nil || res.StatusCode != http.StatusSeeOther {
			t.Errorf("the source's staff session on the restored box: %v %v", res.Status, err)
		} else {
			res.Body.Close()
		}
		// The restored box writes under its own identity.
		res := postBody(t, b, "/chat/g%C3%A9n%C3%A9ral", "application/x-www-form-urlencoded", strings.NewReader("text=apr%C3%A8s"), enterHTTP(t, b))
		res.Body.Close()
		if chat := string(httpGet(t, b.url+"chat/g%C3%A9n%C3%A9ral.json", nil)); res.StatusCode >= 400 || !strings.Contains(chat, "après") || !strings.Contains(chat, "Le café est prêt") {
			t.Errorf("a new message on the restored box: %s\n%s", res.Status, chat)
		}

		// A folder that holds a box is refused.
		if _, errOut, code := tiersbox(t, "", "restore", "--data", dataB, archive); code == 0 || !strings.Contains(errOut, "already holds a box") {
			t.Errorf("restore over a box: %d %s", code, errOut)
		}
	})

	t.Run("take identity, from the command line's gzip archive", func(t *testing.T) {
		dataB := filepath.Join(t.TempDir(), "b")
		if _, errOut, code := tiersbox(t, "", "restore", "--data", dataB, "--take-identity", cliArchive); code != 0 {
			t.Fatalf("restore: %s", errOut)
		}
		if id := deviceID(t, dataB); id != idA {
			t.Errorf("device %s, want the source's %s", id, idA)
		}
	})

	t.Run("bad archives change nothing", func(t *testing.T) {
		whole, _ := os.ReadFile(archive)
		for name, content := range map[string][]byte{
			"cut":     whole[:len(whole)*2/3],
			"damaged": append(bytes.Clone(whole[:len(whole)/2]), append([]byte{whole[len(whole)/2] ^ 0x55}, whole[len(whole)/2+1:]...)...),
		} {
			bad := filepath.Join(t.TempDir(), name+".tar")
			os.WriteFile(bad, content, 0o600)
			dataB := filepath.Join(t.TempDir(), "b")
			_, errOut, code := tiersbox(t, "", "restore", "--data", dataB, bad)
			if code == 0 || !strings.Contains(errOut, "not a complete tiersbox backup") || !strings.Contains(errOut, "nothing was changed") {
				t.Errorf("%s: %d %s", name, code, errOut)
			}
			if _, err := os.Stat(dataB); !os.IsNotExist(err) {
				t.Errorf("%s: the data folder was made: %v", name, err)
			}
		}
	})

	t.Run("restore on the staff page of a running box", func(t *testing.T) {
		dataC := initBox(t, "Le Local", backupPassword)
		idC := deviceID(t, dataC)
		// A fixed port: the box restarts on it.
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().String()
		l.Close()
		c := startDaemon(t, "--data", dataC, "--http", port)

		// Staff restore the archive with the page's form, in a browser.
		ctx := browser(t, c.hostPort())
		runBrowser(t, ctx, "staff log in and send the backup",
			chromedp.Navigate("http://tiers.box/admin/backup"),
			chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SendKeys(chromedp.ID("password"), backupPassword),
			chromedp.Click(chromedp.CSS(`form.enter button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("archive")),
			chromedp.SetUploadFiles(chromedp.ID("archive"), []string{archive}),
			chromedp.Click(chromedp.CSS(`form[action="/admin/backup/restore"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("staged-title")),
		)
		if page := evalString(t, ctx, `document.querySelector("main").innerText`); !strings.Contains(page, idA) {
			t.Fatalf("the page after sending the backup:\n%s", page)
		}
		// The box restarts by itself and applies it.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(c.stderr.String(), "restore applied") || !healthy(c) {
			if time.Now().After(deadline) {
				t.Fatalf("the box did not come back with the restore:\n%s", c.stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := readContent(t, c, padName, filePath); got != want {
			t.Errorf("content after the web restore differs: pad %q, file same %v", got.pad, got.file == want.file)
		}

		// Now the box has content: a restore without the staff's
		// confirmation is refused before the archive is read, and one
		// with it replaces everything, keeping the old data aside.
		upload := func(confirm bool) (*http.Response, string) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			if confirm {
				mw.WriteField("replace", "yes")
			}
			fw, _ := mw.CreateFormFile("archive", "sauvegarde.tar")
			b, _ := os.ReadFile(archive)
			fw.Write(b)
			mw.Close()
			res := postBody(t, c, "/admin/backup/restore", mw.FormDataContentType(), &buf, staffCookie(t, c))
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res, string(page)
		}
		if res, page := upload(false); res.StatusCode != http.StatusConflict || !strings.Contains(page, "replace") {
			t.Errorf("a restore over content, not confirmed: %s", res.Status)
		}
		if res, _ := upload(true); res.StatusCode != http.StatusOK {
			t.Fatalf("a confirmed restore: %s", res.Status)
		}
		deadline = time.Now().Add(30 * time.Second)
		for strings.Count(c.stderr.String(), "restore applied") < 2 || !healthy(c) {
			if time.Now().After(deadline) {
				t.Fatalf("the box did not come back with the second restore:\n%s", c.stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Each restore kept the database it replaced: the one init
		// made, then the first restore's.
		if aside, _ := filepath.Glob(filepath.Join(dataC, "before-restore-*", "tiersbox.db")); len(aside) != 2 {
			t.Errorf("the replaced databases are not kept aside: %v", aside)
		}
		if got := readContent(t, c, padName, filePath); got != want {
			t.Errorf("content after the second web restore differs")
		}
		c.stop(t, os.Interrupt)
		if id := deviceID(t, dataC); id != idC {
			t.Errorf("the box's device ID changed to %s", id)
		}
	})
}

func healthy(d *daemon) bool {
	res, err := http.Get(d.url + "healthz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}
