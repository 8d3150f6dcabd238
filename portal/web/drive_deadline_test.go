package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
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

// TestDriveUploadInterrupted: a visitor who leaves in the middle of an
// upload leaves nothing behind, and the box does not count it as its own
// failure.
func TestDriveUploadInterrupted(t *testing.T) {
	b := newDriveServer(t, 1<<20, 0)
	ana := newPerson(t, b.hs, "Ana")
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	tmp := filepath.Join(b.data, "drive-tmp")
	go func() {
		w, _ := mw.CreateFormFile("file", "coupé.bin")
		w.Write(make([]byte, 50000))
		// The box has begun to write the file when the phone leaves.
		for deadline := time.Now().Add(5 * time.Second); len(files(t, tmp)) == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		pw.CloseWithError(io.ErrUnexpectedEOF) // the phone left the WiFi
	}()
	req, _ := http.NewRequest("POST", b.hs.URL+"/drive", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.hs.URL)
	if res, err := ana.client.Do(req); err == nil {
		res.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(files(t, tmp)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := append(files(t, filepath.Join(b.data, "drive-tmp")), files(t, filepath.Join(b.data, "drive"))...); len(left) != 0 {
		t.Fatalf("an interrupted upload left %v", left)
	}
	for _, err := range []error{io.ErrUnexpectedEOF, fmt.Errorf("drive: upload: %w", syscall.ECONNRESET)} {
		if !interrupted(httptest.NewRequest("POST", "/drive", nil), err) {
			t.Errorf("%v is not seen as an interruption", err)
		}
	}
	if interrupted(httptest.NewRequest("POST", "/drive", nil), errors.New("disk full")) {
		t.Error("a failure of the box is taken for an interruption")
	}
}
