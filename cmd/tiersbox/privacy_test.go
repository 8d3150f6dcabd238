package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tiersbox/box/journal"
	"tiersbox/box/privacy"
	"tiersbox/box/store"
)

// TestVisitorErasesAcrossBoxes: through two real daemons linked by staff,
// a visitor at A downloads what they wrote and erases it; their message
// and file leave both boxes' pages and drive folders, and their words and
// the file's entry are gone from both journals (read after the daemons
// stop), while another visitor's message stays. The file's name remains in
// the removal records, which keep it away from every box.
func TestVisitorErasesAcrossBoxes(t *testing.T) {
	a, b, dataA, dataB := twoLinkedDaemons(t)
	ana, tom := enterHTTP(t, a), enterHTTP(t, a)
	postForm(t, a, ana, "chat/général", "text=Mon+num%C3%A9ro+secret+0612-XYZ")
	postForm(t, a, tom, "chat/général", "text=Message+de+Tom")
	file := append([]byte("CONTENU-D-ANA "), randomBytes(200_000)...)
	path := uploadHTTP(t, a, ana, "cv-ana.bin", file)
	channel := "chat/g%C3%A9n%C3%A9ral.txt"
	waitUntil(t, "Ana's message and file at B", 30*time.Second, func() bool {
		return strings.Contains(string(httpGet(t, b.url+channel, nil)), "0612-XYZ") &&
			strings.Contains(string(httpGet(t, b.url+"drive", nil)), "cv-ana.bin")
	})

	var mine privacy.Contributions
	if err := json.Unmarshal(httpGet(t, a.url+"privacy/mine.json", ana), &mine); err != nil {
		t.Fatal(err)
	}
	if len(mine.Messages) != 1 || !strings.Contains(mine.Messages[0].Text, "0612-XYZ") || len(mine.Files) != 1 || mine.Files[0].Path != path {
		t.Fatalf("Ana's download: %+v", mine)
	}

	postForm(t, a, ana, "privacy/erase", "confirm=yes")
	for _, d := range []*daemon{a, b} {
		waitUntil(t, "the erasure at "+d.url, 30*time.Second, func() bool {
			page := string(httpGet(t, d.url+channel, nil))
			return !strings.Contains(page, "0612-XYZ") && strings.Contains(page, "Message de Tom") &&
				!strings.Contains(string(httpGet(t, d.url+"drive", nil)), "cv-ana.bin")
		})
		if _, err := os.Stat(filepath.Join(d.data, "drive", path)); !os.IsNotExist(err) {
			t.Errorf("%s still has the file on disk: %v", d.url, err)
		}
	}
	res, err := http.Get(a.url + "drive/" + url.PathEscape(path))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("the erased file is still served: %s", res.Status)
	}
	// B may take a moment more to receive the blanked segment than the
	// request: both come in one pull, but give it time.
	time.Sleep(2 * time.Second)
	a.stop(t, syscall.SIGTERM)
	b.stop(t, syscall.SIGTERM)

	for _, data := range []string{dataA, dataB} {
		erased, tomSeen := journalHolds(t, data, "0612-XYZ", "cv-ana")
		if erased < 2 {
			t.Errorf("%s: %d erased entries, want Ana's message and file", data, erased)
		}
		if !tomSeen {
			t.Errorf("%s: Tom's message is gone from the journal", data)
		}
	}
}

// journalHolds reads a stopped box's journals: it fails on an entry that
// holds any of words, and returns how many entries are erased and whether
// Tom's message is still there.
func journalHolds(t *testing.T, data string, words ...string) (erased int, tom bool) {
	t.Helper()
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := journal.Open(st, journal.Origin{0xff}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	heads, err := j.Heads()
	if err != nil {
		t.Fatal(err)
	}
	for o := range heads {
		j.Since(o, 0, func(e journal.Entry) error {
			frame := e.Encode()
			if e.Kind == "drive.remove" {
				// A removal names the path it removes: that name is
				// what every box needs to keep the file away.
				return nil
			}
			for _, w := range words {
				if bytes.Contains(frame, []byte(w)) {
					t.Errorf("%s: entry %v/%d (%s) still holds %q", data, e.Origin, e.Seq, e.Kind, w)
				}
			}
			if e.Erased {
				erased++
			}
			tom = tom || bytes.Contains(frame, []byte("Message de Tom"))
			return nil
		})
	}
	return erased, tom
}
