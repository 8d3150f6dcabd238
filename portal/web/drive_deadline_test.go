package web

import (
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDriveUploadOutlastsReadTimeout: the server's ReadTimeout bounds a
// whole request, and a large file sent over a venue's WiFi takes longer;
// an upload whose bytes keep coming is not cut.
func TestDriveUploadOutlastsReadTimeout(t *testing.T) {
	b := newDriveServer(t, 1<<20, 0)
	hs := httptest.NewUnstartedServer(b.hs.Config.Handler)
	hs.Config.ReadTimeout = 500 * time.Millisecond
	hs.Start()
	t.Cleanup(hs.Close)
	ana := newPerson(t, hs, "Ana")

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", "lent.bin")
		for i := 0; i < 20 && err == nil; i++ {
			time.Sleep(50 * time.Millisecond)
			_, err = w.Write(make([]byte, 1000))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", hs.URL+"/drive", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", hs.URL)
	res, err := ana.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var reply struct{ Added []string }
	if json.NewDecoder(res.Body).Decode(&reply); res.StatusCode != 200 || len(reply.Added) != 1 {
		t.Fatalf("a 1 s upload under a 500 ms ReadTimeout: %s %v", res.Status, reply)
	}
}
