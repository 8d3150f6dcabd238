package main

import (
	"bytes"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/internal/stockpeer"
)

// TestStockSyncthingAndTheDrivePage: a stock Syncthing linked to a real
// daemon by device ID; a file added in its copy of the drive shows on
// the box's drive page, marked as from another box, and downloads byte for
// byte; the box's journal reaches it as segment files.
func TestStockSyncthingAndTheDrivePage(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	id, err := protocol.DeviceIDFromString(deviceID(t, data))
	if err != nil {
		t.Fatal(err)
	}
	stock := stockpeer.Start(t, id, "", "tiersbox-drive", "tiersbox-journal")
	if out, e, code := tiersbox(t, "", "link", "add", stock.ID.String(), "--address", "tcp://"+stock.Listen, "--name", "archive", "--data", data); code != 0 {
		t.Fatalf("link add: %s%s", out, e)
	}

	content := []byte("Programme des ateliers de décembre\n")
	os.WriteFile(filepath.Join(stock.Folder, "tiersbox-drive", "programme.txt"), content, 0o644)
	stock.Scan(t, "tiersbox-drive")
	waitUntil(t, "the file on the drive page", 30*time.Second, func() bool {
		page := string(httpGet(t, d.url+"drive", nil))
		return strings.Contains(page, "programme.txt") && strings.Contains(page, "venu d’une autre box")
	})
	if got := httpGet(t, d.url+"drive/"+url.PathEscape("programme.txt"), nil); !bytes.Equal(got, content) {
		t.Fatalf("the box serves %q", got)
	}

	// A message written at the box reaches the stock peer's journal folder.
	cookie := enterHTTP(t, d)
	postForm(t, d, cookie, "chat/général", "text=Pour+les+archives")
	jdir := filepath.Join(stock.Folder, "tiersbox-journal", hex.EncodeToString(id[:]))
	waitUntil(t, "the journal at the stock peer", 30*time.Second, func() bool {
		segs, _ := filepath.Glob(filepath.Join(jdir, "*.tj"))
		for _, s := range segs {
			if b, _ := os.ReadFile(s); bytes.Contains(b, []byte("Pour les archives")) {
				return true
			}
		}
		return false
	})
	d.stop(t, syscall.SIGTERM)
}
