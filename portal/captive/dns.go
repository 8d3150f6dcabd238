package captive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"tiersbox/box/metrics"
)

const (
	// dnsTTL is the TTL of every record the responder gives. Captive portals
	// use a short TTL: a phone that leaves the box's WiFi for a real network
	// must not keep resolving names to the box for long, and a Windows
	// machine whose visitor has just entered the portal must not keep the
	// "captive" answer to its NCSI probe. Ten seconds costs a few extra
	// queries on a LAN where a query costs microseconds.
	dnsTTL = 10

	// dnsUDPMin is the size every DNS client accepts over UDP (RFC 1035
	// section 4.2.1).
	dnsUDPMin = 512
	// dnsEDNSSize is the UDP payload size we advertise and the most we send
	// to an EDNS client: 1232 bytes avoids IP fragmentation on any path
	// (DNS Flag Day 2020).
	dnsEDNSSize = 1232

	// dnsTCPIdle is how long a TCP connection may wait for its next query
	// (RFC 7766 section 6.2.3 suggests seconds, not minutes).
	dnsTCPIdle = 10 * time.Second
	// dnsMaxTCPConns bounds concurrent TCP connections: a phone uses TCP
	// only after a truncated UDP reply, which this responder never sends in
	// practice, so a few hundred is plenty and bounds memory on a Pi.
	dnsMaxTCPConns = 256
)

// The names of the DNS probe of Windows' Network Connectivity Status
// Indicator, and the exact answers it expects before it calls the network
// "online".
var (
	ncsiNames = [][]byte{[]byte("dns.msftncsi.com"), []byte("dns.msftconnecttest.com")}
	ncsiA     = netip.MustParseAddr("131.107.255.255").As4()
	ncsiAAAA  = netip.MustParseAddr("fd3e:4f5a:5b81::1").As16()
)

// Labels of DNSOptions.Queries.
const (
	outcomeAnswered = "answered"
	outcomeDropped  = "dropped"
	outcomeRefused  = "refused"
)

// DNSOptions configure a DNS responder.
type DNSOptions struct {
	// Addr is the "host:port" to listen on, for both UDP and TCP (DNS over
	// TCP with the 2-byte length prefix, RFC 7766). It must be set: there is
	// no default because port 53 needs privileges. Port 0 picks a free port,
	// the same for UDP and TCP.
	Addr string
	// Answer is the box's IPv4 portal address, returned for every A query.
	// It must be a valid IPv4 address.
	Answer netip.Addr
	// Entered reports whether the visitor at this client address has
	// entered the portal. It is called from several goroutines at once, and
	// only for Windows' connectivity probes. nil means nobody has.
	Entered func(client netip.Addr) bool
	// Queries, if not nil, is incremented for every query the server
	// receives, labelled by outcome: "answered", "dropped" (malformed,
	// ignored) or "refused" (FORMERR, NOTIMP, BADVERS).
	Queries *metrics.CounterVec
	// Logger receives a Debug record per query and a Warn record per socket
	// error. nil discards.
	Logger *slog.Logger
}

// DNS is a DNS responder for a captive portal: it answers every A query
// with the box's address, so that a visitor's device reaches the portal
// whatever name it asks for, and answers every other type with no record,
// so that devices fall back to IPv4 at once.
//
// Respond is safe for concurrent use. Listen, then Serve, are called once.
type DNS struct {
	answer  [4]byte
	entered func(netip.Addr) bool
	log     *slog.Logger
	addr    string

	// Counters, nil when DNSOptions.Queries is nil. Taken once so that a
	// query does not lock the CounterVec's map.
	answered, dropped, refused *metrics.Counter

	// udpLimit is the most a reply to a query without EDNS may weigh; 512
	// by RFC 1035, lowered by tests to exercise truncation.
	udpLimit int
	// tcpIdle is dnsTCPIdle, shortened by tests.
	tcpIdle time.Duration

	mu  sync.Mutex
	udp *net.UDPConn
	tcp *net.TCPListener
}

// NewDNS returns a responder configured by opts. It does not open sockets:
// see Listen.
func NewDNS(opts DNSOptions) (*DNS, error) {
	if _, _, err := net.SplitHostPort(opts.Addr); err != nil {
		return nil, fmt.Errorf("dns: address %q: %w", opts.Addr, err)
	}
	answer := opts.Answer.Unmap()
	if !answer.Is4() {
		return nil, fmt.Errorf("dns: answer %v is not an IPv4 address", opts.Answer)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DNS{
		answer:   answer.As4(),
		entered:  opts.Entered,
		log:      log,
		addr:     opts.Addr,
		udpLimit: dnsUDPMin,
		tcpIdle:  dnsTCPIdle,
	}
	if opts.Queries != nil {
		d.answered = opts.Queries.With(outcomeAnswered)
		d.dropped = opts.Queries.With(outcomeDropped)
		d.refused = opts.Queries.With(outcomeRefused)
	}
	return d, nil
}

// Respond answers one query packet received over UDP from client.
// ok=false means the packet must be dropped silently: it is malformed,
// truncated, or a response. Respond does no I/O, and neither logs nor
// counts: Serve does.
func (d *DNS) Respond(query []byte, client netip.Addr) (resp []byte, ok bool) {
	r := d.respond(nil, query, client, false)
	return r.msg, r.outcome != outcomeDropped
}

// reply is the outcome of one query, with what the server logs about it.
type reply struct {
	msg     []byte
	outcome string // outcomeAnswered, outcomeDropped or outcomeRefused
	// q is the query's question, valid when hasQ.
	q    dnsmessage.Question
	hasQ bool
}

// edns is what a reply needs to know of the query's OPT record.
type edns struct {
	present bool
	size    int  // the client's UDP payload size
	do      bool // DNSSEC OK, copied into the reply (RFC 3225 section 3)
	badVers bool // an EDNS version other than 0
}

// record is one answer: an IPv4 or an IPv6 address.
type record struct {
	a    [4]byte
	aaaa [16]byte
	is6  bool
}

// respond appends to dst the reply to query. Over UDP the reply is kept
// within the size the client accepts; over TCP within 65535 bytes.
func (d *DNS) respond(dst, query []byte, client netip.Addr, tcp bool) reply {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil || h.Response || h.Truncated {
		// Answering a response could start a loop between two
		// responders; a truncated query is a client bug. Either way
		// silence is the safe answer.
		return reply{outcome: outcomeDropped}
	}
	rh := dnsmessage.Header{
		ID:                 h.ID,
		Response:           true,
		OpCode:             h.OpCode,
		RecursionDesired:   h.RecursionDesired,
		RecursionAvailable: true,
		// RFC 6840 section 5.9: copy CD. AD stays clear: nothing here is
		// DNSSEC-validated.
		CheckingDisabled: h.CheckingDisabled,
	}

	// The header struct hides the section counts; Start has checked that
	// the 12 header bytes are there.
	if qdcount := binary.BigEndian.Uint16(query[4:6]); qdcount != 1 {
		rh.RCode = dnsmessage.RCodeFormatError
		return d.build(dst, rh, reply{outcome: outcomeRefused}, nil, edns{}, tcp)
	}
	q, err := p.Question()
	if err != nil {
		return reply{outcome: outcomeDropped}
	}
	r := reply{q: q, hasQ: true, outcome: outcomeRefused}
	if h.OpCode != 0 {
		// Only QUERY is implemented: no NOTIFY, UPDATE or IQUERY.
		rh.RCode = dnsmessage.RCodeNotImplemented
		return d.build(dst, rh, r, nil, edns{}, tcp)
	}

	// A query normally has no answer or authority records, but reaching
	// the additional section for the OPT record means stepping over them.
	if p.SkipAllQuestions() != nil || p.SkipAllAnswers() != nil || p.SkipAllAuthorities() != nil {
		return reply{outcome: outcomeDropped}
	}
	var e edns
	for {
		ah, err := p.AdditionalHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return reply{outcome: outcomeDropped}
		}
		if ah.Type == dnsmessage.TypeOPT {
			if e.present {
				// RFC 6891 section 6.1.1: more than one OPT is FORMERR.
				rh.RCode = dnsmessage.RCodeFormatError
				return d.build(dst, rh, r, nil, edns{}, tcp)
			}
			// The OPT record's class is the client's UDP payload size,
			// its TTL holds the version and the DO bit (RFC 6891
			// section 6.1.3).
			e = edns{
				present: true,
				size:    int(ah.Class),
				do:      ah.DNSSECAllowed(),
				badVers: ah.TTL>>16&0xff != 0,
			}
		}
		if err := p.SkipAdditional(); err != nil {
			return reply{outcome: outcomeDropped}
		}
	}
	if e.badVers {
		// We speak EDNS version 0 only.
		return d.build(dst, rh, r, nil, e, tcp)
	}

	rh.Authoritative = true
	r.outcome = outcomeAnswered
	rec, ok := d.answerFor(q, client)
	if !ok {
		return d.build(dst, rh, r, nil, e, tcp)
	}
	return d.build(dst, rh, r, &rec, e, tcp)
}

// answerFor returns the answer to question q from client, if any: the portal
// address for any A query, nothing for other types, except for Windows'
// connectivity probe once the visitor has entered.
func (d *DNS) answerFor(q dnsmessage.Question, client netip.Addr) (record, bool) {
	if q.Class != dnsmessage.ClassINET {
		return record{}, false
	}
	switch q.Type {
	case dnsmessage.TypeA:
		if isNCSI(q.Name) && d.entered != nil && d.entered(client) {
			return record{a: ncsiA}, true
		}
		return record{a: d.answer}, true
	case dnsmessage.TypeAAAA:
		// Before entering, Windows must see no IPv6 answer to its probe
		// either, or it would not conclude that the network is captive.
		if isNCSI(q.Name) && d.entered != nil && d.entered(client) {
			return record{aaaa: ncsiAAAA, is6: true}, true
		}
		return record{}, false
	default:
		// AAAA, HTTPS, SVCB, MX, TXT, PTR...: NOERROR with no record, so
		// that a device stops waiting at once and uses the A answer.
		return record{}, false
	}
}

// isNCSI reports whether name is one of the names of Windows' DNS probe,
// ignoring case and the trailing dot.
func isNCSI(name dnsmessage.Name) bool {
	n := bytes.TrimSuffix(name.Data[:name.Length], []byte("."))
	for _, ncsi := range ncsiNames {
		if bytes.EqualFold(n, ncsi) {
			return true
		}
	}
	return false
}

// build appends to dst the reply with header rh, r's question if any, the
// answer ans if not nil and an OPT record if the query had one. If the
// reply exceeds what the transport carries it is rebuilt without answer
// and with TC set, so that the client retries over TCP.
func (d *DNS) build(dst []byte, rh dnsmessage.Header, r reply, ans *record, e edns, tcp bool) reply {
	limit := 65535
	if !tcp {
		limit = d.udpLimit
		if e.present {
			// Below 512 means 512 (RFC 6891 section 6.2.5); above what we
			// advertise means what we advertise, to avoid fragments.
			limit = max(limit, min(e.size, dnsEDNSSize))
		}
	}
	msg, err := pack(dst, rh, r, ans, e)
	if err == nil && len(msg) > limit {
		rh.Truncated = true
		msg, err = pack(dst, rh, r, nil, e)
	}
	if err != nil {
		// A name that parsed always packs again, so this does not
		// happen; if it did, silence is better than a broken packet.
		return reply{outcome: outcomeDropped}
	}
	r.msg = msg
	return r
}

// pack appends one DNS message to dst.
func pack(dst []byte, rh dnsmessage.Header, r reply, ans *record, e edns) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, dnsUDPMin)
	}
	b := dnsmessage.NewBuilder(dst[:0], rh)
	// With compression the answer's name is a 2-byte pointer to the
	// question: a reply to a 253-character name still fits 512 bytes.
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if r.hasQ {
		// The question is echoed byte for byte, case included: resolvers
		// that randomise case (DNS 0x20) check it.
		if err := b.Question(r.q); err != nil {
			return nil, err
		}
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if ans != nil {
		h := dnsmessage.ResourceHeader{Name: r.q.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}
		var err error
		if ans.is6 {
			err = b.AAAAResource(h, dnsmessage.AAAAResource{AAAA: ans.aaaa})
		} else {
			err = b.AResource(h, dnsmessage.AResource{A: ans.a})
		}
		if err != nil {
			return nil, err
		}
	}
	if e.present {
		if err := b.StartAdditionals(); err != nil {
			return nil, err
		}
		// BADVERS is 16: its upper 8 bits go in the OPT record, its lower
		// 4 bits (0) stay in the header's RCODE.
		const rcodeBadVers = 16
		ext := dnsmessage.RCodeSuccess
		if e.badVers {
			ext = rcodeBadVers
		}
		var h dnsmessage.ResourceHeader
		if err := h.SetEDNS0(dnsEDNSSize, ext, e.do); err != nil {
			return nil, err
		}
		if err := b.OPTResource(h, dnsmessage.OPTResource{}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// Listen binds UDP and TCP on the configured address, the same port for
// both, and returns once bound.
func (d *DNS) Listen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.udp != nil {
		return fmt.Errorf("dns: listen %s: already listening", d.addr)
	}
	host, port, err := net.SplitHostPort(d.addr)
	if err != nil {
		return fmt.Errorf("dns: listen %s: %w", d.addr, err)
	}
	// With port 0 the kernel picks a free UDP port, which a TCP socket may
	// already hold: then try another.
	for attempt := 1; ; attempt++ {
		udp, tcp, err := listenBoth(host, port)
		if err == nil {
			d.udp, d.tcp = udp, tcp
			return nil
		}
		if port != "0" || !errors.Is(err, syscall.EADDRINUSE) || attempt == 16 {
			return err
		}
		d.log.Debug("dns: listen retry", "error", err)
	}
}

// listenBoth binds UDP on host:port, then TCP on the port UDP got.
func listenBoth(host, port string) (*net.UDPConn, *net.TCPListener, error) {
	addr := net.JoinHostPort(host, port)
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
	}
	udp := pc.(*net.UDPConn)
	got := udp.LocalAddr().(*net.UDPAddr).Port
	addr = net.JoinHostPort(host, strconv.Itoa(got))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		udp.Close()
		return nil, nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
	}
	return udp, ln.(*net.TCPListener), nil
}

// Close releases the sockets of a responder that was bound but will not
// serve (the daemon failed to start after Listen). Serve closes them
// itself when its context ends.
func (d *DNS) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.udp == nil {
		return nil
	}
	return errors.Join(d.udp.Close(), d.tcp.Close())
}

// LocalAddr returns the address the responder is bound to, or the zero
// AddrPort before Listen.
func (d *DNS) LocalAddr() netip.AddrPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.udp == nil {
		return netip.AddrPort{}
	}
	ap := d.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	// An IPv4 address may come back in its IPv6-mapped form.
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Serve answers queries until ctx is done, then closes the sockets, waits
// for the TCP connections to end and returns nil. It calls Listen if Listen
// has not been called. Serve is called once.
func (d *DNS) Serve(ctx context.Context) error {
	d.mu.Lock()
	bound := d.udp != nil
	d.mu.Unlock()
	if !bound {
		if err := d.Listen(); err != nil {
			return err
		}
	}
	d.mu.Lock()
	udp, tcp := d.udp, d.tcp
	d.mu.Unlock()

	conns := &connSet{m: make(map[net.Conn]struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { d.serveUDP(ctx, udp) })
	wg.Go(func() { d.serveTCP(ctx, tcp, conns) })

	<-ctx.Done()
	// Closing the sockets unblocks the loops; closing the open connections
	// unblocks their handlers, which would otherwise wait for their idle
	// timeout.
	udp.Close()
	tcp.Close()
	conns.closeAll()
	wg.Wait()
	return nil
}

// serveUDP answers datagrams until the socket is closed.
func (d *DNS) serveUDP(ctx context.Context, conn *net.UDPConn) {
	// One goroutine answers every datagram in turn: a reply costs
	// microseconds, far below the rate of a venue's phones, and it lets
	// the buffers be reused.
	buf := make([]byte, 65535)
	out := make([]byte, 0, dnsEDNSSize)
	var backoff time.Duration
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Warn("dns: read udp", "error", err)
			backoff = sleepBackoff(ctx, backoff)
			continue
		}
		backoff = 0
		// On a dual-stack socket an IPv4 client arrives IPv6-mapped;
		// Entered knows it by its IPv4 address.
		client := from.Addr().Unmap()
		r := d.respond(out, buf[:n], client, false)
		d.logQuery(r, client, "udp")
		if r.outcome == outcomeDropped {
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(r.msg, from); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Warn("dns: write udp", "client", client, "error", err)
		}
	}
}

// sleepBackoff waits after a socket error that is not the socket being
// closed, so that a persistent error does not spin a CPU, and returns the
// next wait.
func sleepBackoff(ctx context.Context, last time.Duration) time.Duration {
	next := min(max(2*last, 5*time.Millisecond), time.Second)
	t := time.NewTimer(next)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return next
}

// connSet tracks open TCP connections so that Serve can close them.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
}

// add tracks c and reports whether it may be served: false when the set is
// full or closed.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.m) >= dnsMaxTCPConns {
		return false
	}
	s.m[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, c)
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.m {
		c.Close()
	}
}

// serveTCP accepts connections until the listener is closed; the
// connection handlers have ended when it returns.
func (d *DNS) serveTCP(ctx context.Context, ln *net.TCPListener, conns *connSet) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// For example EMFILE: wait for descriptors to be released.
			d.log.Warn("dns: accept tcp", "error", err)
			backoff = sleepBackoff(ctx, backoff)
			continue
		}
		backoff = 0
		if !conns.add(c) {
			// Refusing beats queueing: a client whose connection closes
			// retries, one that waits in a queue times out.
			c.Close()
			continue
		}
		wg.Go(func() {
			defer conns.remove(c)
			defer c.Close()
			d.serveConn(c)
		})
	}
}

// serveConn answers the queries of one TCP connection in turn until the
// client closes it, stays idle for tcpIdle or sends a malformed query.
func (d *DNS) serveConn(c net.Conn) {
	var client netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client = ta.AddrPort().Addr().Unmap()
	}
	var prefix [2]byte
	var query, out []byte
	for {
		if err := c.SetReadDeadline(time.Now().Add(d.tcpIdle)); err != nil {
			return
		}
		if _, err := io.ReadFull(c, prefix[:]); err != nil {
			// EOF, idle timeout or closed by Serve: the normal ends.
			return
		}
		n := int(binary.BigEndian.Uint16(prefix[:]))
		if cap(query) < n {
			query = make([]byte, n)
		}
		query = query[:n]
		if _, err := io.ReadFull(c, query); err != nil {
			return
		}
		r := d.respond(out, query, client, true)
		d.logQuery(r, client, "tcp")
		if r.outcome == outcomeDropped {
			// Over a stream a malformed message may mean lost framing;
			// closing is the only way to resynchronise.
			return
		}
		out = r.msg
		binary.BigEndian.PutUint16(prefix[:], uint16(len(r.msg)))
		if err := c.SetWriteDeadline(time.Now().Add(d.tcpIdle)); err != nil {
			return
		}
		bufs := net.Buffers{prefix[:], r.msg}
		if _, err := bufs.WriteTo(c); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				d.log.Warn("dns: write tcp", "client", client, "error", err)
			}
			return
		}
	}
}

// logQuery counts and logs one query.
func (d *DNS) logQuery(r reply, client netip.Addr, network string) {
	switch r.outcome {
	case outcomeAnswered:
		inc(d.answered)
	case outcomeRefused:
		inc(d.refused)
	default:
		inc(d.dropped)
	}
	// Checked first so that a box not logging at Debug does not format
	// names at the rate of queries.
	if !d.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	if !r.hasQ {
		d.log.Debug("dns: query", "client", client, "network", network, "outcome", r.outcome)
		return
	}
	d.log.Debug("dns: query", "client", client, "network", network, "outcome", r.outcome,
		"name", r.q.Name.String(), "type", strings.TrimPrefix(r.q.Type.String(), "Type"))
}

func inc(c *metrics.Counter) {
	if c != nil {
		c.Inc()
	}
}
