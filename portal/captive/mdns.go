package captive

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/hashicorp/mdns"
	"github.com/miekg/dns"
)

// MDNSOptions configure an MDNS responder.
type MDNSOptions struct {
	// Name is the box's multicast DNS name, such as "tiers.local".
	Name string
	// Addr is the IPv4 address the name resolves to.
	Addr netip.Addr
	// Interface is the network interface to answer on; empty means the
	// system's default multicast interface.
	Interface string
	Logger    *slog.Logger
}

// MDNS answers multicast DNS queries for the box's .local name. On a
// venue's own network the box does not hand out DNS, so this is how a
// visitor's browser finds it when they type tiers.local. Boxes discovering
// each other use their own service records (sync/discovery), not this.
type MDNS struct {
	server *mdns.Server
}

// mdnsTTL is the usual lifetime of an mDNS host record (RFC 6762 §10).
const mdnsTTL = 120

// StartMDNS joins the mDNS multicast groups and answers until Close.
func StartMDNS(opts MDNSOptions) (*MDNS, error) {
	name := strings.ToLower(strings.TrimSuffix(opts.Name, "."))
	if !strings.HasSuffix(name, ".local") || strings.Count(name, ".") != 1 {
		return nil, fmt.Errorf("mdns: name %q must be one label followed by .local", opts.Name)
	}
	if !opts.Addr.Is4() {
		return nil, fmt.Errorf("mdns: address %v must be IPv4", opts.Addr)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := &mdns.Config{
		Zone:   hostZone{name: name + ".", addr: opts.Addr},
		Logger: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	if opts.Interface != "" {
		iface, err := net.InterfaceByName(opts.Interface)
		if err != nil {
			return nil, fmt.Errorf("mdns: interface %s: %w", opts.Interface, err)
		}
		cfg.Iface = iface
	}
	server, err := mdns.NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	return &MDNS{server: server}, nil
}

// Close leaves the multicast groups.
func (m *MDNS) Close() error { return m.server.Shutdown() }

// hostZone answers A queries for one name.
type hostZone struct {
	name string // fully qualified, lower case
	addr netip.Addr
}

func (z hostZone) Records(q dns.Question) []dns.RR {
	if !strings.EqualFold(q.Name, z.name) || q.Qclass&0x7fff != dns.ClassINET {
		return nil
	}
	if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
		return nil
	}
	return []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: z.name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: mdnsTTL},
		A:   net.IP(z.addr.AsSlice()),
	}}
}
