//go:build linux

package discovery

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// envNode carries a node's configuration, as JSON, to TestHelperNode run
// in a namespace. Set only by TestTwoBoxesFindEachOther.
const envNode = "TIERSBOX_DISCOVERY_NODE"

// The veth link between the two boxes: documentation prefixes (RFC 5737,
// RFC 3849), which exist nowhere else, inside namespaces of our own.
const (
	linkPrefix4 = "192.0.2."
	linkPrefix6 = "2001:db8:7b::"
)

// nodeConf is what one box of the test announces and expects to find.
type nodeConf struct {
	Iface             string // "" lets the system choose
	ID, Name, Version string
	Port              int
	Peer              string // the other box's device ID
}

// nodeReport is what TestHelperNode prints once it has found its peer.
type nodeReport struct {
	Peer      Peer
	Peers     int  // how many peers Peers() returned
	SawItself bool // whether our own device ID ever reached the table
}

// TestTwoBoxesFindEachOther runs two services in two network namespaces
// joined by a veth pair, each announcing and browsing on its end, and
// checks that each finds the other with the device ID, name, version and
// addresses the other announced.
//
// Each box is the test binary itself, run again by `ip netns exec` with
// -test.run=TestHelperNode: a process, unlike a goroutine, stays in its
// namespace whatever thread the Go runtime puts it on.
func TestTwoBoxesFindEachOther(t *testing.T) {
	requireNetns(t)
	start := time.Now()
	l := newVethLink(t)

	ids := []protocol.DeviceID{randomID(t), randomID(t)}
	confs := []nodeConf{
		// Names that need escaping on the wire and bytes outside ASCII.
		{Iface: l.links[0], ID: ids[0].String(), Name: `Médiathèque « Les Tilleuls »`, Version: "v0.9.0-test", Port: 22001, Peer: ids[1].String()},
		// The second box leaves the interface to the system, as a box
		// configured without network.interfaces does.
		{ID: ids[1].String(), Name: `Fablab \ du "Port"`, Version: "v1.0.0", Port: 22002, Peer: ids[0].String()},
	}
	nodes := make([]*node, 2)
	for i, c := range confs {
		nodes[i] = startNode(t, l.ns[i], c)
	}
	for i, n := range nodes {
		other := confs[1-i]
		var r nodeReport
		select {
		case line := <-n.found:
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("box %d: %v in %q", i, err, line)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("box %d did not find box %d within 20 s\nstdout:\n%s\nstderr:\n%s", i, 1-i, n.stdout, n.stderr)
		}
		p := r.Peer
		if p.DeviceID.String() != other.ID || p.Name != other.Name || p.Version != other.Version {
			t.Errorf("box %d found %+v, want %s %q %q", i, p, other.ID, other.Name, other.Version)
		}
		want := []string{fmt.Sprintf("tcp://%s%d:%d", linkPrefix4, 2-i, other.Port)}
		if l.ipv6 {
			want = append(want, fmt.Sprintf("tcp://[%s%d]:%d", linkPrefix6, 2-i, other.Port))
		}
		for _, w := range want {
			if !slices.Contains(p.Addresses, w) {
				t.Errorf("box %d: addresses %q lack %s", i, p.Addresses, w)
			}
		}
		if r.Peers != 1 || r.SawItself {
			t.Errorf("box %d: %d peers, saw itself: %v", i, r.Peers, r.SawItself)
		}
	}
	t.Logf("both boxes found each other %v after the namespaces were made", time.Since(start).Round(time.Millisecond))

	// The second box stops: the first forgets it after a few rounds
	// without an answer.
	stopped := time.Now()
	nodes[1].stdin.Close()
	if err := nodes[1].wait(); err != nil {
		t.Errorf("box 1: %v\nstdout:\n%s\nstderr:\n%s", err, nodes[1].stdout, nodes[1].stderr)
	}
	select {
	case <-nodes[0].gone:
		t.Logf("box 0 forgot box 1 %v after it stopped", time.Since(stopped).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Errorf("box 0 still lists box 1 10 s after it stopped\nstderr:\n%s", nodes[0].stderr)
	}
	nodes[0].stdin.Close()
	if err := nodes[0].wait(); err != nil {
		t.Errorf("box 0: %v\nstdout:\n%s\nstderr:\n%s", err, nodes[0].stdout, nodes[0].stderr)
	}

	for i, n := range nodes {
		for _, line := range strings.Split(n.stderr.String(), "\n") {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				t.Errorf("box %d logged: %s", i, line)
			}
		}
	}
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

// TestHelperNode is one box of TestTwoBoxesFindEachOther. It announces
// and browses until it has found its peer, prints "found" and a
// nodeReport, and goes on announcing, so that the other box can find it
// too, until its standard input closes. If the peer leaves its table
// meanwhile, it prints "gone".
func TestHelperNode(t *testing.T) {
	raw := os.Getenv(envNode)
	if raw == "" {
		t.Skip("one box of TestTwoBoxesFindEachOther, run by it in a network namespace")
	}
	var c nodeConf
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	id, err := protocol.DeviceIDFromString(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	peerID, err := protocol.DeviceIDFromString(c.Peer)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	onPeer := make(chan Peer, 64)
	var ifaces []string
	if c.Iface != "" {
		ifaces = []string{c.Iface}
	}
	s, err := Run(ctx, Options{
		DeviceID: id, Name: c.Name, Version: c.Version, Port: c.Port,
		Interfaces: ifaces,
		Interval:   200 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnPeer: func(p Peer) {
			select {
			case onPeer <- p:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var r nodeReport
	for r.Peer.DeviceID != peerID {
		select {
		case p := <-onPeer:
			if p.DeviceID == id {
				r.SawItself = true
			}
			if p.DeviceID == peerID {
				r.Peer = p
			}
		case <-ctx.Done():
			t.Fatalf("peer %s not found: %v", peerID.Short(), s.Peers())
		}
	}
	peers := s.Peers()
	r.Peers = len(peers)
	r.SawItself = r.SawItself || slices.ContainsFunc(peers, func(p Peer) bool { return p.DeviceID == id })
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("found %s\n", out)

	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for gone := false; ; {
		select {
		case <-done:
		case <-tick.C:
			if !gone && !slices.ContainsFunc(s.Peers(), func(p Peer) bool { return p.DeviceID == peerID }) {
				fmt.Println("gone")
				gone = true
			}
			continue
		case <-ctx.Done():
			t.Fatal("not told to stop")
		}
		break
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// requireNetns skips the test when the machine cannot make network
// namespaces, or fails it when TIERSBOX_E2E=1 (scripts/test sets it):
// there a skip would hide that nothing ran.
func requireNetns(t *testing.T) {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("TIERSBOX_E2E") == "1" {
		missing = t.Fatalf
	}
	if os.Geteuid() != 0 {
		missing("creating network namespaces needs root: sudo env PATH=$PATH TIERSBOX_E2E=1 go test ./sync/discovery/")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing("creating network namespaces needs ip: apt-get install -y iproute2")
	}
}

// vethLink is two network namespaces joined by a veth pair, with an IPv4
// address (and an IPv6 one when the kernel allows) at each end.
type vethLink struct {
	ns, links [2]string
	ipv6      bool
}

// newVethLink makes the namespaces, with names unique to this process,
// and removes them when the test ends, whatever happened.
func newVethLink(t *testing.T) vethLink {
	t.Helper()
	pid := strconv.Itoa(os.Getpid())
	// Interface names have at most 15 characters.
	l := vethLink{ns: [2]string{"tbdisc0-" + pid, "tbdisc1-" + pid}, links: [2]string{"tbd0" + pid, "tbd1" + pid}}
	// Registered before anything is made, so that a half-made link is
	// removed too.
	t.Cleanup(func() { l.remove(t) })

	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	if err := ip("netns", "add", l.ns[0]); err != nil {
		if os.Getenv("TIERSBOX_E2E") != "1" {
			t.Skipf("cannot make a network namespace here: %v", err)
		}
		t.Fatal(err)
	}
	steps := [][]string{
		{"netns", "add", l.ns[1]},
		// Both ends are made inside their namespaces: nothing appears in
		// the machine's own network, even for a moment.
		{"link", "add", l.links[0], "netns", l.ns[0], "type", "veth", "peer", "name", l.links[1], "netns", l.ns[1]},
	}
	for i := range 2 {
		ns, link := l.ns[i], l.links[i]
		steps = append(steps,
			[]string{"-n", ns, "addr", "add", linkPrefix4 + strconv.Itoa(i+1) + "/24", "dev", link},
			[]string{"-n", ns, "link", "set", "lo", "up"},
			[]string{"-n", ns, "link", "set", link, "up"},
			// Without a route for multicast (there is no default route
			// here), joining 224.0.0.251 fails with "no such device".
			[]string{"-n", ns, "route", "add", "224.0.0.0/4", "dev", link},
		)
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	// IPv6 is checked too where the kernel has it. nodad: the address is
	// usable at once instead of after duplicate address detection.
	l.ipv6 = true
	for i := range 2 {
		err := ip("-n", l.ns[i], "addr", "add", linkPrefix6+strconv.Itoa(i+1)+"/64", "dev", l.links[i], "nodad")
		if err != nil {
			t.Logf("IPv6 not checked: %v", err)
			l.ipv6 = false
			break
		}
	}
	return l
}

// remove ends whatever still runs in the namespaces, then deletes them
// (which deletes the veth pair).
func (l vethLink) remove(t *testing.T) {
	for _, ns := range l.ns {
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				t.Logf("cleanup: killing process %d left in %s", pid, ns)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("cleanup: ip netns del %s: %v\n%s", ns, err, out)
		}
	}
}

// node is a TestHelperNode process.
type node struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *syncBuffer
	found          chan string   // the nodeReport line
	gone           chan struct{} // closed when the node says "gone"
	exited         chan error
}

func startNode(t *testing.T, ns string, c nodeConf) *node {
	t.Helper()
	conf, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{stdout: new(syncBuffer), stderr: new(syncBuffer), found: make(chan string, 1), gone: make(chan struct{}), exited: make(chan error, 1)}
	// ip netns exec execs the test binary: the process started is the
	// box itself.
	n.cmd = exec.Command("ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestHelperNode$", "-test.count=1", "-test.timeout=30s")
	n.cmd.Env = append(os.Environ(), envNode+"="+string(conf))
	n.cmd.Stderr = n.stderr
	if n.stdin, err = n.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A node the test did not stop (it failed first) is killed.
		n.cmd.Process.Kill()
		<-n.exited
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(n.stdout, line)
			if r, ok := strings.CutPrefix(line, "found "); ok {
				n.found <- r
			}
			if line == "gone" {
				close(n.gone)
			}
		}
		n.exited <- n.cmd.Wait()
		close(n.exited)
	}()
	return n
}

// wait waits for the node to exit once its standard input, its signal to
// stop, is closed.
func (n *node) wait() error {
	select {
	case err := <-n.exited:
		if err != nil {
			return fmt.Errorf("exited: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		return fmt.Errorf("did not stop within 10 s")
	}
}
