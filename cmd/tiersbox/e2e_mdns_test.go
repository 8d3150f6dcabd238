//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// TestE2EVenueMDNS is a box on a venue's own network: the venue's access
// points and DHCP serve the phones, the box answers no DNS, and a visitor
// types tiers.local, which the box answers over multicast DNS.
func TestE2EVenueMDNS(t *testing.T) {
	requireE2E(t)
	nets := newVisitorNet(t)
	nets.routeMulticast(t)
	conf := filepath.Join(t.TempDir(), "config.toml")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`
[portal]
mdns = true
[network]
mode = "venue"
interface = %q
address = ""
dhcp = false
`, nets.boxLink)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// No --address: the box finds its address on network.interface, as
	// it would when the venue's DHCP server gave it one.
	d := startInNetns(t, nets.box, "run", "--data", t.TempDir(), "--config", conf, "--http", ":80")
	if err := boxHealthz(nets.box); err != nil {
		t.Fatalf("daemon not answering: %v", err)
	}

	var got net.IP
	err = inNetns(nets.phone, func() error {
		var err error
		got, err = resolveMDNS("tiers.local")
		return err
	})
	if err != nil {
		t.Fatalf("resolving tiers.local over mDNS from the phone: %v\n%s", err, d.stderr)
	}
	if got.String() != e2eBoxIP {
		t.Fatalf("tiers.local is %v, want %s", got, e2eBoxIP)
	}

	// The browser then asks http://tiers.local/: the box serves it as its
	// own name, not as a foreign site.
	var res *http.Response
	err = inNetns(nets.phone, func() error {
		c, err := net.DialTimeout("tcp", got.String()+":80", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET /welcome HTTP/1.1\r\nHost: tiers.local\r\nAccept-Language: fr\r\nConnection: close\r\n\r\n")
		res, err = http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			res.Body.Close()
		}
		return err
	})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET http://tiers.local/welcome: %v %v", res, err)
	}
	d.stop(t, syscall.SIGTERM)
}

// resolveMDNS asks the link's multicast group for name's A record, asking
// for a unicast reply (RFC 6762 §5.4) as a one-shot resolver does.
func resolveMDNS(name string) (net.IP, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	q := dnsmessage.Question{
		Name:  dnsmessage.MustNewName(name + "."),
		Type:  dnsmessage.TypeA,
		Class: dnsmessage.ClassINET | 1<<15,
	}
	msg, err := (&dnsmessage.Message{Questions: []dnsmessage.Question{q}}).Pack()
	if err != nil {
		return nil, err
	}
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}
	buf := make([]byte, 1500)
	// A few tries: the responder may still be joining the group.
	for try := 0; try < 10; try++ {
		if _, err := conn.WriteToUDP(msg, group); err != nil {
			return nil, err
		}
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			continue
		}
		var p dnsmessage.Parser
		if _, err := p.Start(buf[:n]); err != nil {
			return nil, err
		}
		p.SkipAllQuestions()
		for {
			h, err := p.AnswerHeader()
			if err != nil {
				break
			}
			if h.Type == dnsmessage.TypeA {
				a, err := p.AResource()
				if err != nil {
					return nil, err
				}
				return net.IP(a.A[:]), nil
			}
			p.SkipAnswer()
		}
	}
	return nil, fmt.Errorf("no answer for %s", name)
}
