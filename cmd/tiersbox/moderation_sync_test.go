package main

import (
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestPadLockReachesLinkedBox: two real daemons, linked; staff lock a pad
// at A; at B the pad becomes read-only as the entry arrives: an editor
// open there is closed with the code that turns it read-only, the page
// says the pad is locked, and B's moderation log lists the lock, made at
// the other box, with its reason.
func TestPadLockReachesLinkedBox(t *testing.T) {
	const pw = "un mot de passe assez long"
	dataA, dataB := initBox(t, "Box A", pw), initBox(t, "Box B", pw)
	a := startDaemon(t, "--data", dataA, "--http", "127.0.0.1:0")
	b := startDaemon(t, "--data", dataB, "--http", "127.0.0.1:0")
	idA, idB := deviceID(t, dataA), deviceID(t, dataB)
	if out, e, code := tiersbox(t, "", "link", "add", idB, "--address", "tcp://"+b.syncAddr(t), "--name", "B", "--data", dataA); code != 0 {
		t.Fatalf("link add at A: %s %s", out, e)
	}
	if _, e, code := tiersbox(t, "", "link", "add", idA, "--name", "A", "--data", dataB); code != 0 {
		t.Fatalf("link add at B: %s", e)
	}

	// An editor has the pad open at B.
	editor, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(b.url, "http")+"ws/pads/charte?mode=edit", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer editor.Close()
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := editor.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()

	staffA := newStaffBrowser(t, a, pw)
	if res, body := staffA.post("pads/charte/lock", url.Values{"locked": {"1"}, "note": {"version votée"}}); res.StatusCode != 303 {
		t.Fatalf("lock at A: %d\n%s", res.StatusCode, body)
	}
	select {
	case err := <-closed:
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4001 {
			t.Fatalf("the editor at B ended with %v, want close code 4001", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the lock did not reach B's editor\nA:\n%s\nB:\n%s", a.stderr, b.stderr)
	}
	if page := string(httpGet(t, b.url+"pads/charte", nil)); !strings.Contains(page, `data-locked="1"`) {
		t.Error("B's pad page does not say the pad is locked")
	}
	staffB := newStaffBrowser(t, b, pw)
	_, log := staffB.get("admin/moderation")
	if !strings.Contains(log, "Pad verrouillé") || !strings.Contains(log, "version votée") || strings.Contains(log, "cette box") {
		t.Errorf("B's moderation log does not list A's lock as made elsewhere:\n%s", log)
	}
	a.stop(t, syscall.SIGTERM)
	b.stop(t, syscall.SIGTERM)
}
