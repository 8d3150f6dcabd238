package bep

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
	"golang.org/x/sync/semaphore"

	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/internal/durable"
	"tiersbox/sync/link"
)

// Options configure a Node.
type Options struct {
	Identity *identity.Identity
	Store    *store.Store
	Journal  *journal.Journal
	Links    *link.Links
	// DriveDir is the drive's folder on disk; Drive hears about the files
	// that sync puts there or removes.
	DriveDir string
	Drive    DriveHooks
	// Ingested receives other boxes' entries once they are in the
	// journal, so that the services apply them at once.
	Ingested func([]journal.Entry)
	// Listen is the TCP address to accept peers on; empty accepts none.
	Listen string
	// Name and Version are said in the Hello.
	Name, Version string
	// RateLimit caps each link, in bytes per second in each direction;
	// zero means no cap.
	RateLimit int64
	// ScanInterval is how often the drive folder is scanned for changes
	// made behind the box's back; zero means a minute.
	ScanInterval time.Duration
	Logger       *slog.Logger
}

// Node is this box's BEP peer.
type Node struct {
	opts   Options
	me     protocol.DeviceID
	logger *slog.Logger
	tls    *tls.Config

	jIdx, dIdx *localIndex
	jf         *journalFolder
	df         *driveFolder

	listener net.Listener
	inflight *semaphore.Weighted // bytes of blocks being fetched

	candMu sync.Mutex
	cand   map[string]map[string]bool // per folder, names to look at

	mu         sync.Mutex
	peers      map[protocol.DeviceID]*peer
	discovered map[protocol.DeviceID][]string
	backoff    map[protocol.DeviceID]*retry
	stopping   bool           // Run is closing the connections: no new one
	conns      sync.WaitGroup // connections started and not yet Closed

	wake      chan struct{} // dial now
	scanNow   chan struct{}
	pullNow   map[string]chan struct{}
	dirtyMu   sync.Mutex
	dirty     map[journal.Origin]uint64 // origin → lowest entry erased since the last refresh, 0 if none
	refreshes chan struct{}
}

type retry struct {
	next  time.Time
	delay time.Duration
}

// New prepares the node: it opens the folders' indexes and announces the
// journal as it stands. Run starts the network side and the scans of the
// drive folder.
func New(opts Options) (*Node, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ScanInterval <= 0 {
		opts.ScanInterval = time.Minute
	}
	n := &Node{
		opts: opts, me: opts.Identity.DeviceID, logger: opts.Logger,
		peers:      map[protocol.DeviceID]*peer{},
		discovered: map[protocol.DeviceID][]string{}, backoff: map[protocol.DeviceID]*retry{},
		wake: make(chan struct{}, 1), scanNow: make(chan struct{}, 1), refreshes: make(chan struct{}, 1),
		pullNow:  map[string]chan struct{}{FolderJournal: make(chan struct{}, 1), FolderDrive: make(chan struct{}, 1)},
		dirty:    map[journal.Origin]uint64{},
		inflight: semaphore.NewWeighted(inflightBytes),
		cand:     map[string]map[string]bool{},
	}
	n.tls = tlsConfig(opts.Identity.Cert, n.linked)
	var err error
	if n.jIdx, err = openLocal(opts.Store, FolderJournal); err != nil {
		return nil, err
	}
	if n.dIdx, err = openLocal(opts.Store, FolderDrive); err != nil {
		return nil, err
	}
	n.jIdx.wants = func(name string, le fileEntry, _ bool, re fileEntry) bool {
		return n.wantSegment(le.info(name), re.info(name))
	}
	n.dIdx.wants = func(name string, le fileEntry, have bool, re fileEntry) bool {
		ok, _ := wantDriveFile(le.info(name), have, re.info(name))
		return ok
	}
	if err := os.MkdirAll(opts.DriveDir, 0o750); err != nil {
		return nil, fmt.Errorf("bep: drive folder: %w", err)
	}
	n.df = &driveFolder{root: opts.DriveDir, me: n.me.Short(), idx: n.dIdx, hooks: opts.Drive, logger: n.logger}
	opts.Journal.Watch(func(o journal.Origin, _ uint64) {
		n.dirtyMu.Lock()
		if _, ok := n.dirty[o]; !ok {
			n.dirty[o] = 0
		}
		n.dirtyMu.Unlock()
		signal(n.refreshes)
	})
	opts.Journal.WatchErased(func(o journal.Origin, lowest uint64) {
		n.dirtyMu.Lock()
		if low, ok := n.dirty[o]; !ok || low == 0 || lowest < low {
			n.dirty[o] = lowest
		}
		n.dirtyMu.Unlock()
		signal(n.refreshes)
	})
	if n.jf, err = newJournalFolder(opts.Journal, n.jIdx, n.logger, opts.Ingested); err != nil {
		return nil, err
	}
	opts.Links.Watch(n.linksChanged)
	return n, nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// index returns this box's index of a folder.
func (n *Node) index(folder string) *localIndex {
	if folder == FolderJournal {
		return n.jIdx
	}
	return n.dIdx
}

// DeviceID returns this box's device ID.
func (n *Node) DeviceID() protocol.DeviceID { return n.me }

// DriveChanged tells the node that the drive changed a file, so that it
// scans now rather than at the next interval.
func (n *Node) DriveChanged() { signal(n.scanNow) }

// Discovered gives the node addresses where a device was seen on the
// local network. Only linked devices are dialled.
func (n *Node) Discovered(id protocol.DeviceID, addrs []string) {
	n.mu.Lock()
	changed := !slices.Equal(n.discovered[id], addrs)
	n.discovered[id] = slices.Clone(addrs)
	if changed {
		delete(n.backoff, id)
	}
	n.mu.Unlock()
	if changed {
		signal(n.wake)
	}
}

func (n *Node) linked(id protocol.DeviceID) bool {
	_, ok, err := n.opts.Links.Get(id)
	return ok && err == nil
}

// linksChanged drops connections to devices no longer linked and dials
// new ones.
func (n *Node) linksChanged() {
	n.mu.Lock()
	var drop []*peer
	for id, p := range n.peers {
		if !n.linked(id) {
			drop = append(drop, p)
		}
	}
	clear(n.backoff)
	n.mu.Unlock()
	for _, p := range drop {
		p.conn.Close(errors.New("unlinked by staff"))
		dropRemote(n.opts.Store, p.id)
	}
	signal(n.wake)
}

// Listen binds the sync address (Options.Listen), so that Addr is known
// before Run. A box whose sync port is taken still serves visitors and
// still dials its peers: the caller logs the error and goes on.
func (n *Node) Listen() error {
	if n.opts.Listen == "" {
		return nil
	}
	l, err := net.Listen("tcp", n.opts.Listen)
	if err != nil {
		return fmt.Errorf("bep: listen on %s: %w", n.opts.Listen, err)
	}
	n.mu.Lock()
	n.listener = l
	n.mu.Unlock()
	return nil
}

// Run accepts (once Listen succeeded) and dials peers, scans the drive
// and pulls what peers have, until ctx is done.
func (n *Node) Run(ctx context.Context) error {
	disk, err := durable.NewSyncer(n.opts.DriveDir)
	if err != nil {
		return fmt.Errorf("bep: %w", err)
	}
	defer disk.Close()
	n.df.disk = disk
	if l := n.listenerOrNil(); l != nil {
		n.logger.Info("sync listening", "address", l.Addr().String(), "device", n.me.String())
		go n.accept(ctx, l)
		context.AfterFunc(ctx, func() { l.Close() })
	}
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){n.dialLoop, n.scanLoop, n.refreshLoop,
		func(ctx context.Context) { n.pullLoop(ctx, FolderJournal) },
		func(ctx context.Context) { n.pullLoop(ctx, FolderDrive) }} {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	<-ctx.Done()
	n.mu.Lock()
	n.stopping = true
	for _, p := range n.peers {
		p.conn.Close(errors.New("box stopping"))
	}
	n.mu.Unlock()
	// A connection's end is recorded (Closed) on lib/protocol's own
	// goroutine: wait for it, or the store may close before the link's
	// byte counts are kept.
	n.conns.Wait()
	wg.Wait()
	n.df.told.Wait() // the drive hears of every file put in place before the box stops
	return nil
}

// Addr returns the address the node listens on, or nil.
func (n *Node) Addr() net.Addr {
	if l := n.listenerOrNil(); l != nil {
		return l.Addr()
	}
	return nil
}

func (n *Node) listenerOrNil() net.Listener {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.listener
}

func (n *Node) accept(ctx context.Context, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() == nil {
				n.logger.Error("sync: accept", "error", err)
			}
			return
		}
		go func() {
			if err := n.serve(ctx, c, false, protocol.DeviceID{}); err != nil {
				n.logger.Info("sync: incoming connection refused", "remote", c.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

// serve sets up BEP on a new TCP connection. want, when dialling, is the
// device expected at the other end.
func (n *Node) serve(ctx context.Context, c net.Conn, outgoing bool, want protocol.DeviceID) error {
	mc := &meteredConn{Conn: c}
	var tc *tls.Conn
	if outgoing {
		tc = tls.Client(mc, n.tls)
	} else {
		tc = tls.Server(mc, n.tls)
	}
	id, hello, err := handshake(ctx, tc, protocol.Hello{DeviceName: n.opts.Name, ClientName: "tiersbox", ClientVersion: n.opts.Version, NumConnections: 1})
	if err != nil {
		tc.Close()
		return err
	}
	if outgoing && id != want {
		tc.Close()
		return fmt.Errorf("bep: dialled %s but %s answered", want.Short(), id.Short())
	}
	// The cap applies from here on: to BEP, not to the handshake.
	rate := n.opts.RateLimit
	if d, ok, _ := n.opts.Links.Get(id); ok && d.MaxRate > 0 {
		rate = d.MaxRate
	}
	mc.rlimit, mc.wlimit = newLimiter(rate), newLimiter(rate)
	if tc.ConnectionState().NegotiatedProtocol != alpn {
		n.logger.Info("sync: peer did not negotiate bep/1.0", "device", id.Short())
	}
	p := &peer{node: n, id: id, hello: hello, mc: mc, outgoing: outgoing, since: time.Now(), remote: map[string]*remoteIndex{}, shares: map[string]bool{}}
	p.ctx, p.cancel = context.WithCancel(ctx)
	for _, f := range []string{FolderJournal, FolderDrive} {
		ri, err := loadRemote(n.opts.Store, id, f)
		if err != nil {
			tc.Close()
			return err
		}
		p.remote[f] = ri
	}
	for f, ri := range p.remote {
		n.index(f).track(ri)
	}
	// The connection exists before the peer is recorded: a connection
	// to the same device racing this one may replace it, and closes it,
	// as soon as it is (addPeer). It starts only once recorded.
	p.conn = protocol.NewConnection(id, tc, tc, tc, p, newConnInfo(tc, outgoing), protocol.CompressionMetadata, protocol.NewKeyGenerator())
	if !n.addPeer(p) {
		p.untrack()
		tc.Close()
		return nil
	}
	p.conn.Start()
	p.conn.ClusterConfig(n.clusterConfig(p), nil)
	n.logger.Info("sync: connected", "device", id.Short(), "name", hello.DeviceName, "client", hello.ClientName+" "+hello.ClientVersion, "remote", c.RemoteAddr().String())
	return nil
}

// addPeer records a connected peer. When two connections to the same
// device race (both dialled at once), both sides keep the one dialled by
// the smaller device ID.
func (n *Node) addPeer(p *peer) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopping {
		return false
	}
	if old, ok := n.peers[p.id]; ok {
		if old.dialer().Compare(p.dialer()) <= 0 {
			return false
		}
		go old.conn.Close(errors.New("replaced by a new connection"))
	}
	n.peers[p.id] = p
	delete(n.backoff, p.id)
	n.conns.Add(1) // the caller starts it; Closed is called once it ends
	return true
}

func (n *Node) removePeer(p *peer) {
	now := time.Now()
	n.mu.Lock()
	if n.peers[p.id] == p {
		delete(n.peers, p.id)
	}
	n.mu.Unlock()
	// Kept in the links, so that staff see it after a restart too.
	if err := n.opts.Links.Seen(p.id, now, p.mc.in.Load(), p.mc.out.Load()); err != nil {
		n.logger.Error("sync: record a link's last connection", "error", err)
	}
}

func (n *Node) clusterConfig(p *peer) *protocol.ClusterConfig {
	cc := &protocol.ClusterConfig{}
	for _, f := range []struct {
		id, label string
		idx       *localIndex
	}{{FolderJournal, "journal", n.jIdx}, {FolderDrive, "drive", n.dIdx}} {
		indexID, seq := f.idx.head()
		p.mu.Lock()
		theirID, theirSeq := p.remote[f.id].IndexID, p.remote[f.id].MaxSeq
		p.mu.Unlock()
		cc.Folders = append(cc.Folders, protocol.Folder{ID: f.id, Label: f.label, Devices: []protocol.Device{
			{ID: n.me, Name: n.opts.Name, Addresses: []string{"dynamic"}, Compression: protocol.CompressionMetadata, IndexID: indexID, MaxSequence: seq},
			{ID: p.id, Name: p.hello.DeviceName, Addresses: []string{"dynamic"}, Compression: protocol.CompressionMetadata, IndexID: theirID, MaxSequence: theirSeq},
		}})
	}
	return cc
}

// dialLoop dials linked devices that are not connected, at their
// configured and discovered addresses, backing off after failures.
func (n *Node) dialLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		n.dialDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.wake:
		}
	}
}

func (n *Node) dialDue(ctx context.Context) {
	devs, err := n.opts.Links.List()
	if err != nil {
		n.logger.Error("sync: read links", "error", err)
		return
	}
	now := time.Now()
	for _, d := range devs {
		n.mu.Lock()
		_, connected := n.peers[d.ID]
		r := n.backoff[d.ID]
		if r == nil {
			r = &retry{delay: time.Second}
			n.backoff[d.ID] = r
		}
		addrs := append(slices.Clone(d.Addresses), n.discovered[d.ID]...)
		due := !connected && len(addrs) > 0 && !now.Before(r.next)
		if due {
			r.next = now.Add(r.delay)
			r.delay = min(2*r.delay, time.Minute)
		}
		n.mu.Unlock()
		if due {
			go n.dial(ctx, d.ID, addrs)
		}
	}
}

func (n *Node) dial(ctx context.Context, id protocol.DeviceID, addrs []string) {
	for _, a := range addrs {
		network, host, ok := strings.Cut(a, "://")
		if !ok || !strings.HasPrefix(network, "tcp") {
			continue
		}
		d := net.Dialer{Timeout: 10 * time.Second}
		c, err := d.DialContext(ctx, network, host)
		if err != nil {
			n.logger.Debug("sync: dial", "device", id.Short(), "address", a, "error", err)
			continue
		}
		if err := n.serve(ctx, c, true, id); err != nil {
			n.logger.Info("sync: connection failed", "device", id.Short(), "address", a, "error", err)
			continue
		}
		return
	}
}

// refreshLoop re-cuts the segments of origins whose journal grew and
// announces them.
func (n *Node) refreshLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.refreshes:
		}
		n.dirtyMu.Lock()
		origins := n.dirty
		n.dirty = map[journal.Origin]uint64{}
		n.dirtyMu.Unlock()
		for o, erasedFrom := range origins {
			if err := n.jf.refresh(o, erasedFrom); err != nil {
				n.logger.Error("sync: announce journal", "origin", o.String(), "error", err)
			}
		}
		signal(n.pullNow[FolderJournal])
	}
}

// scanLoop scans the drive folder at once, then when the drive says it
// changed and at every interval. The first scan finds what changed while
// the box was stopped; it does not hold up the start (on a Pi's SD card a
// walk of a large drive takes seconds, and the portal waits for New):
// until it has run, peers are told the index as it was, and a file
// changed meanwhile is never replaced by the puller (checkUntouched),
// only announced a little later.
func (n *Node) scanLoop(ctx context.Context) {
	tick := time.NewTicker(n.opts.ScanInterval)
	defer tick.Stop()
	for {
		if err := n.df.scan(); err != nil {
			n.logger.Error("sync: scan drive", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.scanNow:
		}
	}
}
