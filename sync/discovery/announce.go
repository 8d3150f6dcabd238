package discovery

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

var errNoAddress = errors.New("no address to announce")

// announcer answers mDNS queries on one interface. Only the service's
// goroutine touches it (Run's before that goroutine starts).
type announcer struct {
	iface string // "" is the system's default multicast interface
	zone  zone

	server *mdns.Server
	// serverV4 is whether the interface had an IPv4 address when server
	// was started: Go joins the IPv4 group through the interface's IPv4
	// address, so a server started before DHCP answered hears only IPv6,
	// and is started again once there is an address.
	serverV4 bool

	announced []string // addresses last announced, to log changes
	problem   string   // last announcing problem logged, "" when none
	// browseProblem is the last browsing problem logged; the browse of
	// this interface is the only one to touch it.
	browseProblem string
}

// zone answers with the service record set last stored, so that the
// addresses can change (DHCP, a cable moved) without restarting the
// server. Nil answers nothing.
type zone struct {
	svc atomic.Pointer[mdns.MDNSService]
}

func (z *zone) Records(q dns.Question) []dns.RR {
	svc := z.svc.Load()
	if svc == nil {
		return nil
	}
	return svc.Records(q)
}

// name is the interface's name for logs.
func (a *announcer) name() string { return cmp.Or(a.iface, "default") }

// refresh announces the interface's current addresses, starting the
// server if it is not running yet. Problems are logged when they change.
func (a *announcer) refresh(s *Service) {
	ifi, ips, err := a.addresses()
	if err == nil && len(ips) == 0 {
		err = errNoAddress
	}
	if err != nil {
		// Answer nothing rather than addresses that may be gone.
		a.zone.svc.Store(nil)
		a.report(s, err)
		return
	}
	svc, err := mdns.NewMDNSService(s.instance, ServiceType, Domain, s.host, s.opts.Port, ips, s.txt)
	if err != nil {
		a.report(s, fmt.Errorf("service record: %w", err))
		return
	}
	a.zone.svc.Store(svc)

	hasV4 := slices.ContainsFunc(ips, func(ip net.IP) bool { return ip.To4() != nil })
	if a.server != nil && hasV4 && !a.serverV4 {
		a.stop()
	}
	if a.server == nil {
		server, err := mdns.NewServer(&mdns.Config{Zone: &a.zone, Iface: ifi, Logger: s.mdnsLog})
		if err != nil {
			a.report(s, fmt.Errorf("listening for mDNS queries: %w", err))
			return
		}
		a.server, a.serverV4 = server, hasV4
	}

	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = ip.String()
	}
	if !slices.Equal(addrs, a.announced) {
		s.log.Info("announcing this box on the network", "interface", a.name(), "addr", addrs)
		a.announced = addrs
	}
	a.report(s, nil)
}

// report logs a problem, or its end, once.
func (a *announcer) report(s *Service, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == a.problem {
		return
	}
	if err != nil {
		s.log.Warn("other boxes cannot find this one on the network", "interface", a.name(), "error", err)
		// So that the announcement is logged again once it works.
		a.announced = nil
	}
	a.problem = msg
}

// stop stops answering. The announcement is not withdrawn: peers forget
// the box after a few rounds without an answer.
func (a *announcer) stop() {
	if a.server != nil {
		a.server.Shutdown()
		a.server = nil
	}
}

// addresses returns the interface and the addresses to announce on it.
// For the default interface, the interface is nil and the addresses are
// those of every interface up that can multicast.
func (a *announcer) addresses() (*net.Interface, []net.IP, error) {
	if a.iface != "" {
		ifi, err := net.InterfaceByName(a.iface)
		if err != nil {
			return nil, nil, fmt.Errorf("interface %s: %w", a.iface, err)
		}
		if ifi.Flags&net.FlagUp == 0 {
			return nil, nil, fmt.Errorf("interface %s is down", a.iface)
		}
		ips, err := announcedIPs(ifi)
		return ifi, ips, err
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("listing interfaces: %w", err)
	}
	var all []net.IP
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		ips, err := announcedIPs(&ifi)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, ips...)
	}
	return nil, all, nil
}

// announcedIPs returns the addresses of ifi another box can dial: not
// loopback, and not IPv6 link-local, which the receiver could not tie to
// one of its own links.
func announcedIPs(ifi *net.Interface) ([]net.IP, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	var ips []net.IP
	for _, addr := range addrs {
		ipnet, ok := addr.(*net.IPNet)
		if !ok {
			continue
		}
		ip := ipnet.IP
		if !usableIP(ip) || (ip.To4() == nil && ip.IsLinkLocalUnicast()) {
			continue
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// usableIP reports whether a box could be reached at ip from another one:
// not loopback (that would be ourselves), unspecified, multicast or
// broadcast.
func usableIP(ip net.IP) bool {
	return ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() && !ip.IsMulticast() &&
		!ip.Equal(net.IPv4bcast)
}
