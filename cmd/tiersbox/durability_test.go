package main

import (
	"bytes"
	bin "encoding/binary"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/pad"
	"tiersbox/box/ydoc"
)

// syncUpdate frames a Yjs update as a y-websocket message.
func syncUpdate(u []byte) []byte {
	m := []byte{0, 2}
	m = bin.AppendUvarint(m, uint64(len(u)))
	return append(m, u...)
}

// dialPad opens a y-websocket connection to the pad called name, closed
// at the end of the test.
func dialPad(t *testing.T, d *daemon, name string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(d.url, "http")+"ws/pads/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPadEditsSurviveSIGKILL kills the daemon with SIGKILL in the middle
// of a burst of edits: every edit another visitor had already received
// (the box writes an edit to disk before passing it on) is in the pad
// after a restart.
func TestPadEditsSurviveSIGKILL(t *testing.T) {
	data := t.TempDir()
	acknowledged := typeUntilKilled(t, data, "durable")

	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	checkPadHolds(t, d, "durable", acknowledged)
	d.stop(t, syscall.SIGTERM)
}

// TestBackupAfterSIGKILLHoldsPadEdits backs up a box stopped by SIGKILL
// in the middle of a burst of edits, without starting it: the archive,
// restored into another box, holds every edit a visitor had received,
// including those still in the pads' write-ahead log.
func TestBackupAfterSIGKILLHoldsPadEdits(t *testing.T) {
	data := t.TempDir()
	// An edit is journaled within about a second: the last ones typed
	// before the kill are in the write-ahead log only.
	acknowledged := typeUntilKilled(t, data, "durable")
	if n, err := pad.Waiting(data); err != nil || n == 0 {
		t.Fatalf("after the kill %d edits wait in the write-ahead log (%v); the test needs some", n, err)
	}
	archive := filepath.Join(t.TempDir(), "box.tar")
	if _, errOut, code := tiersbox(t, "", "backup", "--data", data, "--out", archive); code != 0 || !strings.Contains(errOut, "journaled the pad edits") {
		t.Fatalf("backup: exit %d, and it does not say it journaled the waiting edits: %s", code, errOut)
	}
	restored := t.TempDir()
	if _, errOut, code := tiersbox(t, "", "restore", "--data", restored, archive); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut)
	}
	d := startDaemon(t, "--data", restored, "--http", "127.0.0.1:0")
	checkPadHolds(t, d, "durable", acknowledged)
	d.stop(t, syscall.SIGTERM)
}

// typeUntilKilled starts a box on data, types edits into the pad name
// while a second visitor watches, kills the box with SIGKILL after 200
// of them reached the watcher, and returns the text the watcher had.
func typeUntilKilled(t *testing.T, data, name string) (acknowledged string) {
	t.Helper()
	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	observer, writer := dialPad(t, d, name), dialPad(t, d, name)
	// The writer types an edit every 2 ms, as fast as the box lets one
	// client type for a while (past its burst allowance it is cut off),
	// and faster than any person; the observer applies what the box
	// passes on. Unpaced, the writer would flood the observer, which is
	// not what this test is about.
	go func() {
		doc := ydoc.NewDoc(ydoc.Options{ClientID: 77})
		var out [][]byte
		doc.OnUpdate(func(u []byte) { out = append(out, bytes.Clone(u)) })
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			<-tick.C
			out = nil
			doc.Text("content").Insert(doc.Text("content").Len(), string(rune('a'+i%26)))
			if writer.WriteMessage(websocket.BinaryMessage, syncUpdate(out[0])) != nil {
				return
			}
		}
	}()
	seen := ydoc.NewDoc(ydoc.Options{ClientID: 78})
	received := 0
	for received < 200 {
		observer.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := observer.ReadMessage()
		if err != nil {
			t.Fatalf("observer: %v after %d updates", err, received)
		}
		if len(msg) > 2 && msg[0] == 0 && msg[1] == 2 {
			n, k := bin.Uvarint(msg[2:])
			if err := seen.ApplyUpdate(msg[2+k : 2+k+int(n)]); err != nil {
				t.Fatal(err)
			}
			received++
		}
	}
	// A power cut, as far as the process can tell.
	d.cmd.Process.Kill()
	<-d.done
	return seen.Text("content").String()
}

// checkPadHolds fails unless the pad name of d starts with acknowledged.
func checkPadHolds(t *testing.T, d *daemon, name, acknowledged string) {
	t.Helper()

	res, err := http.Get(d.url + "pads/" + name + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(acknowledged) < 200 || !strings.HasPrefix(string(stored), acknowledged) {
		t.Fatalf("after SIGKILL the pad holds %d characters; %d had been passed on:\nstored %.60q…\nseen   %.60q…", len(stored), len(acknowledged), stored, acknowledged)
	}
	t.Logf("%d characters passed on before the kill, %d stored after", len(acknowledged), len(stored))
}
