//go:build linux

package firmware

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFirewallInNamespaces loads the rendered nftables table into a network
// namespace standing for the box, with a veth pair to a "phone" on the
// visitors' interface and another to a "staff" laptop on a second interface,
// then checks what a phone meets: DNS and HTTP to any address reach the
// daemon's ports, HTTPS is reset at once, traffic to the outside is refused
// rather than dropped, DHCP broadcasts get through, and the staff interface
// is left alone. Every packet stays inside the namespaces the test creates.
// It needs root, ip (iproute2) and nft (nftables).
func TestFirewallInNamespaces(t *testing.T) {
	n := newBoxNetwork(t)
	box, phone, staff := n.box, n.phone, n.staff

	// The daemon on unusual ports, so that a redirect shows.
	p := n.params()
	p.HTTPPort, p.DNSPort = 8080, 5353
	n.load(t, renderCase(t, p))

	// The box's listeners; each answers with its name.
	var serveErr error
	inNetns(t, box, func() {
		serveErr = errors.Join(
			serveTCP(t, ":8080", "portal"), serveTCP(t, ":80", "plain-80"),
			serveTCP(t, ":443", "https"), serveTCP(t, ":5353", "dns-tcp"),
			serveUDP(t, ":5353", "dns"), serveUDP(t, ":67", "dhcp"))
	})
	if serveErr != nil {
		t.Fatal(serveErr)
	}

	const timeout = 5 * time.Second // long enough to tell a refusal from a drop
	tests := []struct {
		name, ns, network, from, to string
		want                        string // the answer, or an error
		wantErr                     error
	}{
		{"HTTP to any address reaches the portal", phone, "tcp", "", "1.2.3.4:80", "portal", nil},
		{"HTTP to the box reaches the portal", phone, "tcp", "", "10.77.1.1:80", "portal", nil},
		{"DNS over UDP to any address reaches the daemon", phone, "udp", "", "8.8.8.8:53", "dns", nil},
		{"DNS over TCP to any address reaches the daemon", phone, "tcp", "", "9.9.9.9:53", "dns-tcp", nil},
		{"HTTPS elsewhere is reset", phone, "tcp", "", "1.2.3.4:443", "", syscall.ECONNREFUSED},
		{"HTTPS to the box is reset though it listens", phone, "tcp", "", "10.77.1.1:443", "", syscall.ECONNREFUSED},
		{"other TCP to the outside is reset", phone, "tcp", "", "1.2.3.4:22", "", syscall.ECONNREFUSED},
		{"other UDP to the outside is refused", phone, "udp", "", "1.2.3.4:123", "", syscall.EHOSTUNREACH},
		{"DHCP broadcasts reach the box", phone, "udp", "0.0.0.0:68", "255.255.255.255:67", "dhcp", nil},
		{"staff HTTP is not redirected", staff, "tcp", "", "10.77.2.1:80", "plain-80", nil},
		{"staff HTTPS is not reset", staff, "tcp", "", "10.77.2.1:443", "https", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var err error
			inNetns(t, tt.ns, func() {
				got, err = exchange(tt.network, tt.from, tt.to, timeout)
			})
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("got %q, error %v; want error %v", got, err, tt.wantErr)
			case tt.wantErr == nil && (err != nil || got != tt.want):
				t.Errorf("got %q, error %v; want %q", got, err, tt.want)
			}
		})
	}
}

// boxNetwork is three network namespaces: the box, a phone on the
// visitors' interface (10.77.1.0/24) and a staff laptop on another
// (10.77.2.0/24), joined by veth pairs. Nothing leaves them.
type boxNetwork struct {
	ip, nft            string
	box, phone, staff  string // namespace names
	visitorIf, staffIf string // the box's interfaces
}

// newBoxNetwork creates a boxNetwork, removed when the test ends. It needs
// root, ip (iproute2) and nft (nftables).
func newBoxNetwork(t *testing.T) boxNetwork {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "creating network namespaces needs root"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	n := boxNetwork{ip: needTool(t, "ip", "iproute2"), nft: needTool(t, "nft", "nftables")}
	var b [3]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n.box, n.phone, n.staff = "tbfw-box-"+id, "tbfw-phone-"+id, "tbfw-staff-"+id
	n.visitorIf, n.staffIf = "tbv"+id, "tbs"+id
	for _, ns := range []string{n.box, n.phone, n.staff} {
		n.run(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command(n.ip, "netns", "del", ns).Run() })
		n.run(t, "-n", ns, "link", "set", "lo", "up")
	}
	for _, l := range []struct{ boxIf, peerIf, peerNS, boxAddr, peerAddr string }{
		{n.visitorIf, "tbp" + id, n.phone, "10.77.1.1/24", "10.77.1.2/24"},
		{n.staffIf, "tbt" + id, n.staff, "10.77.2.1/24", "10.77.2.2/24"},
	} {
		n.run(t, "link", "add", l.boxIf, "netns", n.box, "type", "veth", "peer", "name", l.peerIf, "netns", l.peerNS)
		n.run(t, "-n", n.box, "addr", "add", l.boxAddr, "dev", l.boxIf)
		n.run(t, "-n", l.peerNS, "addr", "add", l.peerAddr, "dev", l.peerIf)
		n.run(t, "-n", n.box, "link", "set", l.boxIf, "up")
		n.run(t, "-n", l.peerNS, "link", "set", l.peerIf, "up")
		n.run(t, "-n", l.peerNS, "route", "add", "default", "via", strings.TrimSuffix(l.boxAddr, "/24"))
	}
	return n
}

func (n boxNetwork) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// params are own-wifi settings for the box's visitors' interface.
func (n boxNetwork) params() Params {
	p := ownWiFiParams()
	p.Interface = n.visitorIf
	p.Address = netip.MustParsePrefix("10.77.1.1/24")
	p.DHCPStart, p.DHCPEnd = netip.MustParseAddr("10.77.1.10"), netip.MustParseAddr("10.77.1.250")
	return p
}

// load loads the rendered nftables table in the box, as
// tiersbox-firewall.service would.
func (n boxNetwork) load(t *testing.T, files map[string]File) {
	t.Helper()
	rules := filepath.Join(t.TempDir(), "tiersbox.nft")
	if err := os.WriteFile(rules, files[pathNftables].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(n.ip, "netns", "exec", n.box, n.nft, "-f", rules).CombinedOutput(); err != nil {
		t.Fatalf("loading the rules: %v\n%s", err, out)
	}
}

// inNetns runs fn on an OS thread that has joined the named network
// namespace; sockets fn creates belong to it. The thread is thrown away
// afterwards (the goroutine exits still locked to it).
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", name))
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("joining network namespace %s: %v", name, err)
	}
}

func serveTCP(t *testing.T, addr, answer string) error {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, answer)
			c.Close()
		}
	}()
	return nil
}

func serveUDP(t *testing.T, addr, answer string) error {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return err
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo([]byte(answer), from)
		}
	}()
	return nil
}

// exchange connects to addr (sending a datagram over UDP), reads the answer
// and returns it.
func exchange(network, from, to string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	if network == "udp" && from != "" {
		// A broadcast: answers come from the box's own address.
		c, err := net.ListenPacket("udp4", from)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(deadline)
		dst, err := net.ResolveUDPAddr("udp4", to)
		if err != nil {
			return "", err
		}
		if _, err := c.WriteTo([]byte("discover"), dst); err != nil {
			return "", err
		}
		buf := make([]byte, 512)
		n, _, err := c.ReadFrom(buf)
		return string(buf[:n]), err
	}
	c, err := (&net.Dialer{Deadline: deadline}).Dial(network+"4", to)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	if network == "udp" {
		if _, err := c.Write([]byte("query")); err != nil {
			return "", err
		}
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return string(buf[:n]), err
}
