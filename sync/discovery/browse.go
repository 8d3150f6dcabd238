package discovery

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/mdns"
)

// browse asks every interface at once for the boxes on it.
func (s *Service) browse(ctx context.Context) []sighting {
	results := make([][]sighting, len(s.announcers))
	var wg sync.WaitGroup
	for i, a := range s.announcers {
		wg.Go(func() { results[i] = s.browseOn(ctx, a) })
	}
	wg.Wait()
	return slices.Concat(results...)
}

// browseOn asks one interface. It touches only a.browseProblem of the
// announcer, which nothing else touches during a browse.
func (s *Service) browseOn(ctx context.Context, a *announcer) []sighting {
	var ifi *net.Interface
	if a.iface != "" {
		var err error
		if ifi, err = net.InterfaceByName(a.iface); err != nil {
			return nil // refresh has said so
		}
	}
	entries, err := query(ctx, ifi, false, s.mdnsLog)
	if err != nil && ctx.Err() == nil {
		// The library sends to the IPv4 group, then the IPv6 one, and
		// gives up the whole query if the second send fails, as it does
		// on a link without IPv6: ask again over IPv4 alone.
		entries, err = query(ctx, ifi, true, s.mdnsLog)
	}
	if ctx.Err() != nil {
		return nil
	}
	a.reportBrowse(s, err)
	if err != nil {
		return nil
	}
	var out []sighting
	for _, e := range entries {
		sg, err := sightingOf(e)
		if err != nil {
			s.log.Debug("ignoring an mDNS announcement", "interface", a.name(), "error", err)
			continue
		}
		out = append(out, sg)
	}
	return out
}

// reportBrowse logs a browsing problem, or its end, once.
func (a *announcer) reportBrowse(s *Service, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg == a.browseProblem {
		return
	}
	if err != nil {
		s.log.Warn("cannot look for other boxes on the network", "interface", a.name(), "error", err)
	} else if a.browseProblem != "" {
		s.log.Info("looking for other boxes on the network again", "interface", a.name())
	}
	a.browseProblem = msg
}

// query runs one mDNS browse for ServiceType on ifi (nil: the default
// interface) and returns the complete answers.
func query(ctx context.Context, ifi *net.Interface, v4only bool, logger *log.Logger) ([]*mdns.ServiceEntry, error) {
	ch := make(chan *mdns.ServiceEntry, maxEntriesPerQuery)
	err := mdns.QueryContext(ctx, &mdns.QueryParam{
		Service:     ServiceType,
		Domain:      Domain,
		Timeout:     queryTimeout,
		Interface:   ifi,
		Entries:     ch,
		DisableIPv6: v4only,
		Logger:      logger,
	})
	// Entries are read only now that the query is over: the library
	// keeps writing to an entry it has sent when more answers for the
	// same name come in, and it drops entries when the channel is full
	// rather than wait, so the buffer bounds what one query takes in.
	close(ch)
	var entries []*mdns.ServiceEntry
	for e := range ch {
		entries = append(entries, e)
	}
	if err != nil {
		return entries, fmt.Errorf("mDNS query: %w", err)
	}
	return entries, nil
}

var errNoUsableAddress = errors.New("discovery: no usable address")

// sightingOf checks one answer. The TXT record decides whether it is a
// box at all; the addresses are kept only if another box could dial them.
func sightingOf(e *mdns.ServiceEntry) (sighting, error) {
	// The library also passes on answers about other services that
	// happen to arrive during the query.
	if !strings.HasSuffix(strings.ToLower(e.Name), "."+ServiceType+"."+Domain) {
		return sighting{}, fmt.Errorf("discovery: %q is not a %s instance", e.Name, ServiceType)
	}
	info, err := parseTXT(e.InfoFields)
	if err != nil {
		return sighting{}, err
	}
	if e.Port < 1 || e.Port > 65535 {
		return sighting{}, fmt.Errorf("discovery: port %d", e.Port)
	}
	port := strconv.Itoa(e.Port)
	var addrs []string
	if ip := e.AddrV4.To4(); ip != nil && usableIP(ip) {
		addrs = append(addrs, tcpAddr(ip.String(), port))
	}
	if a := e.AddrV6IPAddr; a != nil && a.IP.To4() == nil && a.IP.To16() != nil && usableIP(a.IP) {
		host := a.IP.String()
		switch {
		case !a.IP.IsLinkLocalUnicast():
		case a.Zone != "":
			// The library took the zone from the interface the answer
			// came in on.
			host += "%" + a.Zone
		default:
			host = ""
		}
		if host != "" {
			addrs = append(addrs, tcpAddr(host, port))
		}
	}
	if len(addrs) == 0 {
		return sighting{}, errNoUsableAddress
	}
	return sighting{info: info, addrs: addrs}, nil
}

// tcpAddr writes an address as Syncthing does: "tcp://192.0.2.7:22000",
// "tcp://[fe80::7%25eth0]:22000".
func tcpAddr(host, port string) string {
	return (&url.URL{Scheme: "tcp", Host: net.JoinHostPort(host, port)}).String()
}
