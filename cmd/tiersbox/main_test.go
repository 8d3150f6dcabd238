package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the tiersbox binary built once for the tests that run it as a
// user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tiersbox-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tiersbox")
	// Every box a test starts syncs on a free loopback port, never on
	// the default :22000 (two tests would fight over it).
	os.Setenv("TIERSBOX_SYNC", "127.0.0.1:0")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tiersbox: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tiersbox runs a subcommand to completion.
func tiersbox(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("tiersbox %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// daemon is a running `tiersbox run`.
type daemon struct {
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
	data   string // its data folder, when the test needs it
}

// hostPort is where the daemon listens, such as 127.0.0.1:41234.
func (d *daemon) hostPort() string {
	return strings.TrimSuffix(strings.TrimPrefix(d.url, "http://"), "/")
}

// syncBuffer is a bytes.Buffer that the process's copier goroutine and the
// test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(p string) {
	s.Write([]byte(p))
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var openLine = regexp.MustCompile(`open (http://\S+/) in a browser`)

// startDaemon runs the box and waits until it answers /healthz.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startCmd(t, exec.Command(binary, append([]string{"run"}, args...)...))
}

// startCmd starts a daemon and waits until it answers /healthz.
func startCmd(t *testing.T, cmd *exec.Cmd) *daemon {
	t.Helper()
	d := launch(t, cmd)
	for i := 0; ; i++ {
		res, err := http.Get(d.url + "healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if i == 100 {
			t.Fatalf("daemon not healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// launch starts a daemon and waits until it prints its address, which it
// does once its sockets are bound. Whatever happens, the process is killed
// when the test ends; its stderr is shown if the test failed.
func launch(t *testing.T, cmd *exec.Cmd) *daemon {
	t.Helper()
	d := &daemon{cmd: cmd, stderr: new(syncBuffer), stdout: new(syncBuffer), done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", d.stderr)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.stdout.WriteString(sc.Text() + "\n")
			if m := openLine.FindStringSubmatch(sc.Text()); m != nil {
				// Only the first start's address is awaited: a box
				// that restarts itself prints it again.
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		d.done <- cmd.Wait()
	}()
	select {
	case d.url = <-found:
	case err := <-d.done:
		d.done <- err
		t.Fatalf("daemon exited before serving: %v\n%s", err, d.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon printed no address\n%s", d.stderr)
	}
	return d
}

// stop sends sig and requires a clean exit.
func (d *daemon) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon exit after %v: %v\n%s", sig, err, d.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not stop after %v\n%s", sig, d.stderr)
	}
	if !strings.Contains(d.stderr.String(), "box stopped cleanly") {
		t.Errorf("no clean-stop log:\n%s", d.stderr)
	}
}

func TestInitIDAndRun(t *testing.T) {
	data := filepath.Join(t.TempDir(), "box")
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("un mot de passe\n"), 0o600)

	// id before init: a clear error.
	_, stderr, code := tiersbox(t, "", "id", "--data", data)
	if code != 1 || !strings.Contains(stderr, "run `tiersbox init") {
		t.Fatalf("id before init: %d %q", code, stderr)
	}
	// A password too short is refused and nothing is set up.
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("abc"), 0o600)
	_, stderr, code = tiersbox(t, "", "init", "--data", data, "--venue", "La Fabrique", "--admin-password-file", short)
	if code != 1 || !strings.Contains(stderr, "at least 8") {
		t.Fatalf("short password: %d %q", code, stderr)
	}

	stdout, stderr, code := tiersbox(t, "", "init", "--data", data, "--venue", "La Fabrique", "--admin-password-file", pwFile)
	if code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	idOut, _, code := tiersbox(t, "", "id", "--data", data)
	deviceID := strings.TrimSpace(idOut)
	if code != 0 || !regexp.MustCompile(`^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$`).MatchString(deviceID) {
		t.Fatalf("id: %d %q", code, idOut)
	}
	if !strings.Contains(stdout, deviceID) {
		t.Errorf("init did not print the device ID: %q", stdout)
	}
	// init twice changes nothing.
	_, stderr, code = tiersbox(t, "", "init", "--data", data, "--venue", "Autre", "--admin-password-file", pwFile)
	if code != 1 || !strings.Contains(stderr, "already set up") {
		t.Fatalf("second init: %d %q", code, stderr)
	}

	d := startDaemon(t, "--data", data, "--http", "127.0.0.1:0")
	res, err := http.Get(d.url + "welcome")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "<h1>La Fabrique</h1>") {
		t.Errorf("welcome page does not name the venue")
	}
	if !strings.Contains(d.stdout.String(), deviceID) {
		t.Errorf("run did not print the device ID")
	}

	// A second daemon on the same data folder is refused clearly.
	_, stderr, code = tiersbox(t, "", "run", "--data", data, "--http", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "in use by another tiersbox") {
		t.Errorf("second daemon: %d %q", code, stderr)
	}
	d.stop(t, syscall.SIGTERM)

	// The identity survives restarts.
	idOut, _, _ = tiersbox(t, "", "id", "--data", data)
	if strings.TrimSpace(idOut) != deviceID {
		t.Errorf("device ID changed: %q then %q", deviceID, idOut)
	}
}

func TestInitInteractive(t *testing.T) {
	data := t.TempDir()
	stdout, stderr, code := tiersbox(t, "Café des Possibles\nsecret-secret\n", "init", "--data", data)
	if code != 0 || !strings.Contains(stdout, `Box "Café des Possibles" set up`) {
		t.Fatalf("interactive init: %d %q %q", code, stdout, stderr)
	}
}

// TestFirstRunWithoutInit is a developer's `go run ./cmd/tiersbox`: no
// config, no init, and a box that works.
func TestFirstRunWithoutInit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "--http", "127.0.0.1:0")
	cmd.Dir = dir
	d := startCmd(t, cmd)
	res, err := http.Get(d.url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/welcome" || res.StatusCode != 200 {
		t.Errorf("/ led to %s (%d)", res.Request.URL, res.StatusCode)
	}
	for _, f := range []string{"tiersbox-data/cert.pem", "tiersbox-data/key.pem", "tiersbox-data/tiersbox.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("first run did not create %s: %v", f, err)
		}
	}
	d.stop(t, os.Interrupt)
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, `unknown subcommand "frobnicate"`},
		{[]string{"run", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"run", "--http", "nonsense"}, 2, "http.listen"},
		{[]string{"run", "--data", "x", "--config", "/nonexistent.toml"}, 1, "/nonexistent.toml"},
		{[]string{"version", "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		_, stderr, code := tiersbox(t, "", tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("tiersbox %v: %d %q, want %d with %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
	stdout, _, code := tiersbox(t, "", "help")
	for _, sub := range []string{"run", "init", "id", "version", "help"} {
		if code != 0 || !strings.Contains(stdout, "  "+sub+" ") {
			t.Errorf("help lacks %q", sub)
		}
	}
	stdout, _, code = tiersbox(t, "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "tiersbox ") {
		t.Errorf("version: %d %q", code, stdout)
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(file, []byte(`
[http]
listen = ":80"
[dns]
listen = ":53"
[portal]
address = "10.42.0.1"
session = "2h"
`), 0o600)
	t.Setenv("TIERSBOX_DNS", ":5353")
	f := commonFlags{config: file}
	c, err := f.load()
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != ":80" || c.DNS.Listen != ":5353" || c.Portal.Address != "10.42.0.1" || c.Portal.Session.Hours() != 2 || c.Portal.Hostname != "tiers.box" {
		t.Errorf("file then environment over defaults: %+v", c)
	}

	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[portal]\nadress = \"10.42.0.1\"\n"), 0o600)
	f = commonFlags{config: bad}
	if _, err := f.load(); err == nil || !strings.Contains(err.Error(), "portal.adress") {
		t.Errorf("a misspelt key: %v", err)
	}
}

func TestRunInProcess(t *testing.T) {
	// The same path as the binary, in-process, so the race detector sees
	// the daemon's goroutines.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"run", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--dns", "127.0.0.1:0"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var url string
	for sc.Scan() {
		if m := openLine.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no address: %v", <-errc)
	}
	res, err := http.Get(url + "api/captive")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Content-Type") != "application/captive+json" {
		t.Errorf("captive API: %s", res.Header.Get("Content-Type"))
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestShutdownFinishesInFlight sends SIGTERM while a visitor's form is
// half sent: the daemon stops accepting, lets that request finish, then
// exits 0.
func TestShutdownFinishesInFlight(t *testing.T) {
	d := startDaemon(t, "--data", t.TempDir(), "--http", "127.0.0.1:0")
	host := d.hostPort()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := "nickname=Ana&lang=fr"
	fmt.Fprintf(c, "POST /enter HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body[:5])
	// Let the daemon start reading the request before the signal.
	time.Sleep(200 * time.Millisecond)
	d.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	// New connections are refused while the old one is served.
	if c2, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		c2.Close()
		t.Error("the daemon still accepts connections after SIGTERM")
	}
	io.WriteString(c, body[5:])
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the in-flight request was cut: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("in-flight Enter answered %d, want 303", res.StatusCode)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, d.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not exit")
	}
}

// TestDNSRefusesLoopbackForVisitors: a responder reachable from the
// network must not tell visitors the box is at 127.0.0.1.
func TestDNSRefusesLoopbackForVisitors(t *testing.T) {
	_, stderr, code := tiersbox(t, "", "run", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--dns", ":0")
	if code != 2 || !strings.Contains(stderr, "loopback") {
		t.Fatalf("got %d %q", code, stderr)
	}
}

// The daemon sets its collector's target unless the service's
// environment says GOGC.
func TestRunSetsCollectorTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		gogc string
		want int
	}{
		{"", gcPercent},
		{"100", 100}, // as the runtime read it at start
	} {
		t.Setenv("GOGC", tc.gogc)
		debug.SetGCPercent(100)
		var out bytes.Buffer
		err := cmdRun(context.Background(), []string{"-no-such-flag"}, cmdEnv{stdout: &out, stderr: &out})
		if err == nil {
			t.Fatal("run with an unknown flag: no error")
		}
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q: collector target %d, want %d", tc.gogc, got, tc.want)
		}
	}
}

// While the box starts, the collector's target is startGCPercent, until
// the box serves or its heap reaches startHeap; then gcPercent.
func TestStartCollector(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	gogc := func() uint64 {
		s := []runtimemetrics.Sample{{Name: "/gc/gogc:percent"}}
		runtimemetrics.Read(s)
		return s[0].Value.Uint64()
	}
	started := startCollector()
	if got := gogc(); got != startGCPercent {
		t.Fatalf("target %d at the start, want %d", got, startGCPercent)
	}
	started()
	if got := gogc(); got != gcPercent {
		t.Fatalf("target %d once started, want %d", got, gcPercent)
	}
	started() // a second call changes nothing

	startCollector()
	heap := make([]byte, startHeap)
	for i := range heap {
		heap[i] = byte(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != gcPercent {
		if time.Now().After(deadline) {
			t.Fatalf("target still %d with a heap of %d bytes", gogc(), startHeap)
		}
		time.Sleep(5 * time.Millisecond)
	}
	runtime.KeepAlive(heap)
}
