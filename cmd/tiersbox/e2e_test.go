//go:build linux

package main

// The end-to-end test of a visitor's first minutes: a phone joins the box's
// WiFi, is caught by the portal, enters with a nickname in a real browser,
// and from then on its connectivity checks say "online".
//
// Two network namespaces stand for the box and the phone, joined by a veth
// pair as the WiFi would join them. TestE2ENetns (the parent) builds them,
// runs the real daemon in the box's, and re-executes this test binary inside
// the phone's to play the phone: there, Go's resolver and Chromium use the
// box's DNS responder (ip netns exec bind-mounts /etc/netns/PHONE/resolv.conf
// over /etc/resolv.conf) and every packet goes to the box, as on a real
// phone. Nothing leaves the two namespaces.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/sys/unix"

	"tiersbox/portal/captive"
)

const (
	// envE2E turns the end-to-end tests on; scripts/test always sets it.
	envE2E = "TIERSBOX_E2E"
	// envPhone tells the re-executed test binary that it is the phone.
	envPhone = "TIERSBOX_E2E_PHONE"
	// envPhoneLink names the phone's end of the veth pair, for the phone
	// side to give itself a second address.
	envPhoneLink = "TIERSBOX_E2E_PHONE_LINK"
	// envArtifacts is a folder that keeps the screenshots; without it they
	// go to a temporary folder removed at the end.
	envArtifacts = "TIERSBOX_E2E_ARTIFACTS"

	e2eVenue    = "Numérique en Commun[s]"
	e2eBoxIP    = "10.77.0.1"
	e2ePhoneIP  = "10.77.0.2"
	e2ePhoneIP2 = "10.77.0.3" // the same phone after a new DHCP lease
	e2ePortal   = "http://tiers.box"
	e2eWelcome  = e2ePortal + "/welcome"
	chromium    = "/usr/bin/chromium"

	// The phone's viewport, in CSS pixels: an iPhone 12 to 15.
	phoneWidth, phoneHeight = 390, 844
)

// TestE2ENetns builds the box and the phone, runs the daemon, runs this
// same test again inside the phone (where it plays the phone, see
// phoneSide) and requires a clean stop.
func TestE2ENetns(t *testing.T) {
	if os.Getenv(envPhone) == "1" {
		phoneSide(t)
		return
	}
	requireE2E(t)
	start := time.Now()

	nets := newVisitorNet(t)
	t.Logf("network: box %s in %s, phone %s (MAC %s) in %s, phone DNS %s",
		e2eBoxIP, nets.box, e2ePhoneIP, nets.phoneMAC, nets.phone, e2eBoxIP)

	data := filepath.Join(t.TempDir(), "box")
	pw := filepath.Join(t.TempDir(), "admin-password")
	if err := os.WriteFile(pw, []byte("mot de passe du lieu\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := tiersbox(t, "", "init", "--data", data, "--venue", e2eVenue, "--admin-password-file", pw); code != 0 {
		t.Fatalf("tiersbox init: exit %d\n%s", code, stderr)
	}

	d := startInNetns(t, nets.box, "run", "--data", data,
		"--http", e2eBoxIP+":80", "--dns", e2eBoxIP+":53", "--log-level", "debug")
	t.Logf("daemon started in %s:\n%s", nets.box, d.stdout)
	if err := boxHealthz(nets.box); err != nil {
		t.Fatalf("daemon not answering inside %s: %v", nets.box, err)
	}
	t.Logf("daemon healthy after %v", time.Since(start).Round(time.Millisecond))

	runPhone(t, nets)

	// The box knows the phone's MAC from its neighbour table, which is how
	// it recognises the device whatever its address.
	neigh, err := exec.Command("ip", "-n", nets.box, "neigh", "show", e2ePhoneIP).CombinedOutput()
	t.Logf("box neighbour table: %s", bytes.TrimSpace(neigh))
	if err != nil || !strings.Contains(string(neigh), nets.phoneMAC) {
		t.Errorf("the box's neighbour table lacks the phone's MAC %s: %v", nets.phoneMAC, err)
	}

	if err := boxHealthz(nets.box); err != nil {
		t.Fatalf("daemon not answering after the phone's visit: %v", err)
	}
	d.stop(t, syscall.SIGTERM)
	logs := d.stderr.String()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("the daemon logged an error: %s", line)
		}
	}
	if !strings.Contains(logs, `msg="visitor entered" client=`+e2ePhoneIP) {
		t.Errorf("the daemon did not log the visitor entering from %s", e2ePhoneIP)
	}
	t.Logf("whole visit, daemon start to clean stop: %v", time.Since(start).Round(time.Millisecond))
}

// requireE2EHost fails, rather than skips, when the machine lacks what the
// test needs: with TIERSBOX_E2E=1 a skip would hide that nothing ran.
// requireE2E skips an end-to-end test unless TIERSBOX_E2E=1 (scripts/test
// sets it), and then checks the machine can run it.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv(envE2E) != "1" {
		t.Skip("set TIERSBOX_E2E=1 to run (scripts/test does)")
	}
	requireE2EHost(t)
}

func requireE2EHost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("TestE2ENetns creates network namespaces and needs root: run scripts/test as root, or sudo env PATH=$PATH TIERSBOX_E2E=1 go test ./cmd/tiersbox/")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("TestE2ENetns needs ip: apt-get install -y iproute2")
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("TestE2ENetns needs Chromium at %s: apt-get install -y chromium", chromium)
	}
}

// visitorNet is the box's WiFi in miniature: two network namespaces and a
// veth pair between them.
type visitorNet struct {
	box, phone         string // namespace names
	boxLink, phoneLink string // the veth ends, one in each
	phoneMAC           string
}

// newVisitorNet creates the namespaces, with names unique to this process,
// and removes them when the test ends, whatever happened.
func newVisitorNet(t *testing.T) visitorNet {
	t.Helper()
	id := strconv.Itoa(os.Getpid())
	n := visitorNet{
		box: "tbbox-" + id, phone: "tbphone-" + id,
		// Interface names have at most 15 characters.
		boxLink: "tbb" + id, phoneLink: "tbp" + id,
	}
	_, err := os.Stat("/etc/netns")
	etcNetnsExisted := err == nil
	// Registered before anything is made, so that a half-made network is
	// removed too.
	t.Cleanup(func() { n.remove(t, etcNetnsExisted) })

	for _, args := range [][]string{
		{"netns", "add", n.box},
		{"netns", "add", n.phone},
		// Both ends are created in their namespaces: nothing appears in
		// the root namespace, even for a moment.
		{"link", "add", n.boxLink, "netns", n.box, "type", "veth", "peer", "name", n.phoneLink, "netns", n.phone},
		{"-n", n.box, "addr", "add", e2eBoxIP + "/24", "dev", n.boxLink},
		{"-n", n.phone, "addr", "add", e2ePhoneIP + "/24", "dev", n.phoneLink},
		{"-n", n.box, "link", "set", "lo", "up"},
		{"-n", n.phone, "link", "set", "lo", "up"},
		{"-n", n.box, "link", "set", n.boxLink, "up"},
		{"-n", n.phone, "link", "set", n.phoneLink, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The phone asks the box for every name, as DHCP would tell it to.
	dir := filepath.Join("/etc/netns", n.phone)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver "+e2eBoxIP+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command("ip", "-n", n.phone, "-o", "link", "show", "dev", n.phoneLink).CombinedOutput()
	m := regexp.MustCompile(`link/ether ([0-9a-f:]{17})`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("reading the phone's MAC: %v\n%s", err, out)
	}
	n.phoneMAC = string(m[1])
	return n
}

// routeMulticast gives both namespaces a route for multicast: without
// one (there is no default route here), joining 224.0.0.251 fails with
// "no such device".
func (n visitorNet) routeMulticast(t *testing.T) {
	t.Helper()
	for _, r := range [][]string{
		{"-n", n.box, "route", "add", "224.0.0.0/4", "dev", n.boxLink},
		{"-n", n.phone, "route", "add", "224.0.0.0/4", "dev", n.phoneLink},
	} {
		if out, err := exec.Command("ip", r...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", r, err, out)
		}
	}
}

// remove ends whatever still runs in the namespaces (a Chromium that
// outlived a killed phone side, a daemon that would not stop), then deletes
// them and the phone's resolv.conf.
func (n visitorNet) remove(t *testing.T, keepEtcNetns bool) {
	for _, ns := range []string{n.phone, n.box} {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			// Not this process: a thread of it may have visited the
			// namespace (inNetns).
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				t.Logf("cleanup: killing process %d left in %s", pid, ns)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("cleanup: ip netns del %s: %v\n%s", ns, err, out)
		}
	}
	if err := os.RemoveAll(filepath.Join("/etc/netns", n.phone)); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if !keepEtcNetns {
		// Only if empty: a parallel run may be using it.
		os.Remove("/etc/netns")
	}
}

// startInNetns runs `tiersbox ARGS` in a namespace and waits until it has
// printed its address, which it does once its sockets are bound. Unlike
// startCmd it does not poll /healthz: the address is only reachable from
// inside the namespace (see boxHealthz).
func startInNetns(t *testing.T, ns string, args ...string) *daemon {
	t.Helper()
	// ip netns exec execs the command: the process started is the daemon
	// itself, so signals reach it directly.
	d := launch(t, exec.Command("ip", append([]string{"netns", "exec", ns, binary}, args...)...))
	if want := "http://" + e2eBoxIP + "/"; d.url != want {
		t.Errorf("daemon printed %s, want %s", d.url, want)
	}
	return d
}

// inNetns runs f on an OS thread that has joined the network namespace ns,
// so that sockets f creates on that thread (net.Dial, not an http.Client,
// which dials on other goroutines) live in ns. The thread then returns to
// its own namespace; if it cannot, it stays locked and is never reused.
func inNetns(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(home)
		fd, err := unix.Open(filepath.Join("/run/netns", ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// boxHealthz asks the daemon's /healthz from inside the box's namespace.
func boxHealthz(ns string) error {
	return inNetns(ns, func() error {
		c, err := net.DialTimeout("tcp", e2eBoxIP+":80", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: tiers.box\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
			return fmt.Errorf("/healthz: %s %q", res.Status, body)
		}
		return nil
	})
}

// runPhone re-executes this test binary inside the phone's namespace to play
// the phone, streaming its output into the test log.
func runPhone(t *testing.T, n visitorNet) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.phone, os.Args[0],
		"-test.run=^TestE2ENetns$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), envPhone+"=1", envPhoneLink+"="+n.phoneLink)
	// One writer for both: os/exec then gives the child a single pipe, and
	// Run returns only once everything has been logged.
	out := &lineLogger{t: t, prefix: "phone| "}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	out.flush()
	t.Logf("phone side ran for %v", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("phone side failed: %v (its log is above)", err)
	}
	if !strings.Contains(out.all(), "--- PASS: TestE2ENetns (") {
		t.Fatal("phone side exited 0 without passing")
	}
}

// lineLogger writes a child's output into the test log, a line at a time,
// and keeps it all.
type lineLogger struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte // the unfinished line
	full   strings.Builder
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.full.Write(p)
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Logf("%s%s", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Logf("%s%s", l.prefix, l.buf)
		l.buf = nil
	}
}

func (l *lineLogger) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.full.String()
}

// phoneSide is the phone: everything here runs inside the phone's
// namespace, in the copy of TestE2ENetns that runPhone starts there.
func phoneSide(t *testing.T) {
	// Go's own resolver reads /etc/resolv.conf, which ip netns exec has
	// replaced with the phone's: every name is asked of the box.
	net.DefaultResolver.PreferGo = true
	p := newPhone()
	stages := []struct {
		name string
		run  func(*phone, *testing.T)
	}{
		{"dns-before", (*phone).dnsBefore},
		{"checks-captive", (*phone).checksCaptive},
		{"browser", (*phone).browse},
		{"checks-online", (*phone).checksOnline},
		{"new-address-same-device", (*phone).newAddress},
		{"bad-input", (*phone).badInput},
	}
	for _, s := range stages {
		start := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { s.run(p, t) })
		t.Logf("stage %s: %v", s.name, time.Since(start).Round(time.Millisecond))
		if !ok {
			// Each stage needs the one before: stop at the first failure.
			t.FailNow()
		}
	}
}

// phone is a visitor's device: HTTP clients that do not follow redirects,
// as connectivity checks do not.
type phone struct {
	client *http.Client
}

func newPhone() *phone {
	return &phone{client: phoneClient(nil)}
}

// phoneClient dials from local (nil: the default address) through the
// box's DNS, uses no proxy whatever the environment says, and never
// follows redirects.
func phoneClient(local net.Addr) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:       nil,
			DialContext: dialer.DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// do sends req and returns the response with its body read.
func (p *phone) do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	if c == nil {
		c = p.client
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return res, body
}

func (p *phone) get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.do(t, c, req)
}

// check is one connectivity check of one system: a URL and the reply the
// system wants from the real internet.
type check struct {
	system string
	url    string
	online func(http.ResponseWriter, *http.Request)
}

// allChecks lists every host × path of captive.Probes ("/" where a probe
// takes any path), and one Android maker's check on a host of its own.
func allChecks() []check {
	var cs []check
	for _, pr := range captive.Probes {
		paths := pr.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		for _, h := range pr.Hosts {
			for _, path := range paths {
				cs = append(cs, check{pr.System, "http://" + h + path, pr.Online})
			}
		}
	}
	// Xiaomi's check: any host asking /generate_204 is an Android check.
	cs = append(cs, check{"android (xiaomi)", "http://connect.rom.miui.com/generate_204", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}})
	return cs
}

func lookupCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dnsBefore: every name leads to the box, IPv6 to nothing, and Windows'
// DNS check does not yet get its "online" answer.
func (p *phone) dnsBefore(t *testing.T) {
	r := net.DefaultResolver
	random := fmt.Sprintf("n%x.nowhere.example", rand.Uint64())
	for _, name := range []string{"example.org", "captive.apple.com", "tiers.box", random, "dns.msftncsi.com"} {
		addrs, err := r.LookupHost(lookupCtx(t), name)
		t.Logf("resolve %s → %v %v", name, addrs, errOrEmpty(err))
		if err != nil || len(addrs) != 1 || addrs[0] != e2eBoxIP {
			t.Errorf("resolve %s: %v, %v; want only %s", name, addrs, err, e2eBoxIP)
		}
	}
	for _, name := range []string{"example.org", "dns.msftncsi.com"} {
		ips, err := r.LookupIP(lookupCtx(t), "ip6", name)
		t.Logf("resolve %s AAAA only → %v %v", name, ips, errOrEmpty(err))
		if len(ips) != 0 {
			t.Errorf("AAAA of %s: %v; want no address, so the phone uses IPv4 at once", name, ips)
		}
		var dnsErr *net.DNSError
		if err == nil || !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			t.Errorf("AAAA of %s: error %v; want a not-found answer, not a failure", name, err)
		}
	}
}

func errOrEmpty(err error) string {
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return ""
}

// checksCaptive: before entering, every check is sent to the welcome page,
// HTTPS is refused at once, and the Captive Portal API says "captive".
func (p *phone) checksCaptive(t *testing.T) {
	cs := allChecks()
	for _, c := range cs {
		res, _ := p.get(t, nil, c.url)
		loc := res.Header.Get("Location")
		t.Logf("%-16s %s → %d %s", c.system, c.url, res.StatusCode, loc)
		if res.StatusCode != http.StatusFound || loc != e2eWelcome {
			t.Errorf("%s before entering: %d Location %q; want 302 to %s", c.url, res.StatusCode, loc, e2eWelcome)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q; want no-store, so the phone asks again after entering", c.url, cc)
		}
	}
	t.Logf("%d connectivity checks sent to the welcome page", len(cs))

	// A phone trying HTTPS must fail at once and fall back, not wait for a
	// timeout: the box refuses port 443.
	for _, addr := range []string{e2eBoxIP + ":443", "captive.apple.com:443"} {
		start := time.Now()
		c, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial("tcp", addr)
		took := time.Since(start)
		if err == nil {
			c.Close()
			t.Errorf("connect %s: accepted; want refused", addr)
			continue
		}
		t.Logf("connect %s → %v after %v", addr, err, took.Round(time.Microsecond))
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("connect %s: %v; want connection refused or reset, not a timeout", addr, err)
		}
	}

	api := p.captiveAPI(t)
	if api.Captive != true || api.UserPortalURL != e2eWelcome {
		t.Errorf("captive API before entering: %+v; want captive at %s", api, e2eWelcome)
	}
}

// captiveState is the RFC 8908 document.
type captiveState struct {
	Captive          bool   `json:"captive"`
	UserPortalURL    string `json:"user-portal-url"`
	VenueInfoURL     string `json:"venue-info-url"`
	SecondsRemaining *int64 `json:"seconds-remaining"`
}

func (p *phone) captiveAPI(t *testing.T) captiveState {
	t.Helper()
	res, body := p.get(t, nil, e2ePortal+captive.APIPath)
	t.Logf("GET %s → %d %s %s", e2ePortal+captive.APIPath, res.StatusCode, res.Header.Get("Content-Type"), bytes.TrimSpace(body))
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/captive+json" {
		t.Fatalf("captive API: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var s captiveState
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("captive API: %v in %q", err, body)
	}
	return s
}

// browse is the visitor in Chromium: any address leads to the welcome page,
// a bad nickname is explained, "Camille" enters, and a foreign address then
// leads to the page about the box.
func (p *phone) browse(t *testing.T) {
	artifacts := os.Getenv(envArtifacts)
	if artifacts == "" {
		artifacts = t.TempDir()
	} else if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := chromiumOptions(chromedp.WindowSize(phoneWidth, phoneHeight))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	posts := new(formPosts)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(posts.listen))
	defer cancel()
	// The first action starts the browser; it must not run under a
	// timeout, which would stop the browser with it.
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight,
		chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(2))); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	step := func(t *testing.T) context.Context {
		sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
		t.Cleanup(scancel)
		return sctx
	}
	must := func(t *testing.T, what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	location := func(t *testing.T) string {
		t.Helper()
		loc, err := chromedp.Run(step(t), chromedp.Location())
		must(t, "location", err)
		return loc
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		s, err := chromedp.Run(step(t), chromedp.Text(chromedp.CSS(sel)))
		must(t, "text of "+sel, err)
		return s
	}
	screenshot := func(t *testing.T, name string) {
		t.Helper()
		// On a phone a page wider than the screen scrolls sideways.
		width, err := chromedp.Run(step(t), chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		must(t, "page width", err)
		if width > phoneWidth {
			t.Errorf("%s page is %d px wide on a %d px phone: it scrolls sideways", name, width, phoneWidth)
		}
		shot, err := chromedp.Run(step(t), chromedp.CaptureScreenshot())
		must(t, "screenshot", err)
		full, err := chromedp.Run(step(t), chromedp.FullScreenshot(100))
		must(t, "full-page screenshot", err)
		for file, png := range map[string][]byte{name + ".png": shot, name + "-full.png": full} {
			path := filepath.Join(artifacts, file)
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
		}
	}
	submit := chromedp.CSS(`form.enter button[type="submit"]`)
	nickname := chromedp.ID("nickname")

	// 1. The visitor types any address and lands on the welcome page.
	res, err := chromedp.Run(step(t), chromedp.NavigateResponse("http://example.org/anything"))
	must(t, "open http://example.org/anything", err)
	loc := location(t)
	t.Logf("browser: http://example.org/anything → %s (%d)", loc, res.Status)
	if loc != e2eWelcome || res.Status != http.StatusOK {
		t.Fatalf("http://example.org/anything led to %s (%d); want %s", loc, res.Status, e2eWelcome)
	}
	lang, err := chromedp.Run(step(t), chromedp.Evaluate[string](`document.documentElement.lang`))
	must(t, "page language", err)
	if lang != "fr" {
		t.Errorf("welcome page in %q; want fr for a French browser", lang)
	}
	if h1 := text(t, "h1"); h1 != e2eVenue {
		t.Errorf("welcome h1 %q; want the venue %q", h1, e2eVenue)
	}
	_, err = chromedp.Run(step(t), chromedp.WaitVisible(nickname))
	must(t, "the nickname field", err)
	if b := text(t, "form.enter button"); b != "Entrer" {
		t.Errorf("button %q; want Entrer", b)
	}
	screenshot(t, "welcome")

	// 2. "Entrer" with nothing typed: the browser itself asks for a
	// nickname (the field is required) and nothing is sent.
	must(t, "click Entrer with no nickname", chromedp.Do(step(t), chromedp.Click(submit)))
	missing, err := chromedp.Run(step(t), chromedp.Evaluate[bool](`document.getElementById("nickname").validity.valueMissing`))
	must(t, "field validity", err)
	if loc := location(t); !missing || loc != e2eWelcome {
		t.Errorf("empty nickname: valueMissing=%v, at %s; want the form held back on %s", missing, loc, e2eWelcome)
	}

	// 3. Markup as a nickname: the box refuses it and says why.
	must(t, "type <b>x</b>", chromedp.Do(step(t), chromedp.SendKeys(nickname, "<b>x</b>")))
	res, err = chromedp.RunResponse(step(t), chromedp.Click(submit))
	must(t, "submit <b>x</b>", err)
	loc = location(t)
	t.Logf("browser: nickname <b>x</b> → %s (%d); the browser sent %s", loc, res.Status, posts.last())
	if res.Status != http.StatusBadRequest {
		t.Fatalf("nickname <b>x</b>: %d at %s, want 400; the page says %q; the browser sent %s",
			res.Status, loc, text(t, "main"), posts.last())
	}
	_, err = chromedp.Run(step(t), chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	must(t, "the error message", err)
	alert := text(t, `[role="alert"]`)
	t.Logf("browser: alert %q", alert)
	if loc != e2ePortal+"/enter" || !strings.Contains(alert, "caractères non autorisés") {
		t.Errorf("nickname <b>x</b>: at %s, alert %q; want the welcome form on /enter explaining the characters", loc, alert)
	}
	if h1 := text(t, "h1"); h1 != e2eVenue {
		t.Errorf("after a refused nickname, h1 %q; want still the welcome page", h1)
	}
	typed, err := chromedp.Run(step(t), chromedp.Value(nickname))
	must(t, "nickname value", err)
	bold, err := chromedp.Run(step(t), chromedp.Evaluate[int](`document.querySelectorAll("main b").length`))
	must(t, "count <b>", err)
	if typed != "<b>x</b>" || bold != 0 {
		t.Errorf("the refused nickname came back as %q with %d <b> elements; want the text given back, not markup", typed, bold)
	}
	// The same device's checks are still captive.
	if r, _ := p.get(t, nil, "http://captive.apple.com/hotspot-detect.html"); r.StatusCode != http.StatusFound {
		t.Errorf("after a refused nickname, Apple's check got %d; want still 302", r.StatusCode)
	}
	if api := p.captiveAPI(t); !api.Captive {
		t.Errorf("after a refused nickname, the captive API says %+v; want captive", api)
	}

	// 4. "Camille" enters and lands on the home page.
	must(t, "type Camille", chromedp.Do(step(t), chromedp.Clear(nickname), chromedp.SendKeys(nickname, "Camille")))
	res, err = chromedp.RunResponse(step(t), chromedp.Click(submit))
	must(t, "submit Camille", err)
	loc = location(t)
	h1 := text(t, "h1")
	t.Logf("browser: nickname Camille → %s (%d), h1 %q; the browser sent %s", loc, res.Status, h1, posts.last())
	if loc != e2ePortal+"/" || res.Status != http.StatusOK || !strings.Contains(h1, "Bonjour Camille") {
		t.Fatalf("entering as Camille: %d at %s, h1 %q, want %s/ greeting Camille; the page says %q; the browser sent %s",
			res.Status, loc, h1, e2ePortal, text(t, "main"), posts.last())
	}
	screenshot(t, "home")

	// 5. A foreign address now leads to the page about the box.
	res, err = chromedp.Run(step(t), chromedp.NavigateResponse("http://example.org/other"))
	must(t, "open http://example.org/other", err)
	loc = location(t)
	body := text(t, "body")
	t.Logf("browser: http://example.org/other → %s (%d)", loc, res.Status)
	if want := e2ePortal + "/about?from=example.org"; loc != want || res.Status != http.StatusOK {
		t.Errorf("http://example.org/other after entering led to %s (%d); want %s", loc, res.Status, want)
	}
	for _, want := range []string{"Cette box fonctionne sans internet", "Vous avez demandé example.org"} {
		if !strings.Contains(body, want) {
			t.Errorf("the about page does not say %q:\n%s", want, body)
		}
	}
}

// formPosts remembers the headers that decide whether the box accepts a
// form (http.CrossOriginProtection reads Origin and Sec-Fetch-Site) of the
// browser's last POST to /enter, to explain a refusal.
type formPosts struct {
	mu      sync.Mutex
	headers string
}

// listen is a chromedp listener: it runs on chromedp's reader goroutine.
func (f *formPosts) listen(ev any) {
	e, ok := ev.(*network.EventRequestWillBeSent)
	if !ok || e.Request == nil || e.Request.Method != http.MethodPost || !strings.HasSuffix(e.Request.URL, "/enter") {
		return
	}
	var hs []string
	for _, name := range []string{"Origin", "Sec-Fetch-Site", "Referer", "Content-Type"} {
		v := "(none)"
		for k, kv := range e.Request.Headers {
			if strings.EqualFold(k, name) {
				v = fmt.Sprint(kv)
			}
		}
		hs = append(hs, name+": "+v)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.headers = "POST " + e.Request.URL + " with " + strings.Join(hs, ", ")
}

func (f *formPosts) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.headers == "" {
		return "no POST to /enter"
	}
	return f.headers
}

// checksOnline: after entering, every check gets exactly the reply of the
// real internet, Windows' DNS check its real address, and the Captive
// Portal API the session's remaining time.
func (p *phone) checksOnline(t *testing.T) {
	cs := allChecks()
	for _, c := range cs {
		rec := httptest.NewRecorder()
		c.online(rec, httptest.NewRequest(http.MethodGet, c.url, nil))
		want := rec.Result()
		wantBody := rec.Body.Bytes()

		res, body := p.get(t, nil, c.url)
		t.Logf("%-16s %s → %d %q", c.system, c.url, res.StatusCode, body)
		if res.StatusCode != want.StatusCode || !bytes.Equal(body, wantBody) {
			t.Errorf("%s after entering: %d %q; want %d %q", c.url, res.StatusCode, body, want.StatusCode, wantBody)
		}
		for _, h := range []string{"Content-Type", "X-NetworkManager-Status"} {
			if got, want := res.Header.Get(h), want.Header.Get(h); got != want {
				t.Errorf("%s after entering: %s %q; want %q", c.url, h, got, want)
			}
		}
		for h, vs := range want.Header {
			if got := res.Header.Values(h); strings.Join(got, ",") != strings.Join(vs, ",") {
				t.Errorf("%s after entering: %s %q; want %q", c.url, h, got, vs)
			}
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q; want no-store", c.url, cc)
		}
	}
	t.Logf("%d connectivity checks answered online", len(cs))

	for network, want := range map[string]string{"ip4": "131.107.255.255", "ip6": "fd3e:4f5a:5b81::1"} {
		ips, err := net.DefaultResolver.LookupIP(lookupCtx(t), network, "dns.msftncsi.com")
		t.Logf("resolve dns.msftncsi.com (%s) → %v %v", network, ips, errOrEmpty(err))
		if err != nil || len(ips) != 1 || ips[0].String() != want {
			t.Errorf("dns.msftncsi.com (%s) after entering: %v, %v; want %s", network, ips, err, want)
		}
	}
	// Other names still lead to the box.
	if addrs, err := net.DefaultResolver.LookupHost(lookupCtx(t), "example.org"); err != nil || len(addrs) != 1 || addrs[0] != e2eBoxIP {
		t.Errorf("example.org after entering: %v, %v; want %s", addrs, err, e2eBoxIP)
	}

	api := p.captiveAPI(t)
	if api.Captive || api.SecondsRemaining == nil || *api.SecondsRemaining <= 0 {
		t.Errorf("captive API after entering: %+v; want not captive, with seconds remaining", api)
	}
}

// newAddress: the same phone with another address (a new DHCP lease) is
// recognised by its MAC, which the box reads from its neighbour table.
func (p *phone) newAddress(t *testing.T) {
	link := os.Getenv(envPhoneLink)
	if link == "" {
		t.Fatalf("%s not set", envPhoneLink)
	}
	// This runs inside the phone's namespace: ip changes the phone only.
	if out, err := exec.Command("ip", "addr", "add", e2ePhoneIP2+"/24", "dev", link).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add %s: %v\n%s", e2ePhoneIP2, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "addr", "del", e2ePhoneIP2+"/24", "dev", link).Run() })
	c := phoneClient(&net.TCPAddr{IP: net.ParseIP(e2ePhoneIP2)})
	url := "http://captive.apple.com/hotspot-detect.html"
	res, body := p.get(t, c, url)
	t.Logf("from %s: %s → %d %q", e2ePhoneIP2, url, res.StatusCode, body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Success") {
		t.Errorf("from %s (same MAC): %s got %d %q; want Apple's Success page", e2ePhoneIP2, url, res.StatusCode, body)
	}
}

// badInput: oversized headers and bodies are refused with the right codes
// and leave the box answering.
func (p *phone) badInput(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, e2ePortal+"/", nil)
	filler := strings.Repeat("a", 1000)
	for i := range 64 { // 64 KB of headers
		req.Header.Set(fmt.Sprintf("X-Filler-%02d", i), filler)
	}
	res, _ := p.do(t, nil, req)
	t.Logf("GET / with 64 KB of headers → %d", res.StatusCode)
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KB of headers: %d; want 431", res.StatusCode)
	}

	form := "nickname=" + strings.Repeat("a", 100<<10)
	req, _ = http.NewRequest(http.MethodPost, e2ePortal+"/enter", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body := p.do(t, nil, req)
	t.Logf("POST /enter with a 100 KB body → %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KB form: %d; want 413\n%s", res.StatusCode, body)
	}

	res, body = p.get(t, nil, e2ePortal+"/healthz")
	t.Logf("GET /healthz → %d %q", res.StatusCode, body)
	if res.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("after bad input, /healthz: %d %q", res.StatusCode, body)
	}
}

// chromiumOptions are the flags every browser test starts Debian's
// Chromium with, plus extra.
func chromiumOptions(extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		// --headless and --no-first-run come with the defaults; so does
		// --disable-background-networking, which with the next flags
		// keeps Chromium from calling Google at start. chromedp adds
		// --user-data-dir with a fresh temporary folder, which it removes
		// after killing any process still using it.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		// A French visitor: the box picks the language from
		// Accept-Language.
		chromedp.Flag("lang", "fr-FR"),
		chromedp.Flag("accept-lang", "fr-FR,fr"),
	)
	return append(opts, extra...)
}
