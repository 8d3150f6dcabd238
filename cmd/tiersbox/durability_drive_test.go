package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDriveUploadSIGKILL kills the daemon with SIGKILL at two moments of
// an upload and restarts it on the same data:
//
//   - mid-stream, with part of a 64 MiB file in drive-tmp: after the
//     restart the drive folder holds no file, drive-tmp is empty, the page
//     lists nothing, and a complete upload then works and downloads
//     byte-identical;
//   - right after the box answered a complete upload: the file is listed
//     and downloads byte-identical after the restart.
func TestDriveUploadSIGKILL(t *testing.T) {
	t.Run("mid-stream", func(t *testing.T) {
		data := t.TempDir()
		d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
		tmpDir := filepath.Join(data, "drive-tmp")

		// The upload is sent by hand over TCP, a piece at a time, so the
		// kill comes while the box is still receiving it.
		const size = 64 << 20
		c, err := net.Dial("tcp", d.hostPort())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("description", "coupé en plein envoi")
		if _, err := mw.CreateFormFile("file", "coupure.bin"); err != nil {
			t.Fatal(err)
		}
		head := body.String()
		tail := "\r\n--" + mw.Boundary() + "--\r\n"
		fmt.Fprintf(c, "POST /drive HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nCookie: %s\r\nAccept: application/json\r\n"+
			"Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			c.RemoteAddr(), strings.TrimSuffix(d.url, "/"), enterHTTP(t, d).String(), mw.FormDataContentType(), len(head)+size+len(tail), head)
		chunk := make([]byte, 256<<10)
		var partial os.FileInfo
		for sent := 0; partial == nil; sent += len(chunk) {
			if sent+len(chunk) > size {
				t.Fatalf("all %d bytes sent and no partial upload seen in %s", sent, tmpDir)
			}
			rand.Read(chunk)
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(chunk); err != nil {
				t.Fatalf("sending the upload after %d bytes: %v\n%s", sent, err, readReply(c))
			}
			// Give the box a moment to write what it read.
			time.Sleep(5 * time.Millisecond)
			if fi := filesIn(t, tmpDir); len(fi) == 1 && fi[0].Size() >= 1<<20 {
				partial = fi[0]
			}
		}
		t.Logf("killing the daemon with %d of %d bytes in %s", partial.Size(), size, partial.Name())
		d.cmd.Process.Kill()
		<-d.done
		if fi := filesIn(t, tmpDir); len(fi) != 1 {
			t.Fatalf("after the kill drive-tmp holds %d files, want the partial upload", len(fi))
		}

		d = startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
		if fi := filesIn(t, filepath.Join(data, "drive")); len(fi) != 0 {
			t.Errorf("after the restart the drive folder holds %s", describeFiles(fi))
		}
		if fi := filesIn(t, tmpDir); len(fi) != 0 {
			t.Errorf("after the restart drive-tmp holds %s", describeFiles(fi))
		}
		if page := httpGet(t, d.url+"drive", nil); strings.Contains(string(page), "coupure") || strings.Contains(string(page), `class="files"`) {
			t.Errorf("after the restart the drive lists a file:\n%s", page)
		}

		// The box takes a whole upload as usual.
		cookie := enterHTTP(t, d)
		content := randomBytes(5<<20 + 7)
		path := uploadHTTP(t, d, cookie, "après.bin", content)
		if got := httpGet(t, d.url+"drive/"+url.PathEscape(path), cookie); !bytes.Equal(got, content) {
			t.Errorf("%s downloads as %d bytes that differ from the %d sent", path, len(got), len(content))
		}
		d.stop(t, syscall.SIGTERM)
	})

	t.Run("after-response", func(t *testing.T) {
		data := t.TempDir()
		d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
		content := randomBytes(8<<20 + 3)
		path := uploadHTTP(t, d, enterHTTP(t, d), "acquitté.bin", content)
		// The box said the file was added: a power cut now must not lose it.
		d.cmd.Process.Kill()
		<-d.done

		d = startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
		if page := httpGet(t, d.url+"drive", nil); !strings.Contains(string(page), "acquitté.bin") {
			t.Errorf("after the restart the drive does not list %s:\n%s", path, page)
		}
		if got := httpGet(t, d.url+"drive/"+url.PathEscape(path), nil); !bytes.Equal(got, content) {
			t.Errorf("after the restart %s downloads as %d bytes that differ from the %d sent", path, len(got), len(content))
		}
		if fi := filesIn(t, filepath.Join(data, "drive")); len(fi) != 1 || fi[0].Name() != "acquitté.bin" || fi[0].Size() != int64(len(content)) {
			t.Errorf("after the restart the drive folder holds %s", describeFiles(fi))
		}
		if fi := filesIn(t, filepath.Join(data, "drive-tmp")); len(fi) != 0 {
			t.Errorf("after the restart drive-tmp holds %s", describeFiles(fi))
		}
		d.stop(t, syscall.SIGTERM)
	})
}

// enterHTTP enters the box as a visitor, as the welcome form does, and
// returns the visitor's cookie.
func enterHTTP(t *testing.T, d *daemon) *http.Cookie {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.url+"enter", strings.NewReader("nickname=Ana&lang=fr"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", strings.TrimSuffix(d.url, "/"))
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if res.StatusCode == http.StatusSeeOther && c.Name == "tb_visitor" && c.Value != "" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatalf("POST /enter: %s, cookies %v", res.Status, res.Cookies())
	return nil
}

// uploadHTTP adds a file as the drive's script does, streaming the body,
// and returns the path the box gave it.
func uploadHTTP(t *testing.T, d *daemon, cookie *http.Cookie, name string, content []byte) string {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", name)
		if err == nil {
			_, err = w.Write(content)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, d.url+"drive", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", strings.TrimSuffix(d.url, "/"))
	req.AddCookie(cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("uploading %s: %v", name, err)
	}
	defer res.Body.Close()
	var reply struct {
		Added []string `json:"added"`
		Error string   `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&reply); err != nil || res.StatusCode != http.StatusOK || len(reply.Added) != 1 {
		t.Fatalf("uploading %s: %s %+v %v", name, res.Status, reply, err)
	}
	return reply.Added[0]
}

// httpGet returns the body of a 200 answer to GET u.
func httpGet(t *testing.T, u string, cookie *http.Cookie) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%.500s", u, res.Status, err, body)
	}
	return body
}

// filesIn lists the regular files under dir, at any depth.
func filesIn(t *testing.T, dir string) []fs.FileInfo {
	t.Helper()
	var out []fs.FileInfo
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		if err == nil {
			out = append(out, fi)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// describeFiles names files and their sizes, for messages.
func describeFiles(fi []fs.FileInfo) string {
	var s []string
	for _, f := range fi {
		s = append(s, fmt.Sprintf("%s (%d bytes)", f.Name(), f.Size()))
	}
	return fmt.Sprintf("%d files %v", len(s), s)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// readReply returns what the box answered on c, if anything, for the log.
func readReply(c net.Conn) string {
	c.SetReadDeadline(time.Now().Add(time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err.Error()
	}
	b, _ := io.ReadAll(res.Body)
	return res.Status + " " + string(b)
}
