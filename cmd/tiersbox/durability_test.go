package main

import (
	"bytes"
	bin "encoding/binary"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

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
	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	observer, writer := dialPad(t, d, "durable"), dialPad(t, d, "durable")

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
	acknowledged := seen.Text("content").String()

	d = startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	res, err := http.Get(d.url + "pads/durable.txt")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(acknowledged) < 200 || !strings.HasPrefix(string(stored), acknowledged) {
		t.Fatalf("after SIGKILL the pad holds %d characters; %d had been passed on:\nstored %.60q…\nseen   %.60q…", len(stored), len(acknowledged), stored, acknowledged)
	}
	t.Logf("%d characters passed on before the kill, %d stored after the restart", len(acknowledged), len(stored))
	d.stop(t, syscall.SIGTERM)
}
