//go:build linux

package firmware

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDHCPInNamespaces runs the real dnsmasq on the rendered configuration
// in the box's namespace, behind the rendered firewall, and asks it for an
// address from the phone's: the offer must come from the range, name the
// box as router and DNS server, and carry option 114 only when asked. This
// also shows that dnsmasq starts with port=0 and bind-interfaces.
func TestDHCPInNamespaces(t *testing.T) {
	n := newBoxNetwork(t)
	dnsmasq := needTool(t, "dnsmasq", "dnsmasq-base")

	for _, option114 := range []bool{false, true} {
		name := "without option 114"
		if option114 {
			name = "with option 114"
		}
		t.Run(name, func(t *testing.T) {
			p := n.params()
			if option114 {
				p.Option114, p.PortalAPIURL = true, "http://10.77.1.1/api/captive"
			}
			files := renderCase(t, p)
			n.load(t, files)
			dir := t.TempDir()
			conf := filepath.Join(dir, "tiersbox.conf")
			if err := os.WriteFile(conf, files[pathDnsmasq].Data, 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			cmd := exec.Command(n.ip, "netns", "exec", n.box, dnsmasq, "--keep-in-foreground",
				"--conf-file="+conf, "--dhcp-leasefile="+filepath.Join(dir, "leases"),
				"--pid-file="+filepath.Join(dir, "pid"), "--user=root", "--log-facility=-")
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})

			var offer dhcpReply
			var err error
			inNetns(t, n.phone, func() {
				offer, err = discover(15 * time.Second)
			})
			if err != nil {
				t.Fatalf("no DHCP offer: %v\ndnsmasq said:\n%s", err, log.String())
			}
			if !offer.yiaddr.IsValid() || offer.yiaddr.Less(p.DHCPStart) || p.DHCPEnd.Less(offer.yiaddr) {
				t.Errorf("offered %v, outside %v-%v", offer.yiaddr, p.DHCPStart, p.DHCPEnd)
			}
			box := netip.MustParseAddr("10.77.1.1")
			if got := offer.options[3]; !bytes.Equal(got, box.AsSlice()) {
				t.Errorf("router (option 3) %v, want %v", got, box)
			}
			if got := offer.options[6]; !bytes.Equal(got, box.AsSlice()) {
				t.Errorf("DNS server (option 6) %v, want %v", got, box)
			}
			if got := offer.options[51]; len(got) != 4 || binary.BigEndian.Uint32(got) != uint32(p.Lease/time.Second) {
				t.Errorf("lease time (option 51) %v, want %v", got, p.Lease)
			}
			got, ok := offer.options[114]
			switch {
			case option114 && string(got) != p.PortalAPIURL:
				t.Errorf("option 114 %q, want %q", got, p.PortalAPIURL)
			case !option114 && ok:
				t.Errorf("option 114 %q sent though off", got)
			}
		})
	}
}

type dhcpReply struct {
	yiaddr  netip.Addr
	options map[byte][]byte
}

// discover broadcasts DHCPDISCOVERs from port 68, as a phone joining the
// network does, until an offer comes back or the timeout passes.
func discover(timeout time.Duration) (dhcpReply, error) {
	c, err := net.ListenPacket("udp4", "0.0.0.0:68")
	if err != nil {
		return dhcpReply{}, err
	}
	defer c.Close()
	var xid [4]byte
	rand.Read(xid[:])
	mac := []byte{0x02, 0x74, 0x62, 0x00, 0x00, 0x01}

	// BOOTP header (RFC 2131), then the options.
	msg := make([]byte, 240, 300)
	msg[0], msg[1], msg[2] = 1, 1, 6 // BOOTREQUEST, Ethernet, 6-byte address
	copy(msg[4:8], xid[:])
	msg[10] = 0x80 // broadcast the answer: the phone has no address yet
	copy(msg[28:], mac)
	copy(msg[236:240], []byte{99, 130, 83, 99})
	msg = append(msg, 53, 1, 1) // DHCPDISCOVER
	msg = append(msg, 55, 5, 1, 3, 6, 51, 114)
	msg = append(msg, 255)
	for len(msg) < 300 {
		msg = append(msg, 0)
	}

	deadline := time.Now().Add(timeout)
	dst := &net.UDPAddr{IP: net.IPv4bcast, Port: 67}
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		// dnsmasq may still be starting: ask again every half second.
		if _, err := c.WriteTo(msg, dst); err != nil {
			return dhcpReply{}, err
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return dhcpReply{}, err
			}
			if r, ok := parseOffer(buf[:n], xid[:]); ok {
				return r, nil
			}
		}
	}
	return dhcpReply{}, errors.New("timed out")
}

func parseOffer(b, xid []byte) (dhcpReply, bool) {
	if len(b) < 240 || b[0] != 2 || !bytes.Equal(b[4:8], xid) || !bytes.Equal(b[236:240], []byte{99, 130, 83, 99}) {
		return dhcpReply{}, false
	}
	r := dhcpReply{yiaddr: netip.AddrFrom4([4]byte(b[16:20])), options: map[byte][]byte{}}
	for opts := b[240:]; len(opts) > 0; {
		code := opts[0]
		if code == 255 {
			break
		}
		if code == 0 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return dhcpReply{}, false
		}
		r.options[code] = opts[2 : 2+int(opts[1])]
		opts = opts[2+int(opts[1]):]
	}
	if t := r.options[53]; len(t) != 1 || t[0] != 2 { // DHCPOFFER
		return dhcpReply{}, false
	}
	return r, true
}
