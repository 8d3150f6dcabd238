package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeClient runs scripts/yjs/ws-client.mjs, a stock y-websocket client.
func nodeClient(t *testing.T, wsURL, room string, args ...string) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "yjs"))
	_, errNode := exec.LookPath("node")
	_, errMods := os.Stat(filepath.Join(dir, "node_modules", "y-websocket"))
	if errNode != nil || errMods != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or scripts/yjs/node_modules missing (scripts/test runs npm ci): %v %v", errNode, errMods)
		}
		t.Skip("needs node and `npm ci` in scripts/yjs")
	}
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "ws-client.mjs"), wsURL, room}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("stock client: %v %s", err, stderr)
	}
	var res struct{ Text string }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("stock client printed %q", out)
	}
	return res.Text
}

// TestStockYjsClient: the y-websocket package's own client edits a pad,
// its edit reaches a Go client and the pad, and another stock client sees
// it after reconnecting.
func TestStockYjsClient(t *testing.T) {
	hs, pads := newPadServer(t)
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws/pads"
	g := dial(t, hs, "interop", 31)
	g.sync()
	g.typeAt(0, "Go: bonjour. ")
	if got := nodeClient(t, wsURL, "interop", "--insert", "Node: salut 👋", "--expect", "Go: bonjour. Node: salut 👋"); got != "Go: bonjour. Node: salut 👋" {
		t.Fatalf("stock client ended with %q", got)
	}
	g.waitText("Go: bonjour. Node: salut 👋")
	p, _ := pads.Open("interop")
	for deadline := time.Now().Add(5 * time.Second); p.Text() != "Go: bonjour. Node: salut 👋"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pad %q", p.Text())
		}
	}
	if got := nodeClient(t, wsURL, "interop", "--expect", "Go: bonjour. Node: salut 👋"); got != "Go: bonjour. Node: salut 👋" {
		t.Fatalf("second stock client sees %q", got)
	}
}
