package main

import (
	"bytes"
	bin "encoding/binary"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/ydoc"
)

var syncLine = regexp.MustCompile(`sync on (\S+)`)

// syncAddr waits for the address the daemon prints for sync.
func (d *daemon) syncAddr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := syncLine.FindStringSubmatch(d.stdout.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the daemon printed no sync address:\n%s", d.stdout)
	return ""
}

func deviceID(t *testing.T, data string) string {
	t.Helper()
	out, errOut, code := tiersbox(t, "", "id", "--data", data)
	if code != 0 {
		t.Fatalf("tiersbox id: %s", errOut)
	}
	return strings.TrimSpace(out)
}

// TestTwoBoxesLinkedByStaff: two real daemons, linked with `tiersbox link
// add` while they run; a visitor with a pad open at B sees the edits
// typed at A arrive live, and `tiersbox peers` shows the link in sync.
func TestTwoBoxesLinkedByStaff(t *testing.T) {
	a, b, dataA, _ := twoLinkedDaemons(t)
	idB := deviceID(t, b.data)

	// A visitor at B opens the pad; another at A types in it.
	observer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(b.url, "http")+"ws/pads/commun", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer observer.Close()
	writer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.url, "http")+"ws/pads/commun", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	doc := ydoc.NewDoc(ydoc.Options{ClientID: 501})
	var out [][]byte
	doc.OnUpdate(func(u []byte) { out = append(out, bytes.Clone(u)) })
	typed := "Compte rendu de l'atelier vélo"
	for _, r := range typed {
		out = nil
		doc.Text("content").Insert(doc.Text("content").Len(), string(r))
		if err := writer.WriteMessage(websocket.BinaryMessage, syncUpdate(out[0])); err != nil {
			t.Fatal(err)
		}
	}
	seen := ydoc.NewDoc(ydoc.Options{ClientID: 502})
	deadline := time.Now().Add(30 * time.Second)
	for seen.Text("content").String() != typed {
		observer.SetReadDeadline(deadline)
		_, msg, err := observer.ReadMessage()
		if err != nil {
			t.Fatalf("the edits did not arrive at B (%q so far): %v\nA:\n%s\nB:\n%s", seen.Text("content").String(), err, a.stderr, b.stderr)
		}
		if len(msg) > 2 && msg[0] == 0 && (msg[1] == 1 || msg[1] == 2) {
			n, k := bin.Uvarint(msg[2:])
			seen.ApplyUpdate(msg[2+k : 2+k+int(n)])
		}
	}
	// And the export at B says the same.
	res, err := http.Get(b.url + "pads/commun.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.TrimSpace(string(body)) != typed {
		t.Fatalf("B's export: %q", body)
	}

	// Chat: a message posted at each box reaches the other, in time order.
	cookieA, cookieB := enterHTTP(t, a), enterHTTP(t, b)
	postForm(t, a, cookieA, "chat/général", "text=Bonjour+de+A")
	time.Sleep(5 * time.Millisecond)
	postForm(t, b, cookieB, "chat/général", "text=Bonjour+de+B")
	for _, d := range []*daemon{a, b} {
		waitUntil(t, "both messages at "+d.url, 30*time.Second, func() bool {
			page := string(httpGet(t, d.url+"chat/g%C3%A9n%C3%A9ral.txt", nil))
			i, j := strings.Index(page, "Bonjour de A"), strings.Index(page, "Bonjour de B")
			return i >= 0 && j > i
		})
	}

	// Drive: a file added at A is listed and served at B, byte for byte;
	// removed at A, it goes from B too.
	content := randomBytes(3<<20 + 11)
	path := uploadHTTP(t, a, cookieA, "compte-rendu.bin", content)
	waitUntil(t, "the file at B", 30*time.Second, func() bool {
		return strings.Contains(string(httpGet(t, b.url+"drive", nil)), "compte-rendu.bin")
	})
	// The journal's entry can list the file before its bytes arrive (they
	// come through the drive folder): wait for them to be served.
	waitUntil(t, "the file's bytes at B", 30*time.Second, func() bool {
		res, err := http.Get(b.url + "drive/" + url.PathEscape(path))
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if got := httpGet(t, b.url+"drive/"+url.PathEscape(path), nil); !bytes.Equal(got, content) {
		t.Fatalf("B serves %d bytes that differ from the %d added at A", len(got), len(content))
	}
	postForm(t, a, cookieA, "drive-actions/remove", "path="+url.QueryEscape(path))
	waitUntil(t, "the removal at B", 30*time.Second, func() bool {
		return !strings.Contains(string(httpGet(t, b.url+"drive", nil)), "compte-rendu.bin")
	})

	peers, e, code := tiersbox(t, "", "peers", "--data", dataA)
	if code != 0 || !strings.Contains(peers, idB) || !strings.Contains(peers, "connected") {
		t.Fatalf("tiersbox peers at A:\n%s%s", peers, e)
	}
	t.Logf("tiersbox peers at A:\n%s", peers)
	a.stop(t, syscall.SIGTERM)
	b.stop(t, syscall.SIGTERM)
}

// twoLinkedDaemons starts two set-up daemons and links them with
// `tiersbox link add` while they run: A dials B.
func twoLinkedDaemons(t *testing.T) (a, b *daemon, dataA, dataB string) {
	t.Helper()
	dataA, dataB = t.TempDir(), t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("un mot de passe assez long\n"), 0o600)
	for _, d := range []string{dataA, dataB} {
		if _, e, code := tiersbox(t, "", "init", "--data", d, "--venue", "Box "+filepath.Base(d), "--admin-password-file", pw); code != 0 {
			t.Fatalf("init: %s", e)
		}
	}
	a = startDaemon(t, "--data", dataA, "--http", "127.0.0.1:0")
	b = startDaemon(t, "--data", dataB, "--http", "127.0.0.1:0")
	a.data, b.data = dataA, dataB
	idA, idB := deviceID(t, dataA), deviceID(t, dataB)
	if out, e, code := tiersbox(t, "", "link", "add", idB, "--address", "tcp://"+b.syncAddr(t), "--name", "B", "--data", dataA); code != 0 {
		t.Fatalf("link add at A: %s %s", out, e)
	}
	if _, e, code := tiersbox(t, "", "link", "add", idA, "--name", "A", "--data", dataB); code != 0 {
		t.Fatalf("link add at B: %s", e)
	}
	if out, _, _ := tiersbox(t, "", "link", "list", "--data", dataA); !strings.Contains(out, idB) {
		t.Fatalf("link list at A does not show B:\n%s", out)
	}
	return a, b, dataA, dataB
}

// postForm posts a form as the visitor's browser would.
func postForm(t *testing.T, d *daemon, cookie *http.Cookie, path, form string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.url+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(d.url, "/"))
	req.AddCookie(cookie)
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", path, res.Status)
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
