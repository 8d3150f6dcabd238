package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// ServiceType is the DNS-SD service type boxes announce and browse.
const ServiceType = "_tiersbox._tcp"

// Domain is the multicast DNS domain.
const Domain = "local."

// DefaultInterval is how often the service browses when Options.Interval is
// zero: often enough that a box plugged in is found within a minute, rarely
// enough to be unnoticeable on a venue's WiFi.
const DefaultInterval = 30 * time.Second

const (
	// queryTimeout is how long one browse waits for answers. Responders
	// answer at once; a second covers a busy WiFi.
	queryTimeout = time.Second
	// expireRounds is how many browse rounds a peer may go unseen before
	// it is forgotten: one lost answer on WiFi must not drop a peer.
	expireRounds = 3
	// maxEntriesPerQuery bounds what one browse takes in, and maxPeers the
	// table, against a LAN that announces thousands of fake boxes.
	maxEntriesPerQuery = 64
	maxPeers           = 256
)

// Options configure a Service. DeviceID and Port are required; every other
// zero value is documented.
type Options struct {
	// DeviceID is this box's Syncthing device ID, announced as id= and
	// used to recognise our own announcements.
	DeviceID protocol.DeviceID
	// Name is the venue name announced as name=, cleaned as received names
	// are (see MaxNameRunes). Empty announces an empty name.
	Name string
	// Version is the tiersbox version announced as version=, cleaned to
	// printable ASCII of at most MaxVersionBytes bytes. Empty announces an
	// empty version.
	Version string
	// Port is the TCP port BEP listens on, announced in the SRV record.
	Port int
	// Interfaces names the network interfaces to announce and browse on,
	// such as the venue's LAN, so that the box is not announced on the
	// visitors' WiFi. Empty lets the system choose its default multicast
	// interface, which needs a route for 224.0.0.0/4 (a default route
	// will do) and announces the addresses of every interface.
	Interfaces []string
	// Interval is the time between two browse rounds; zero means
	// DefaultInterval. Peers unseen for three rounds are forgotten.
	Interval time.Duration
	// Logger receives the service's logs; nil discards them. Announcing
	// problems are warnings (the box is then invisible to other boxes),
	// peers found and lost are information, and whatever other devices
	// send that is refused is debug, so that a noisy LAN cannot flood the
	// logs.
	Logger *slog.Logger
	// OnPeer, if not nil, is called each time a browse round sees a peer,
	// once per peer and round, so that the caller can dial it. It is
	// called from the service's goroutine, holding no lock, never
	// concurrently with itself and never after Close returns; it should
	// return quickly (dial in a goroutine of your own), since browsing
	// waits for it.
	OnPeer func(Peer)
}

// Peer is another box seen on the network. It is a value: the service
// keeps its own copy.
type Peer struct {
	// DeviceID is the device ID the peer announced. It is valid, and not
	// ours, but nothing proves the peer holds it until BEP's TLS does.
	DeviceID protocol.DeviceID
	// Name and Version are as announced, cleaned.
	Name, Version string
	// Addresses are the addresses heard for the peer recently, as
	// Syncthing writes them ("tcp://192.0.2.7:22000",
	// "tcp://[2001:db8::7]:22000"), IPv4 first. Never empty.
	Addresses []string
	// LastSeen is when the peer last answered a browse.
	LastSeen time.Time
}

// LogValue logs a peer by its short device ID and its name.
func (p Peer) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", p.DeviceID.Short().String()),
		slog.String("name", p.Name),
	)
}

// Service announces this box and keeps the table of peers seen. Its
// methods are safe for concurrent use.
type Service struct {
	opts       Options
	log        *slog.Logger
	mdnsLog    *log.Logger // for the library, at debug level
	instance   string      // DNS-SD instance label
	host       string      // host name of the A and AAAA records
	txt        []string
	ttl        time.Duration
	announcers []*announcer // one per interface; touched only by loop

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once

	mu    sync.Mutex
	peers table
}

// Run starts announcing this box and browsing for others, and returns at
// once. Both go on until ctx is done or Close is called. Run fails only on
// invalid options: a network that cannot be used yet (an interface without
// an address, a cable unplugged) is logged and tried again at each round.
func Run(ctx context.Context, opts Options) (*Service, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	interval := cmp.Or(opts.Interval, DefaultInterval)
	id := opts.DeviceID.String()
	s := &Service{
		opts:    opts,
		log:     logger,
		mdnsLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		// A device ID as Syncthing writes it is 63 characters, the
		// most a DNS label holds, of letters, digits and dashes.
		instance: id,
		host:     strings.ToLower(id) + "." + Domain,
		txt:      txtRecord(txtInfo{ID: opts.DeviceID, Name: opts.Name, Version: opts.Version}),
		ttl:      expireRounds * (interval + queryTimeout),
		done:     make(chan struct{}),
	}
	s.opts.Interval = interval
	s.peers = table{self: opts.DeviceID, peers: make(map[protocol.DeviceID]*tableEntry)}
	names := opts.Interfaces
	if len(names) == 0 {
		names = []string{""}
	}
	for _, name := range names {
		if !slices.ContainsFunc(s.announcers, func(a *announcer) bool { return a.iface == name }) {
			s.announcers = append(s.announcers, &announcer{iface: name})
		}
	}
	// Announce before returning, so that a box started after Run can
	// already find this one.
	for _, a := range s.announcers {
		a.refresh(s)
	}
	ctx, s.cancel = context.WithCancel(ctx)
	go s.loop(ctx)
	return s, nil
}

func (o Options) check() error {
	switch {
	case o.DeviceID == protocol.EmptyDeviceID:
		return errors.New("discovery: no device ID")
	case o.Port < 1 || o.Port > 65535:
		return fmt.Errorf("discovery: port %d is not a TCP port", o.Port)
	case o.Interval < 0:
		return fmt.Errorf("discovery: negative interval %v", o.Interval)
	case slices.Contains(o.Interfaces, ""):
		return errors.New("discovery: empty interface name")
	}
	return nil
}

// Peers returns the peers seen recently, sorted by name (ignoring case),
// then by device ID. The slice is the caller's.
func (s *Service) Peers() []Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers.list()
}

// Close stops announcing and browsing, and returns once the service's
// goroutine has ended, which may take as long as a browse in progress (a
// second): OnPeer is not called after. Calling it again does nothing.
func (s *Service) Close() error {
	s.closeOnce.Do(s.cancel)
	<-s.done
	return nil
}

func (s *Service) loop(ctx context.Context) {
	defer close(s.done)
	defer func() {
		for _, a := range s.announcers {
			a.stop()
		}
	}()
	// The first round browses at once: a box just started wants its peers
	// now, not in thirty seconds.
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.round(ctx)
		// From the end of a round, so that rounds never pile up.
		timer.Reset(s.opts.Interval)
	}
}

// round refreshes what is announced, browses every interface, updates the
// table and tells OnPeer.
func (s *Service) round(ctx context.Context) {
	for _, a := range s.announcers {
		a.refresh(s)
	}
	sightings := s.browse(ctx)
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	var seen, found []protocol.DeviceID
	s.mu.Lock()
	for _, sg := range sightings {
		isNew, ok := s.peers.see(now, sg)
		if !ok {
			continue
		}
		if isNew {
			found = append(found, sg.info.ID)
		}
		// A peer heard on two interfaces is seen once.
		if !slices.Contains(seen, sg.info.ID) {
			seen = append(seen, sg.info.ID)
		}
	}
	notify := make([]Peer, 0, len(seen))
	for _, id := range seen {
		notify = append(notify, s.peers.peer(id))
	}
	expired := s.peers.expire(now, s.ttl)
	s.mu.Unlock()

	for _, p := range notify {
		if slices.Contains(found, p.DeviceID) {
			s.log.Info("peer found on the network", "peer", p, "addr", p.Addresses)
		}
	}
	for _, p := range expired {
		s.log.Info("peer no longer seen on the network", "peer", p)
	}
	if s.opts.OnPeer != nil {
		for _, p := range notify {
			s.opts.OnPeer(p)
		}
	}
}

// sighting is one valid answer of one browse.
type sighting struct {
	info  txtInfo
	addrs []string
}

// table is the peers seen, by device ID. It is not safe for concurrent
// use: Service guards it with mu.
type table struct {
	self  protocol.DeviceID
	peers map[protocol.DeviceID]*tableEntry
}

type tableEntry struct {
	peer  Peer                 // Addresses unused: see addrs
	addrs map[string]time.Time // address → last heard
}

// see records a sighting at now. It reports whether the peer is new, and
// refuses (ok false) our own announcements and new peers once the table
// is full.
func (t *table) see(now time.Time, sg sighting) (isNew, ok bool) {
	if sg.info.ID == t.self {
		return false, false
	}
	e := t.peers[sg.info.ID]
	if e == nil {
		if len(t.peers) >= maxPeers {
			return false, false
		}
		e = &tableEntry{addrs: make(map[string]time.Time)}
		t.peers[sg.info.ID] = e
		isNew = true
	}
	// The latest announcement wins: staff may rename a venue.
	e.peer = Peer{DeviceID: sg.info.ID, Name: sg.info.Name, Version: sg.info.Version, LastSeen: now}
	for _, a := range sg.addrs {
		e.addrs[a] = now
	}
	return isNew, true
}

// expire forgets the addresses and peers not heard for ttl, and returns
// the peers forgotten.
func (t *table) expire(now time.Time, ttl time.Duration) []Peer {
	var gone []Peer
	for id, e := range t.peers {
		for a, at := range e.addrs {
			if now.Sub(at) > ttl {
				delete(e.addrs, a)
			}
		}
		if now.Sub(e.peer.LastSeen) > ttl || len(e.addrs) == 0 {
			gone = append(gone, t.peer(id))
			delete(t.peers, id)
		}
	}
	return gone
}

// peer returns a copy of the peer with its addresses, IPv4 first.
func (t *table) peer(id protocol.DeviceID) Peer {
	e := t.peers[id]
	p := e.peer
	p.Addresses = make([]string, 0, len(e.addrs))
	for a := range e.addrs {
		p.Addresses = append(p.Addresses, a)
	}
	slices.SortFunc(p.Addresses, func(a, b string) int {
		return cmp.Or(
			cmp.Compare(isIPv6(a), isIPv6(b)),
			strings.Compare(a, b),
		)
	})
	return p
}

// isIPv6 is 1 for an address of an IPv6 host ("tcp://[…]:port"), else 0.
func isIPv6(addr string) int {
	if strings.Contains(addr, "[") {
		return 1
	}
	return 0
}

func (t *table) list() []Peer {
	ps := make([]Peer, 0, len(t.peers))
	for id := range t.peers {
		ps = append(ps, t.peer(id))
	}
	slices.SortFunc(ps, func(a, b Peer) int {
		return cmp.Or(
			strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			strings.Compare(a.Name, b.Name),
			a.DeviceID.Compare(b.DeviceID),
		)
	})
	return ps
}
