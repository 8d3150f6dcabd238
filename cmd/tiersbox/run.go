package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/box/metrics"
	"tiersbox/box/moderation"
	"tiersbox/box/pad"
	"tiersbox/box/privacy"
	"tiersbox/box/settings"
	"tiersbox/box/staff"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
	"tiersbox/portal/captive"
	"tiersbox/portal/web"
	"tiersbox/sync/bep"
	"tiersbox/sync/link"
)

// shutdownGrace is how long in-flight requests get to finish after
// SIGINT or SIGTERM.
const shutdownGrace = 10 * time.Second

// gcPercent is the daemon's garbage-collector target (GOGC): the heap
// may grow by half over what is live before a collection, not double.
// A Pi's memory is what runs out first; measured on a 1 GiB sync and on
// 1,500 pad clients, this took a tenth off the peak memory for no
// measurable processor time (README, "Memory").
const gcPercent = 50

// startGCPercent is the collector's target while the box starts, until
// it serves or its heap reaches startHeap. Opening the drive and the sync
// indexes allocates in a burst whose live part stays small, and the
// collector's smallest target is 4 MiB scaled by the percentage: at
// gcPercent it ran every 2 MiB of that burst. With 10,000 drive files,
// the start to the first connection to a peer took a fifth to a quarter
// less at 400 (README, "Memory"). The heap's bound keeps the peak where
// it was: a first start reads and hashes every file already in the drive
// folder, and at 400 throughout, a 1 GiB drive took it from 44 to 68-71
// MiB. A bound on the heap, not a memory limit: a large box's live heap
// may exceed it, and a limit below the live heap makes the collector run
// without pause.
const (
	startGCPercent = 400
	startHeap      = 24 << 20
)

func cmdRun(ctx context.Context, args []string, env cmdEnv) error {
	started := func() {}
	if os.Getenv("GOGC") == "" {
		started = startCollector()
		defer started()
	}
	fs := newFlagSet("run", env)
	var common commonFlags
	common.register(fs)
	httpAddr := fs.String("http", "", "HTTP `address` to listen on (default 127.0.0.1:8080, or the config's http.listen)")
	dnsAddr := fs.String("dns", "", "DNS `address` to answer on, such as :53 (off unless given or configured)")
	address := fs.String("address", "", "the box's IPv4 `address` on the visitors' network (config portal.address)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	syncAddr := fs.String("sync", "", "`address` other boxes connect to for sync, such as :22000 (config sync.listen; empty: only dial)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := common.load()
	if err != nil {
		return err
	}
	// Flags last: they override the file and the environment.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "http":
			cfg.HTTP.Listen = *httpAddr
		case "dns":
			cfg.DNS.Listen = *dnsAddr
		case "address":
			cfg.Portal.Address = *address
		case "log-level":
			cfg.Log.Level = *logLevel
		case "sync":
			cfg.Sync.Listen = *syncAddr
		}
	})
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return runBox(ctx, cfg, common.data, env, started)
}

// startCollector sets the collector's target to startGCPercent, and back
// to gcPercent once the heap holds startHeap bytes or the returned func
// is called, whichever comes first.
func startCollector() (started func()) {
	debug.SetGCPercent(startGCPercent)
	done := make(chan struct{})
	var once sync.Once
	settle := func() {
		once.Do(func() {
			debug.SetGCPercent(gcPercent)
			close(done)
		})
	}
	go func() {
		heap := []runtimemetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if runtimemetrics.Read(heap); heap[0].Value.Uint64() >= startHeap {
				settle()
				return
			}
		}
	}()
	return settle
}

// services are the box's parts over its journal, opened the same way by
// `tiersbox run` and by the commands that read a stopped box.
type services struct {
	jnl    *journal.Journal
	pads   *pad.Service
	chats  *chat.Service
	files  *drive.Service
	logger *slog.Logger
}

// openJournal opens the journal of the box id in st. It is named by the
// box's device ID. A visitor may have their messages and files erased
// (box/privacy); nothing else. Moderation actions are indexed by time as
// they are written or arrive, for the staff's moderation log.
func openJournal(st *store.Store, id *identity.Identity) (*journal.Journal, error) {
	return journal.Open(st, journal.Origin(id.DeviceID), journal.Options{
		Erasable: []journal.Kind{chat.KindPost, drive.KindFile},
		Logged:   moderation.Kinds,
	})
}

// openPads opens the pads of jnl in st, journaling first the edits an
// unclean stop left in their write-ahead log (box/pad).
func openPads(st *store.Store, jnl *journal.Journal, logger *slog.Logger) (*pad.Service, error) {
	return pad.New(st, jnl, pad.Options{Logger: logger})
}

// openServices opens the journal, pads, chat and drive of the box id in
// st; limits gives the drive's size limits (its folders are set here).
func openServices(st *store.Store, id *identity.Identity, dataDir string, limits drive.Options, logger *slog.Logger) (*services, error) {
	svc := &services{logger: logger}
	var err error
	svc.jnl, err = openJournal(st, id)
	if err != nil {
		return nil, err
	}
	if svc.pads, err = openPads(st, svc.jnl, logger); err != nil {
		return nil, err
	}
	if svc.chats, err = chat.New(st, svc.jnl, chat.Options{Logger: logger}); err != nil {
		svc.Close()
		return nil, err
	}
	// The drive's files live beside the database: the drive folder, which
	// sync shares, and uploads under way and thumbnails outside it.
	limits.Dir = filepath.Join(dataDir, "drive")
	limits.TmpDir = filepath.Join(dataDir, "drive-tmp")
	limits.ThumbDir = filepath.Join(dataDir, "drive-thumbs")
	limits.Logger = logger
	if svc.files, err = drive.New(st, svc.jnl, limits); err != nil {
		svc.Close()
		return nil, err
	}
	return svc, nil
}

// Close flushes the pads' last edits and closes the drive; the database
// is the caller's to close afterwards.
func (s *services) Close() {
	if s.pads != nil {
		if err := s.pads.Close(); err != nil {
			s.logger.Error("flushing pad edits at shutdown", "error", err)
		}
	}
	if s.files != nil {
		s.files.Close()
	}
}

// runBox builds every component in order, runs them until ctx is done,
// then stops them in the reverse order. It calls started once every
// component is built, before serving.
func runBox(ctx context.Context, cfg Config, dataDir string, env cmdEnv, started func()) error {
	logger := newLogger(env, cfg.Log.Level)
	// A restore staged on the staff page goes in place before anything
	// opens the data (backup.go); restart stops the box to apply one.
	if err := applyPendingRestore(dataDir, logger); err != nil {
		return err
	}
	ctx, restart := context.WithCancelCause(ctx)
	defer restart(nil)

	// The identity first: it is what other boxes know this one by, and a
	// damaged one must stop the box before anything else is touched.
	id, created, err := identity.LoadOrCreate(dataDir)
	if err != nil {
		return err
	}
	if created {
		logger.Info("new box identity created", "device_id", id.DeviceID.String(), "path", dataDir)
	}

	st, err := store.Open(dataDir, store.Options{Logger: logger})
	if err != nil {
		return err
	}
	// The database closes last, after every component that writes to it.
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the database", "error", err)
		}
	}()
	venue, err := settings.Load(st)
	if err != nil {
		return err
	}
	if ok, _ := settings.Saved(st); !ok {
		logger.Info("box not set up yet: run `tiersbox init` to name the venue and set the staff password")
	}

	svc, err := openServices(st, id, dataDir, drive.Options{
		MaxFileSize: cfg.Drive.MaxFileSize.Bytes,
		Quota:       cfg.Drive.Quota.Bytes,
	}, logger)
	if err != nil {
		return err
	}
	// Pads flush their last second of edits to the journal before the
	// database closes (deferred calls run last-in, first-out).
	defer svc.Close()
	jnl, pads, chats, files := svc.jnl, svc.pads, svc.chats, svc.files

	// Box-to-box sync: other boxes' entries go to the services as soon
	// as they are in the journal, so open pads and channels show them
	// (apply.go).
	fromPeers := newApplier(func(entries []journal.Entry) {
		for _, apply := range []func(...journal.Entry) error{pads.Apply, chats.Apply, files.Apply} {
			if err := apply(entries...); err != nil {
				logger.Error("applying entries from another box", "error", err)
			}
		}
	})
	links := link.New(st, id.DeviceID)
	peers, err := bep.New(bep.Options{
		Identity: id, Store: st, Journal: jnl, Links: links,
		DriveDir: filepath.Join(dataDir, "drive"), Drive: files,
		Ingested: fromPeers.add,
		Listen:   cfg.Sync.Listen, Name: venue.Venue, Version: versionString(),
		RateLimit: cfg.Sync.MaxRate.Bytes, Logger: logger,
	})
	if err != nil {
		return err
	}
	files.OnChange(func(string) { peers.DriveChanged() })
	if err := peers.Listen(); err != nil {
		logger.Error("box-to-box sync will only dial out", "error", err)
	}

	reg := new(metrics.Registry)
	visitors := visitor.New(st, visitor.Options{SessionLength: cfg.Portal.Session.Duration, Logger: logger})
	staffLogin := staff.New(st, staff.Options{Logger: logger})
	neighbours := captive.Neighbours{}

	// Bind the sockets before printing anything, so that the addresses
	// shown are the real ones (port 0 picks a free port).
	httpLn, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: listen %s: %w", cfg.HTTP.Listen, err)
	}
	defer httpLn.Close()
	httpBound := netip.MustParseAddrPort(httpLn.Addr().String())

	var dns *captive.DNS
	dnsServing := false
	portalIP, err := portalAddress(cfg, httpBound)
	if err != nil {
		return err
	}
	if cfg.DNS.Listen != "" {
		if !portalIP.IsValid() {
			return fmt.Errorf("%w: the DNS responder needs the box's address: set portal.address or --address", errUsage)
		}
		dns, err = captive.NewDNS(captive.DNSOptions{
			Addr:   cfg.DNS.Listen,
			Answer: portalIP,
			Entered: func(a netip.Addr) bool {
				return visitors.Entered(a, neighbours.MAC(a))
			},
			Queries: reg.NewCounterVec("tiersbox_dns_queries_total", "DNS queries, by outcome.", "outcome"),
			Logger:  logger,
		})
		if err != nil {
			return err
		}
		if portalIP.IsLoopback() && !dnsLoopbackOnly(cfg.DNS.Listen) {
			// Answering visitors with 127.0.0.1 would send each of them
			// to their own device.
			return fmt.Errorf("%w: the DNS responder would give visitors the loopback address %s: set portal.address or --address", errUsage, portalIP)
		}
		if err := dns.Listen(); err != nil {
			return err
		}
		// Until Serve owns the sockets, a failed start must release them.
		defer func() {
			if !dnsServing {
				dns.Close()
			}
		}()
	}

	urlHost, shown := portalHosts(cfg, portalIP, httpBound, dns != nil)
	if cfg.Portal.MDNS {
		if !portalIP.IsValid() {
			return fmt.Errorf("%w: mDNS needs the box's address: set portal.address or --address", errUsage)
		}
		name := ownHostnames(cfg.Portal.Hostname)[1]
		m, err := captive.StartMDNS(captive.MDNSOptions{Name: name, Addr: portalIP, Interface: cfg.Network.Interface, Logger: logger})
		if err != nil {
			return err
		}
		defer m.Close()
		shown = append(shown, name)
	}
	mine := privacy.New(jnl, chats, files, logger)
	pages, err := web.New(web.Options{
		Store: st, Visitors: visitors, MAC: neighbours.MAC, Addresses: shown, Privacy: mine,
		WiFi: boxWiFi(cfg, dataDir, logger), WiFiRequestDir: dataDir, DiskFree: func() (int64, bool) { return diskFree(dataDir) },
		Pads: pads, Chat: chats, Drive: files, Staff: staffLogin, Metrics: reg, Version: versionString(), Logger: logger,
		Peers:      newPeersView(links, peers, id, venue.Venue, httpBound, logger),
		Backup:     &boxBackup{st: st, dataDir: dataDir, jnl: jnl, files: files, flushPads: pads.Flush, restart: func() { restart(errRestart) }, logger: logger},
		Moderation: moderation.New(jnl),
	})
	if err != nil {
		return err
	}
	portal, err := captive.NewPortal(captive.PortalOptions{
		URL:       "http://" + urlHost,
		Hostnames: ownHostnames(cfg.Portal.Hostname),
		Visitors:  visitors,
		MAC:       neighbours.MAC,
		Next:      pages.Pages(),
		Probes:    reg.NewCounterVec("tiersbox_captive_checks_total", "Connectivity checks of phones and computers, by system and reply.", "check"),
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           pages.Wrap(portal),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		// Captive-portal checks and pages need a few hundred bytes of
		// headers; anything far larger is refused with 431.
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	// Shutdown does not wait for websockets: close them with a reason.
	srv.RegisterOnShutdown(pages.CloseWebsockets)

	fmt.Fprintf(env.stdout, "tiersbox %s: the box %q is running.\n", versionString(), venue.Venue)
	fmt.Fprintf(env.stdout, "  open http://%s/ in a browser\n", browseHost(httpBound, portalIP))
	fmt.Fprintf(env.stdout, "  visitors reach it as %s\n", strings.Join(shown, " or "))
	if dns != nil {
		fmt.Fprintf(env.stdout, "  DNS on %s answers every name with %s\n", dns.LocalAddr(), portalIP)
	}
	fmt.Fprintf(env.stdout, "  data in %s, device ID %s\n", dataDir, id.DeviceID)
	if a := peers.Addr(); a != nil {
		fmt.Fprintf(env.stdout, "  sync on %s\n", a)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		// Stop accepting and let in-flight requests finish; this runs on
		// a signal or when another component fails.
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logger.Warn("requests still running at shutdown were cut", "error", err)
		}
		return nil
	})
	if dns != nil {
		dnsServing = true
		g.Go(func() error { return dns.Serve(gctx) })
	}
	g.Go(func() error { return visitors.Run(gctx, 10*time.Minute) })
	g.Go(func() error { return runRetention(gctx, st, mine, time.Hour, logger) })
	g.Go(func() error { return fromPeers.run(gctx) })
	g.Go(func() error { return peers.Run(gctx) })
	if cfg.Sync.Discovery {
		g.Go(func() error { return runDiscovery(gctx, cfg, id, venue.Venue, peers, logger) })
	}
	g.Go(func() error {
		return serveControl(gctx, dataDir, links, peers, logger, controlBackup(st, dataDir, pads.Flush, logger),
			func(mux *http.ServeMux) { controlExport(mux, pages.WriteExport, logger) })
	})

	started()
	logger.Info("box running", "http", httpBound.String(), "portal", "http://"+urlHost)
	err = g.Wait()
	if err != nil {
		return err
	}
	logger.Info("box stopped cleanly")
	if errors.Is(context.Cause(ctx), errRestart) {
		return errRestart
	}
	return nil
}

// dnsLoopbackOnly reports whether the DNS responder listens on loopback
// only (a developer's or a test's box), where answering 127.0.0.1 is right.
func dnsLoopbackOnly(listen string) bool {
	host, _, _ := net.SplitHostPort(listen)
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// portalAddress is the IPv4 address the DNS responder gives for every
// name: the configured one, else the one --dns or --http is bound to, else
// the address of network.interface (a box in a venue's network gets its
// address from the venue's DHCP server).
func portalAddress(cfg Config, httpBound netip.AddrPort) (netip.Addr, error) {
	if cfg.Portal.Address != "" {
		return netip.ParseAddr(cfg.Portal.Address)
	}
	if cfg.DNS.Listen != "" {
		host, _, _ := net.SplitHostPort(cfg.DNS.Listen)
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() && !a.IsUnspecified() {
			return a, nil
		}
	}
	if a := httpBound.Addr().Unmap(); a.Is4() && !a.IsUnspecified() {
		return a, nil
	}
	return interfaceAddress(cfg.Network.Interface), nil
}

// interfaceAddress returns the first IPv4 address of the named interface,
// or the zero Addr when there is none (a laptop has no wlan0 of ours).
func interfaceAddress(name string) netip.Addr {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// portalHosts returns the host (and port) that redirects lead to, and the
// addresses shown to visitors. With the box's own DNS the friendly name
// works; without it only an address does.
func portalHosts(cfg Config, portalIP netip.Addr, httpBound netip.AddrPort, dnsOn bool) (urlHost string, shown []string) {
	port := ""
	if httpBound.Port() != 80 {
		port = ":" + strconv.Itoa(int(httpBound.Port()))
	}
	addr := "127.0.0.1"
	if portalIP.IsValid() {
		addr = portalIP.String()
	}
	if dnsOn {
		return cfg.Portal.Hostname + port, []string{cfg.Portal.Hostname + port, addr + port}
	}
	return addr + port, []string{addr + port}
}

// ownHostnames are the names a visitor may type for the box: the
// configured one and its .local form, which mDNS answers on a venue's own
// network.
func ownHostnames(hostname string) []string {
	label, _, _ := strings.Cut(hostname, ".")
	return []string{hostname, label + ".local"}
}

// browseHost is the host and port to print for a browser on this machine
// or the box's network: the bound address, or the box's address when bound
// to all of them, without the default port.
func browseHost(bound netip.AddrPort, portalIP netip.Addr) string {
	a := bound.Addr().Unmap()
	if a.IsUnspecified() {
		a = netip.MustParseAddr("127.0.0.1")
		if portalIP.IsValid() {
			a = portalIP
		}
	}
	if bound.Port() == 80 {
		return a.String()
	}
	return netip.AddrPortFrom(a, bound.Port()).String()
}

// newLogger writes text logs to stderr (journald keeps them on a Pi).
//
// Level policy: ERROR is what staff must act on (the admin page will show
// it); WARN is a problem the box worked around; INFO is a change of state
// (started, stopped, a visitor entered); DEBUG is per request and per
// query.
func newLogger(env cmdEnv, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: l}))
}
