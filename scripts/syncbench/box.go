package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	folderJournal = "tiersbox-journal"
	folderDrive   = "tiersbox-drive"
)

// box is one tiersbox daemon, on loopback ports chosen once so that a
// restarted box keeps its addresses.
type box struct {
	name, data string
	httpAddr   string
	syncAddr   string
	id         string
	p          *child
	ctl        *http.Client // of the control socket, once asked
}

// peersReport is what `tiersbox peers --json` prints.
type peersReport struct {
	Device  string       `json:"device"`
	Folders []summary    `json:"folders"`
	Linked  []peerStatus `json:"linked"`
}

type summary struct {
	ID       string `json:"id"`
	Files    int    `json:"files"`
	Bytes    int64  `json:"bytes"`
	Sequence int64  `json:"sequence"`
}

type peerStatus struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Connected bool   `json:"connected"`
	InBytes   int64  `json:"in_bytes"`
	OutBytes  int64  `json:"out_bytes"`
	Folders   []struct {
		ID            string `json:"id"`
		NeedFiles     int    `json:"need_files"`
		NeedBytes     int64  `json:"need_bytes"`
		TheyNeedFiles int    `json:"they_need_files"`
		TheyNeedBytes int64  `json:"they_need_bytes"`
	} `json:"folders"`
}

func (r peersReport) folder(id string) summary {
	for _, f := range r.Folders {
		if f.ID == id {
			return f
		}
	}
	return summary{ID: id}
}

func (r peersReport) link(id string) *peerStatus {
	for i := range r.Linked {
		if r.Linked[i].ID == id {
			return &r.Linked[i]
		}
	}
	return nil
}

// quiet says whether the link to peer is up and neither side needs
// anything from the other, as this box sees it.
func (r peersReport) quiet(peer string, theirsToo bool) bool {
	l := r.link(peer)
	if l == nil || !l.Connected || len(l.Folders) < 2 {
		return false
	}
	for _, f := range l.Folders {
		if f.NeedFiles != 0 || theirsToo && f.TheyNeedFiles != 0 {
			return false
		}
	}
	return true
}

func tiersbox(args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(*tiersboxBin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("tiersbox %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

const adminPassword = "banc d'essai de la synchronisation\n"

func newBox(dir, name string) *box {
	b := &box{name: name, data: filepath.Join(dir, name),
		httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort()), syncAddr: fmt.Sprintf("127.0.0.1:%d", freePort())}
	pw := filepath.Join(dir, "admin-password")
	if err := os.WriteFile(pw, []byte(adminPassword), 0o600); err != nil {
		die("%v", err)
	}
	if _, err := tiersbox("init", "--data", b.data, "--venue", "Banc "+name, "--admin-password-file", pw); err != nil {
		die("%v", err)
	}
	out, err := tiersbox("id", "--data", b.data)
	if err != nil {
		die("%v", err)
	}
	b.id = strings.TrimSpace(out)
	return b
}

func (b *box) drive() string { return filepath.Join(b.data, "drive") }

// start runs the daemon and returns once it answers /healthz.
func (b *box) start() {
	b.p = spawn("box "+b.name, b.data+".log", nil, *tiersboxBin, "run", "--data", b.data,
		"--http", b.httpAddr, "--sync", b.syncAddr, "--log-level", *boxLogLevel)
	ok := waitFor(30*time.Second, 20*time.Millisecond, func() bool {
		if b.p.exited() {
			die("box %s stopped at start:\n%s", b.name, b.p.tail())
		}
		if !strings.Contains(b.p.out.String(), "sync on "+b.syncAddr) {
			return false
		}
		res, err := http.Get("http://" + b.httpAddr + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	if !ok {
		die("box %s did not start within 30 s:\n%s", b.name, b.p.tail())
	}
}

func (b *box) stop() { b.p.stop(60 * time.Second) }

// peers asks the running box what `tiersbox peers --json` shows, on the
// control socket the command itself uses. It is asked ten times a second
// while a sync is timed: starting the command as many times cost about
// 7 ms of processor each, on the machine whose time is measured, where
// stock Syncthing is asked over its REST API from this process.
func (b *box) peers() (peersReport, string, error) {
	var r peersReport
	res, err := b.control().Get("http://box/peers")
	if err != nil {
		return r, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET /peers at %s: %s %s", b.name, res.Status, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &r)
	}
	return r, string(body), err
}

// control is an HTTP client of the box's control socket.
func (b *box) control() *http.Client {
	if b.ctl == nil {
		sock := filepath.Join(b.data, "control.sock")
		b.ctl = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			}}}
	}
	return b.ctl
}

func (b *box) mustPeers() peersReport {
	r, _, err := b.peers()
	if err != nil {
		die("%v", err)
	}
	return r
}

func (b *box) link(peer *box, dial bool) {
	args := []string{"link", "add", peer.id, "--name", peer.name, "--data", b.data}
	if dial {
		args = append(args, "--address", "tcp://"+peer.syncAddr)
	}
	if _, err := tiersbox(args...); err != nil {
		die("%v", err)
	}
}

// failBoxes prints what both ends say and stops everything: a box that
// does not reach sync is a finding, not something to retry.
func failBoxes(what string, boxes ...*box) {
	fmt.Fprintf(os.Stderr, "\nsyncbench: FAILED: %s\n", what)
	for _, b := range boxes {
		out, err := tiersbox("peers", "--json", "--data", b.data)
		fmt.Fprintf(os.Stderr, "\n--- tiersbox peers --json at %s (%s):\n%s", b.name, b.id, out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "(%v)\n", err)
		}
		if b.p != nil {
			fmt.Fprintf(os.Stderr, "--- end of %s's log:\n%s\n", b.name, b.p.tail())
		}
	}
	die("%s", what)
}

// upload sends files to the drive as a visitor's browser does.
func (b *box) upload(files []memFile) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute}
	base := "http://" + b.httpAddr
	res, err := c.PostForm(base+"/enter", url.Values{"nickname": {"banc"}})
	if err != nil {
		die("enter at %s: %v", b.name, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	for i := 0; i < len(files); i += 10 {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for _, f := range files[i:min(i+10, len(files))] {
			w, _ := mw.CreateFormFile("file", f.name)
			w.Write(f.data)
		}
		mw.Close()
		req, _ := http.NewRequest("POST", base+"/drive", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Accept", "application/json")
		res, err := c.Do(req)
		if err != nil {
			die("upload at %s: %v", b.name, err)
		}
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			die("upload at %s: %s %s", b.name, res.Status, msg)
		}
	}
}
