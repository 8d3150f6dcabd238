package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"tiersbox/scripts/internal/proc"
)

// stock is one stock Syncthing instance (Debian's 1.19), headless, on
// loopback only, as /work/shared/BEP.md describes. Its folder and peer
// device are added over REST, so that they start from Syncthing's own
// defaults.
type stock struct {
	name, home string
	guiAddr    string
	listenAddr string
	apiKey     string
	id         string
	p          *child
}

var stockEnv = []string{"STNORESTART=1", "STNOUPGRADE=1", "STNODEFAULTFOLDER=1"}

func newStock(dir, name string) *stock {
	s := &stock{name: name, home: filepath.Join(dir, name),
		guiAddr: fmt.Sprintf("127.0.0.1:%d", freePort()), listenAddr: fmt.Sprintf("127.0.0.1:%d", freePort())}
	cmd := exec.Command(*syncthingBin, "generate", "--home="+s.home, "--no-default-folder", "--skip-port-probing")
	cmd.Env = append(os.Environ(), stockEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		die("syncthing generate: %v: %s", err, out)
	}
	out, err := exec.Command(*syncthingBin, "serve", "--home="+s.home, "--device-id").Output()
	if err != nil {
		die("syncthing --device-id: %v", err)
	}
	s.id = strings.TrimSpace(string(out))
	// The generated configuration holds the defaults; only what keeps the
	// instance on loopback and quiet changes.
	path := filepath.Join(s.home, "config.xml")
	cfg, err := os.ReadFile(path)
	if err != nil {
		die("%v", err)
	}
	m := regexp.MustCompile(`<apikey>([^<]+)</apikey>`).FindSubmatch(cfg)
	if m == nil {
		die("no API key in %s", path)
	}
	s.apiKey = string(m[1])
	gui := regexp.MustCompile(`(<gui[^>]*>\s*<address>)[^<]*(</address>)`)
	if !gui.Match(cfg) {
		die("no GUI address in %s", path)
	}
	cfg = gui.ReplaceAll(cfg, []byte("${1}"+s.guiAddr+"${2}"))
	for tag, val := range map[string]string{
		"listenAddress":         "tcp://" + s.listenAddr,
		"globalAnnounceEnabled": "false",
		"localAnnounceEnabled":  "false",
		"relaysEnabled":         "false",
		"natEnabled":            "false",
		"stunKeepaliveStartS":   "0",
		"announceLANAddresses":  "false",
		"urAccepted":            "-1",
		"crashReportingEnabled": "false",
		"autoUpgradeIntervalH":  "0",
		"startBrowser":          "false",
		"restartOnWakeup":       "false",
	} {
		re := regexp.MustCompile(`<` + tag + `>[^<]*</` + tag + `>`)
		if !re.Match(cfg) {
			die("no <%s> in %s", tag, path)
		}
		cfg = re.ReplaceAll(cfg, []byte("<"+tag+">"+val+"</"+tag+">"))
	}
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		die("%v", err)
	}
	return s
}

func (s *stock) folder() string { return filepath.Join(s.home, "folder") }

// start runs `syncthing serve` (a monitor and its child) and returns once
// the REST API answers.
func (s *stock) start() {
	s.p = spawn("syncthing "+s.name, s.home+".log", stockEnv, *syncthingBin, "serve", "--home="+s.home,
		"--no-browser", "--no-restart", "--skip-port-probing")
	ok := waitFor(60*time.Second, 20*time.Millisecond, func() bool {
		if s.p.exited() {
			die("syncthing %s stopped at start:\n%s", s.name, s.p.tail())
		}
		return s.call("GET", "/rest/system/ping", nil, nil) == nil
	})
	if !ok {
		die("syncthing %s did not answer within 60 s:\n%s", s.name, s.p.tail())
	}
}

func (s *stock) stop() { s.p.stop(60 * time.Second) }

// worker is the `syncthing serve` child of the monitor, which does the
// work and holds the memory.
func (s *stock) worker() int {
	var pid int
	waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		if c := proc.Children(s.p.pid()); len(c) > 0 {
			pid = c[0]
			return true
		}
		return false
	})
	return pid
}

var restClient = &http.Client{Timeout: 30 * time.Second}

func (s *stock) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.guiAddr+path, rd)
	req.Header.Set("X-API-Key", s.apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := restClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s at syncthing %s: %s %s", method, path, s.name, res.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (s *stock) must(method, path string, body, out any) {
	if err := s.call(method, path, body, out); err != nil {
		die("%v", err)
	}
}

// share adds the peer device (which this side never dials: it has no
// address yet) and the folder shared with it.
func (s *stock) share(peer *stock) {
	s.must("POST", "/rest/config/devices", map[string]any{
		"deviceID": peer.id, "name": peer.name, "addresses": []string{"dynamic"},
	}, nil)
	s.must("POST", "/rest/config/folders", map[string]any{
		"id": folderDrive, "label": "drive", "path": s.folder(), "type": "sendreceive",
		"rescanIntervalS": 3600, "fsWatcherEnabled": false,
		"devices": []map[string]string{{"deviceID": s.id}, {"deviceID": peer.id}},
	}, nil)
}

// dial gives this side the peer's address, so that it connects.
func (s *stock) dial(peer *stock) {
	s.must("PATCH", "/rest/config/devices/"+peer.id, map[string]any{"addresses": []string{"tcp://" + peer.listenAddr}}, nil)
}

type folderStatus struct {
	State          string `json:"state"`
	LocalFiles     int    `json:"localFiles"`
	LocalBytes     int64  `json:"localBytes"`
	LocalDirs      int64  `json:"localDirectories"`
	GlobalFiles    int    `json:"globalFiles"`
	NeedTotalItems int    `json:"needTotalItems"`
}

func (s *stock) status() (folderStatus, error) {
	var st folderStatus
	err := s.call("GET", "/rest/db/status?folder="+folderDrive, nil, &st)
	// Syncthing counts a directory as 128 bytes: leave them out, to
	// compare with the files' sizes.
	st.LocalBytes -= 128 * st.LocalDirs
	return st, err
}

// completion is how complete device is as this side sees it; "" is this
// side itself.
func (s *stock) completion(device string) float64 {
	var c struct {
		Completion float64 `json:"completion"`
	}
	q := "/rest/db/completion?folder=" + folderDrive
	if device != "" {
		q += "&device=" + device
	}
	if s.call("GET", q, nil, &c) != nil {
		return -1
	}
	return c.Completion
}

type connStatus struct {
	Connected    bool  `json:"connected"`
	InBytesTotal int64 `json:"inBytesTotal"`
}

func (s *stock) connection(peer string) connStatus {
	var c struct {
		Connections map[string]connStatus `json:"connections"`
	}
	s.call("GET", "/rest/system/connections", nil, &c)
	return c.Connections[peer]
}

// holds says whether this side has the folder complete with files files
// and bytes bytes, nothing left to pull.
func (s *stock) holds(files int, bytes int64) bool {
	st, err := s.status()
	if err != nil || st.State != "idle" || st.NeedTotalItems != 0 || st.LocalFiles != files || st.LocalBytes != bytes {
		return false
	}
	return s.completion("") == 100
}

func failStock(what string, sides ...*stock) {
	fmt.Fprintf(os.Stderr, "\nsyncbench: FAILED: %s\n", what)
	for _, s := range sides {
		st, err := s.status()
		fmt.Fprintf(os.Stderr, "--- syncthing %s: status %+v %v, completion %.1f\n--- end of its log:\n%s\n", s.name, st, err, s.completion(""), s.p.tail())
	}
	die("%s", what)
}
