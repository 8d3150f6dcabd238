package captive

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"tiersbox/box/metrics"
	"tiersbox/box/visitor"
)

// Visitors is what the portal needs to know about visitors: whether a
// device has entered. *visitor.Service implements it.
type Visitors interface {
	ByClient(addr netip.Addr, mac string) (visitor.Visitor, error)
}

// PortalOptions configure a Portal.
type PortalOptions struct {
	// URL is the portal's own base URL, where redirects lead, for example
	// "http://tiers.box" or "http://127.0.0.1:8080". Required.
	URL string
	// Hostnames are other names visitors may type for the box (the host of
	// URL, "localhost" and IP literals are always the box's own).
	Hostnames []string
	// Visitors recognises entered devices. Required.
	Visitors Visitors
	// MAC returns the MAC address of a client, or "" if unknown. nil means
	// always unknown.
	MAC func(netip.Addr) string
	// Next serves requests for the box's own pages. Required.
	Next http.Handler
	// Probes, if not nil, counts connectivity checks by system and outcome
	// (label "captive" or "online", joined as "android/online").
	Probes *metrics.CounterVec
	// Now returns the time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Portal is the outermost HTTP handler of the box: it sends foreign hosts
// and connectivity checks where they belong and passes the box's own pages
// to Next. It is safe for concurrent use.
type Portal struct {
	opts  PortalOptions
	base  string // URL without a trailing slash
	own   map[string]bool
	index probeIndex
}

// NewPortal checks opts and returns a Portal.
func NewPortal(opts PortalOptions) (*Portal, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("captive: portal URL %q must be http://HOST[:PORT]", opts.URL)
	}
	if opts.Visitors == nil || opts.Next == nil {
		return nil, errors.New("captive: portal needs Visitors and Next")
	}
	if opts.MAC == nil {
		opts.MAC = func(netip.Addr) string { return "" }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Portal{
		opts:  opts,
		base:  strings.TrimSuffix(opts.URL, "/"),
		own:   map[string]bool{"localhost": true, normalHost(u.Host): true},
		index: indexProbes(Probes),
	}
	for _, h := range opts.Hostnames {
		p.own[normalHost(h)] = true
	}
	return p, nil
}

// WelcomeURL is where a visitor who has not entered is sent.
func (p *Portal) WelcomeURL() string { return p.base + "/welcome" }

// AboutURL is the page that says what the box offers; an entered visitor
// who types a foreign address is sent there.
func (p *Portal) AboutURL() string { return p.base + "/about" }

// IsOwnHost reports whether a Host header names the box itself.
func (p *Portal) IsOwnHost(host string) bool {
	h := normalHost(host)
	if p.own[h] {
		return true
	}
	// An address typed by hand can only reach the box: every packet from
	// a visitor ends here.
	_, err := netip.ParseAddr(h)
	return err == nil
}

// APIPath is where the RFC 8908 Captive Portal API is served.
const APIPath = "/api/captive"

// ServeHTTP routes one request.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := normalHost(r.Host)
	if p.IsOwnHost(host) {
		if r.URL.Path == APIPath {
			p.serveAPI(w, r)
			return
		}
		p.opts.Next.ServeHTTP(w, r)
		return
	}

	client := ClientAddr(r)
	_, err := p.opts.Visitors.ByClient(client, p.opts.MAC(client))
	entered := err == nil

	// Nothing the box answers for a foreign host may be cached: the same
	// URL must say "captive" now and "online" a minute later.
	w.Header().Set("Cache-Control", "no-store")
	if probe := p.index.match(host, r.URL.Path); probe != nil {
		outcome := "captive"
		if entered {
			outcome = "online"
		}
		if p.opts.Probes != nil {
			p.opts.Probes.With(probe.System + "/" + outcome).Inc()
		}
		p.opts.Logger.Debug("connectivity check", "system", probe.System, "client", client, "outcome", outcome)
		if entered {
			probe.Online(w, r)
		} else {
			http.Redirect(w, r, p.WelcomeURL(), http.StatusFound)
		}
		return
	}
	if entered {
		http.Redirect(w, r, p.AboutURL()+"?from="+url.QueryEscape(host), http.StatusFound)
		return
	}
	http.Redirect(w, r, p.WelcomeURL(), http.StatusFound)
}

// captiveAPI is the RFC 8908 document.
type captiveAPI struct {
	Captive          bool   `json:"captive"`
	UserPortalURL    string `json:"user-portal-url"`
	VenueInfoURL     string `json:"venue-info-url"`
	SecondsRemaining *int64 `json:"seconds-remaining,omitempty"`
	CanExtendSession *bool  `json:"can-extend-session,omitempty"`
}

// serveAPI answers the Captive Portal API (RFC 8908). The RFC asks for
// HTTPS, which an offline box cannot offer with a trusted certificate;
// clients that follow DHCP option 114 strictly will ignore it, and the
// interception in ServeHTTP is what works everywhere.
func (p *Portal) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	client := ClientAddr(r)
	doc := captiveAPI{Captive: true, UserPortalURL: p.WelcomeURL(), VenueInfoURL: p.AboutURL()}
	if v, err := p.opts.Visitors.ByClient(client, p.opts.MAC(client)); err == nil {
		left := int64(v.Expires.Sub(p.opts.Now()) / time.Second)
		yes := true
		doc.Captive = false
		doc.SecondsRemaining = &left
		doc.CanExtendSession = &yes
	}
	w.Header().Set("Content-Type", "application/captive+json")
	w.Header().Set("Cache-Control", "private, no-store")
	if r.Method == http.MethodHead {
		return
	}
	json.NewEncoder(w).Encode(doc)
}

// ClientAddr returns the address a request came from. The box is never
// behind a proxy, so forwarding headers are not trusted.
func ClientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
