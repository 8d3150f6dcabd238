package captive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"tiersbox/box/metrics"
)

var (
	testPortal  = netip.MustParseAddr("10.42.0.1")
	testVisitor = netip.MustParseAddr("10.42.0.7") // has entered the portal
	testOther   = netip.MustParseAddr("10.42.0.8") // has not
)

func testEntered(client netip.Addr) bool { return client == testVisitor }

func newTestDNS(t testing.TB, opts DNSOptions) *DNS {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if !opts.Answer.IsValid() {
		opts.Answer = testPortal
	}
	d, err := NewDNS(opts)
	if err != nil {
		t.Fatalf("NewDNS: %v", err)
	}
	return d
}

// queryOpts describe a query built by makeQuery.
type queryOpts struct {
	id     uint16
	rd     bool
	opcode dnsmessage.OpCode
	class  dnsmessage.Class // ClassINET when 0
	edns   bool
	size   int    // EDNS UDP payload size, 1232 when 0
	do     bool   // EDNS DNSSEC OK
	ver    uint32 // EDNS version
}

func makeQuery(t testing.TB, name string, typ dnsmessage.Type, o queryOpts) []byte {
	t.Helper()
	if o.class == 0 {
		o.class = dnsmessage.ClassINET
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: o.id, RecursionDesired: o.rd, OpCode: o.opcode})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		t.Fatalf("name %q: %v", name, err)
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: typ, Class: o.class}); err != nil {
		t.Fatal(err)
	}
	if o.edns {
		if err := b.StartAdditionals(); err != nil {
			t.Fatal(err)
		}
		if o.size == 0 {
			o.size = 1232
		}
		var h dnsmessage.ResourceHeader
		if err := h.SetEDNS0(o.size, dnsmessage.RCodeSuccess, o.do); err != nil {
			t.Fatal(err)
		}
		h.TTL |= o.ver << 16
		if err := b.OPTResource(h, dnsmessage.OPTResource{}); err != nil {
			t.Fatal(err)
		}
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// rawHeader returns a 12-byte DNS header.
func rawHeader(id, flags, qd, an, ns, ar uint16) []byte {
	h := make([]byte, 12)
	for i, v := range []uint16{id, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(h[2*i:], v)
	}
	return h
}

// typeAIN is QTYPE A, QCLASS IN on the wire.
var typeAIN = []byte{0, 1, 0, 1}

// longName returns n labels of 63 'a' in wire form, without the root
// label that ends a name.
func longName(n int) []byte {
	var b []byte
	for range n {
		b = append(b, 63)
		b = append(b, bytes.Repeat([]byte("a"), 63)...)
	}
	return b
}

func concat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// want describes the expected reply to a query.
type want struct {
	drop    bool
	rcode   dnsmessage.RCode // header RCODE
	ext     dnsmessage.RCode // extended RCODE from OPT, when opt
	answers []netip.Addr     // in order
	opt     bool
	do      bool
	aa      bool
	rd      bool
	tc      bool
	cd      bool
	noQ     bool // no question echoed
}

func TestDNSRespond(t *testing.T) {
	ncsi := netip.MustParseAddr("131.107.255.255")
	ncsi6 := netip.MustParseAddr("fd3e:4f5a:5b81::1")
	A, AAAA := dnsmessage.TypeA, dnsmessage.TypeAAAA

	junk := make([]byte, 300)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	// Junk, but after the header of a query with one question, so that
	// it is the question that fails to parse.
	copy(junk, rawHeader(0x1234, 0x0100, 1, 0, 0, 0))
	// Junk whose header claims thousands of questions.
	junkCounts := slices.Clone(junk)
	binary.BigEndian.PutUint16(junkCounts[4:], 0x2a2a)
	// A header of a plain query (RD) that claims one question.
	q1 := rawHeader(0x1234, 0x0100, 1, 0, 0, 0)
	twoOPT := concat(rawHeader(7, 0, 1, 0, 0, 2), []byte{3, 'f', 'o', 'o', 0}, typeAIN,
		[]byte{0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0},
		[]byte{0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0})

	tests := []struct {
		name   string
		query  []byte
		client netip.Addr
		want   want
	}{
		{"A random name", makeQuery(t, "example.com.", A, queryOpts{id: 1, rd: true}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true, rd: true}},
		{"A apple probe", makeQuery(t, "captive.apple.com.", A, queryOpts{id: 2}), testVisitor,
			want{answers: []netip.Addr{testPortal}, aa: true}},
		{"A android probe", makeQuery(t, "connectivitycheck.gstatic.com.", A, queryOpts{id: 3, rd: true}), testVisitor,
			want{answers: []netip.Addr{testPortal}, aa: true, rd: true}},
		{"A single label", makeQuery(t, "box.", A, queryOpts{rd: true}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true, rd: true}},
		{"A root", makeQuery(t, ".", A, queryOpts{}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true}},
		{"A longest name", concat(q1, longName(3), []byte{61}, bytes.Repeat([]byte("b"), 61), []byte{0}, typeAIN), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true, rd: true}},
		{"A class CH empty", makeQuery(t, "version.bind.", A, queryOpts{class: dnsmessage.ClassCHAOS}), testOther,
			want{aa: true}},
		{"AAAA empty", makeQuery(t, "example.com.", AAAA, queryOpts{rd: true}), testOther,
			want{aa: true, rd: true}},
		{"HTTPS empty", makeQuery(t, "example.com.", dnsmessage.TypeHTTPS, queryOpts{rd: true}), testOther,
			want{aa: true, rd: true}},
		{"SVCB empty", makeQuery(t, "_dns.resolver.arpa.", dnsmessage.TypeSVCB, queryOpts{}), testOther,
			want{aa: true}},
		{"MX empty", makeQuery(t, "example.com.", dnsmessage.TypeMX, queryOpts{}), testOther, want{aa: true}},
		{"TXT empty", makeQuery(t, "example.com.", dnsmessage.TypeTXT, queryOpts{}), testOther, want{aa: true}},
		{"PTR empty", makeQuery(t, "1.0.42.10.in-addr.arpa.", dnsmessage.TypePTR, queryOpts{}), testOther, want{aa: true}},
		{"ANY empty", makeQuery(t, "example.com.", dnsmessage.TypeALL, queryOpts{}), testOther, want{aa: true}},

		{"ncsi A before entering", makeQuery(t, "dns.msftncsi.com.", A, queryOpts{rd: true}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true, rd: true}},
		{"ncsi AAAA before entering", makeQuery(t, "dns.msftncsi.com.", AAAA, queryOpts{rd: true}), testOther,
			want{aa: true, rd: true}},
		{"ncsi A after entering", makeQuery(t, "dns.msftncsi.com.", A, queryOpts{rd: true}), testVisitor,
			want{answers: []netip.Addr{ncsi}, aa: true, rd: true}},
		{"ncsi AAAA after entering", makeQuery(t, "dns.msftncsi.com.", AAAA, queryOpts{rd: true}), testVisitor,
			want{answers: []netip.Addr{ncsi6}, aa: true, rd: true}},
		{"ncsi mixed case after entering", makeQuery(t, "DNS.MsftNCSI.com.", A, queryOpts{}), testVisitor,
			want{answers: []netip.Addr{ncsi}, aa: true}},
		{"msftconnecttest after entering", makeQuery(t, "dns.msftconnecttest.com.", A, queryOpts{}), testVisitor,
			want{answers: []netip.Addr{ncsi}, aa: true}},
		{"msftconnecttest AAAA after entering", makeQuery(t, "Dns.MsftConnectTest.COM.", AAAA, queryOpts{}), testVisitor,
			want{answers: []netip.Addr{ncsi6}, aa: true}},
		{"msftconnecttest before entering", makeQuery(t, "dns.msftconnecttest.com.", A, queryOpts{}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true}},
		{"ncsi HTTPS after entering", makeQuery(t, "dns.msftncsi.com.", dnsmessage.TypeHTTPS, queryOpts{}), testVisitor,
			want{aa: true}},
		{"ncsi lookalike", makeQuery(t, "dns.msftncsi.com.evil.", A, queryOpts{}), testVisitor,
			want{answers: []netip.Addr{testPortal}, aa: true}},
		{"www.msftconnecttest.com is not the DNS probe", makeQuery(t, "www.msftconnecttest.com.", A, queryOpts{}), testVisitor,
			want{answers: []netip.Addr{testPortal}, aa: true}},

		{"EDNS", makeQuery(t, "example.com.", A, queryOpts{rd: true, edns: true}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true, rd: true, opt: true}},
		{"EDNS DO copied", makeQuery(t, "example.com.", AAAA, queryOpts{edns: true, do: true, size: 4096}), testOther,
			want{aa: true, opt: true, do: true}},
		{"EDNS small size", makeQuery(t, "example.com.", A, queryOpts{edns: true, size: 100}), testOther,
			want{answers: []netip.Addr{testPortal}, aa: true, opt: true}},
		{"EDNS version 1 is BADVERS", makeQuery(t, "example.com.", A, queryOpts{edns: true, ver: 1}), testOther,
			want{ext: 16, opt: true}},
		{"two OPT records", twoOPT, testOther, want{rcode: dnsmessage.RCodeFormatError}},

		{"CD copied, AD not", func() []byte {
			q := makeQuery(t, "example.com.", A, queryOpts{id: 0xBEEF, edns: true, do: true})
			q[3] |= 0x30 // AD and CD
			return q
		}(), testOther, want{answers: []netip.Addr{testPortal}, aa: true, opt: true, do: true, cd: true}},
		{"opcode STATUS", makeQuery(t, "example.com.", A, queryOpts{opcode: 2, rd: true}), testOther,
			want{rcode: dnsmessage.RCodeNotImplemented, rd: true}},
		{"opcode NOTIFY", makeQuery(t, "example.com.", dnsmessage.TypeSOA, queryOpts{opcode: 4}), testOther,
			want{rcode: dnsmessage.RCodeNotImplemented}},
		{"QDCOUNT 0", rawHeader(9, 0x0100, 0, 0, 0, 0), testOther,
			want{rcode: dnsmessage.RCodeFormatError, rd: true, noQ: true}},
		{"QDCOUNT 2", concat(rawHeader(9, 0, 2, 0, 0, 0), []byte{1, 'a', 0}, typeAIN, []byte{1, 'b', 0}, typeAIN), testOther,
			want{rcode: dnsmessage.RCodeFormatError, noQ: true}},

		{"empty", nil, testOther, want{drop: true}},
		{"11 bytes", make([]byte, 11), testOther, want{drop: true}},
		{"header only claiming a question", q1, testOther, want{drop: true}},
		{"random junk", junk, testOther, want{drop: true}},
		{"random junk with many questions", junkCounts, testOther,
			want{rcode: dnsmessage.RCodeFormatError, rd: true, noQ: true}},
		{"QR set", func() []byte {
			q := makeQuery(t, "example.com.", A, queryOpts{})
			q[2] |= 0x80
			return q
		}(), testOther, want{drop: true}},
		{"TC set", func() []byte {
			q := makeQuery(t, "example.com.", A, queryOpts{})
			q[2] |= 0x02
			return q
		}(), testOther, want{drop: true}},
		{"question cut short", makeQuery(t, "example.com.", A, queryOpts{})[:20], testOther, want{drop: true}},
		{"type cut short", makeQuery(t, "example.com.", A, queryOpts{})[:27], testOther, want{drop: true}},
		{"compression pointer loop", concat(q1, []byte{0xC0, 12}, typeAIN), testOther, want{drop: true}},
		{"compression pointer pair loop", concat(q1, []byte{1, 'a', 0xC0, 14, 0xC0, 12}, typeAIN), testOther, want{drop: true}},
		{"compression pointer out of message", concat(q1, []byte{0xC0, 0xFF}, typeAIN), testOther, want{drop: true}},
		{"label of 64 bytes", concat(q1, []byte{64}, bytes.Repeat([]byte("a"), 64), []byte{0}, typeAIN), testOther, want{drop: true}},
		{"reserved label type 0x80", concat(q1, []byte{0x80, 'a', 0}, typeAIN), testOther, want{drop: true}},
		{"name over 255 bytes", concat(q1, longName(5), []byte{0}, typeAIN), testOther, want{drop: true}},
		{"dot inside a label", concat(q1, []byte{3, 'a', '.', 'b', 0}, typeAIN), testOther, want{drop: true}},
		{"OPT cut short", makeQuery(t, "example.com.", A, queryOpts{edns: true})[:35], testOther, want{drop: true}},
		{"additional count too high", concat(rawHeader(7, 0, 1, 0, 0, 3), []byte{1, 'a', 0}, typeAIN), testOther, want{drop: true}},
	}

	d := newTestDNS(t, DNSOptions{Entered: testEntered})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query := slices.Clone(tt.query)
			resp, ok := d.Respond(query, tt.client)
			if !bytes.Equal(query, tt.query) {
				t.Fatal("Respond modified the query")
			}
			if ok == tt.want.drop {
				t.Fatalf("ok = %v, want %v", ok, !tt.want.drop)
			}
			if !ok {
				if resp != nil {
					t.Errorf("dropped, but resp = %x", resp)
				}
				return
			}
			checkReply(t, tt.query, resp, tt.want)
		})
	}
}

// checkReply checks resp against query and w.
func checkReply(t *testing.T, query, resp []byte, w want) {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("reply does not parse: %v\n%x", err, resp)
	}
	if len(resp) > 512 && !w.opt {
		t.Errorf("reply is %d bytes, over 512 without EDNS", len(resp))
	}
	h := m.Header
	if !h.Response || h.ID != binary.BigEndian.Uint16(query) {
		t.Errorf("header: response %v id %#x, want a response with id %#x", h.Response, h.ID, binary.BigEndian.Uint16(query))
	}
	if h.RCode != w.rcode || h.Authoritative != w.aa || h.RecursionDesired != w.rd || h.Truncated != w.tc ||
		h.CheckingDisabled != w.cd || !h.RecursionAvailable || h.AuthenticData {
		t.Errorf("header = %+v, want rcode %v aa %v rd %v tc %v cd %v ra", h, w.rcode, w.aa, w.rd, w.tc, w.cd)
	}

	// The question comes back byte for byte, case included.
	if w.noQ {
		if len(m.Questions) != 0 {
			t.Errorf("questions = %v, want none", m.Questions)
		}
	} else {
		var p dnsmessage.Parser
		if _, err := p.Start(query); err != nil {
			t.Fatal(err)
		}
		q, err := p.Question()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Questions) != 1 || m.Questions[0] != q {
			t.Fatalf("questions = %v, want [%v]", m.Questions, q)
		}
		for _, a := range m.Answers {
			if a.Header.Name != q.Name {
				t.Errorf("answer name %q, want %q", a.Header.Name, q.Name)
			}
		}
	}

	var got []netip.Addr
	for _, a := range m.Answers {
		if a.Header.TTL != dnsTTL || a.Header.Class != dnsmessage.ClassINET {
			t.Errorf("answer header %v, want TTL %d class IN", a.Header, dnsTTL)
		}
		switch b := a.Body.(type) {
		case *dnsmessage.AResource:
			got = append(got, netip.AddrFrom4(b.A))
		case *dnsmessage.AAAAResource:
			got = append(got, netip.AddrFrom16(b.AAAA))
		default:
			t.Errorf("unexpected answer %v", a)
		}
	}
	if !slices.Equal(got, w.answers) {
		t.Errorf("answers = %v, want %v", got, w.answers)
	}
	if len(m.Authorities) != 0 {
		t.Errorf("authorities = %v, want none", m.Authorities)
	}

	var opts []dnsmessage.Resource
	for _, a := range m.Additionals {
		if a.Header.Type == dnsmessage.TypeOPT {
			opts = append(opts, a)
		}
	}
	if !w.opt {
		if len(m.Additionals) != 0 {
			t.Errorf("additionals = %v, want none", m.Additionals)
		}
		return
	}
	if len(opts) != 1 || len(m.Additionals) != 1 {
		t.Fatalf("additionals = %v, want one OPT", m.Additionals)
	}
	oh := opts[0].Header
	if oh.Class != dnsEDNSSize || oh.DNSSECAllowed() != w.do || oh.ExtendedRCode(h.RCode) != w.ext || oh.TTL>>16&0xff != 0 {
		t.Errorf("OPT = %v, want size %d do %v rcode %v version 0", oh, dnsEDNSSize, w.do, w.ext)
	}
}

func TestDNSRespondTruncates(t *testing.T) {
	d := newTestDNS(t, DNSOptions{})
	d.udpLimit = 40 // less than one answer costs after a 26-byte question
	query := makeQuery(t, "a-rather-long-name.example.", dnsmessage.TypeA, queryOpts{id: 5, rd: true})
	resp, ok := d.Respond(query, testOther)
	if !ok {
		t.Fatal("dropped")
	}
	checkReply(t, query, resp, want{aa: true, rd: true, tc: true})

	// The same over TCP is not limited.
	r := d.respond(nil, query, testOther, true)
	checkReply(t, query, r.msg, want{aa: true, rd: true, answers: []netip.Addr{testPortal}})

	// EDNS raises the UDP limit to the client's size, at most 1232.
	query = makeQuery(t, "a-rather-long-name.example.", dnsmessage.TypeA, queryOpts{edns: true, size: 4096})
	resp, _ = d.Respond(query, testOther)
	checkReply(t, query, resp, want{aa: true, opt: true, answers: []netip.Addr{testPortal}})
	// A client size between the (lowered) minimum and the reply's size
	// still truncates: the client's size is the limit, not ours.
	query = makeQuery(t, "a-rather-long-name.example.", dnsmessage.TypeA, queryOpts{edns: true, size: 60})
	resp, _ = d.Respond(query, testOther)
	checkReply(t, query, resp, want{aa: true, opt: true, tc: true})
}

func TestNewDNS(t *testing.T) {
	tests := []struct {
		name string
		opts DNSOptions
		ok   bool
	}{
		{"valid", DNSOptions{Addr: "127.0.0.1:0", Answer: testPortal}, true},
		{"all interfaces", DNSOptions{Addr: ":53", Answer: testPortal}, true},
		{"mapped IPv4", DNSOptions{Addr: ":53", Answer: netip.MustParseAddr("::ffff:10.42.0.1")}, true},
		{"no answer", DNSOptions{Addr: ":53"}, false},
		{"IPv6 answer", DNSOptions{Addr: ":53", Answer: netip.MustParseAddr("fd00::1")}, false},
		{"no address", DNSOptions{Answer: testPortal}, false},
		{"no port", DNSOptions{Addr: "127.0.0.1", Answer: testPortal}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDNS(tt.opts)
			if (err == nil) != tt.ok {
				t.Errorf("NewDNS(%+v) error = %v, want ok %v", tt.opts, err, tt.ok)
			}
		})
	}
}

// lockedBuffer is a log destination shared by the server and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDNS runs a responder on 127.0.0.1 and returns it with a function
// that stops it and returns how long Serve took to return. The responder is
// stopped at the end of the test in any case.
func startDNS(t *testing.T, d *DNS) (stop func() time.Duration) {
	t.Helper()
	if err := d.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve returned %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Serve did not return 5s after cancel")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

func testResolver(addr netip.AddrPort, network string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, nw, _ string) (net.Conn, error) {
			if network != "" {
				nw = network
			}
			var d net.Dialer
			return d.DialContext(ctx, nw, addr.String())
		},
	}
}

func TestDNSServeResolver(t *testing.T) {
	logs := new(lockedBuffer)
	queries := new(metrics.CounterVec)
	d := newTestDNS(t, DNSOptions{
		Queries: queries,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	stop := startDNS(t, d)
	addr := d.LocalAddr()
	if addr.Addr() != netip.MustParseAddr("127.0.0.1") || addr.Port() == 0 {
		t.Fatalf("LocalAddr = %v, want 127.0.0.1 and a port", addr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// "" lets the Go resolver use UDP; "tcp" forces TCP, which it frames
	// with the length prefix.
	for _, network := range []string{"", "tcp"} {
		r := testResolver(addr, network)
		ips, err := r.LookupNetIP(ctx, "ip4", "anything.example.org.")
		if err != nil {
			t.Fatalf("LookupNetIP over %q: %v", network, err)
		}
		if !slices.Equal(ips, []netip.Addr{testPortal}) {
			t.Errorf("LookupNetIP over %q = %v, want [%v]", network, ips, testPortal)
		}
		// LookupHost asks A and AAAA: the empty AAAA must not fail it.
		hosts, err := r.LookupHost(ctx, "Some-Phone-Probe.example.")
		if err != nil {
			t.Fatalf("LookupHost over %q: %v", network, err)
		}
		if !slices.Equal(hosts, []string{testPortal.String()}) {
			t.Errorf("LookupHost over %q = %v, want [%v]", network, hosts, testPortal)
		}
	}

	stop()
	if n := queries.With(outcomeAnswered).Value(); n < 6 {
		t.Errorf("answered = %d, want at least 6", n)
	}
	log := logs.String()
	for _, s := range []string{"client=127.0.0.1", "name=anything.example.org.", "type=AAAA", "name=Some-Phone-Probe.example."} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}

// tcpExchange writes each query with its length prefix in one write, then
// reads as many replies.
func tcpExchange(t *testing.T, c net.Conn, queries ...[]byte) [][]byte {
	t.Helper()
	var out []byte
	for _, q := range queries {
		out = binary.BigEndian.AppendUint16(out, uint16(len(q)))
		out = append(out, q...)
	}
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatalf("write: %v", err)
	}
	var replies [][]byte
	for range queries {
		var prefix [2]byte
		if _, err := io.ReadFull(c, prefix[:]); err != nil {
			t.Fatalf("read length: %v", err)
		}
		resp := make([]byte, binary.BigEndian.Uint16(prefix[:]))
		if _, err := io.ReadFull(c, resp); err != nil {
			t.Fatalf("read reply: %v", err)
		}
		replies = append(replies, resp)
	}
	return replies
}

func TestDNSServeTCP(t *testing.T) {
	d := newTestDNS(t, DNSOptions{Entered: testEntered})
	startDNS(t, d)
	c, err := net.Dial("tcp", d.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	q1 := makeQuery(t, "first.example.", dnsmessage.TypeA, queryOpts{id: 1, rd: true})
	q2 := makeQuery(t, "Second.Example.", dnsmessage.TypeAAAA, queryOpts{id: 2, rd: true, edns: true})
	q3 := makeQuery(t, "dns.msftncsi.com.", dnsmessage.TypeA, queryOpts{id: 3})
	// One after the other on the same connection...
	r := tcpExchange(t, c, q1)
	checkReply(t, q1, r[0], want{answers: []netip.Addr{testPortal}, aa: true, rd: true})
	r = tcpExchange(t, c, q2)
	checkReply(t, q2, r[0], want{aa: true, rd: true, opt: true})
	// ...then pipelined in one write: replies come in order.
	r = tcpExchange(t, c, q3, q1)
	checkReply(t, q3, r[0], want{answers: []netip.Addr{testPortal}, aa: true}) // 127.0.0.1 has not entered
	checkReply(t, q1, r[1], want{answers: []netip.Addr{testPortal}, aa: true, rd: true})

	// A malformed message closes the connection: framing may be lost.
	if _, err := c.Write([]byte{0, 3, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after a malformed query")
	}
}

func TestDNSServeTCPIdle(t *testing.T) {
	d := newTestDNS(t, DNSOptions{})
	d.tcpIdle = 200 * time.Millisecond
	startDNS(t, d)
	c, err := net.Dial("tcp", d.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := makeQuery(t, "example.", dnsmessage.TypeA, queryOpts{})
	tcpExchange(t, c, q)

	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle read: %v, want EOF", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("idle connection closed after %v", took)
	}
}

func TestDNSServeTCPMaxConns(t *testing.T) {
	d := newTestDNS(t, DNSOptions{})
	startDNS(t, d)
	addr := d.LocalAddr().String()
	q := makeQuery(t, "example.", dnsmessage.TypeA, queryOpts{})

	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for i := range dnsMaxTCPConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		open = append(open, c)
		tcpExchange(t, c, q) // answered, so counted by the server
	}
	// One more is closed at once.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection %d: read %v, want it closed", dnsMaxTCPConns+1, err)
	}

	// Once one closes, a new one is served.
	open[0].Close()
	open = open[1:]
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		c.SetDeadline(time.Now().Add(time.Second))
		var prefix [2]byte
		_, err = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...))
		if err == nil {
			_, err = io.ReadFull(c, prefix[:])
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // the server has not seen the close yet
	}
}

func TestDNSServeJunk(t *testing.T) {
	queries := new(metrics.CounterVec)
	d := newTestDNS(t, DNSOptions{Queries: queries})
	startDNS(t, d)
	c, err := net.Dial("udp", d.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	rng := rand.New(rand.NewPCG(3, 4))
	junk := [][]byte{
		{},
		{0},
		make([]byte, 11),
		concat(rawHeader(1, 0x8000, 1, 0, 0, 0), []byte{0}, typeAIN), // a response
		concat(rawHeader(1, 0, 1, 0, 0, 0), []byte{0xC0, 12}, typeAIN),
		bytes.Repeat([]byte{0xff}, 65507), // the largest UDP payload over IPv4
	}
	for range 20 {
		j := make([]byte, rng.IntN(600))
		for i := range j {
			j[i] = byte(rng.Uint32())
		}
		j[2] |= 0x80 // QR: a response, so dropped whatever else it holds
		junk = append(junk, j)
	}
	for _, j := range junk {
		if _, err := c.Write(j); err != nil {
			t.Fatalf("write junk: %v", err)
		}
	}
	// A refused query, then one answered: junk did not stop the loop.
	formerr := rawHeader(2, 0, 0, 0, 0, 0)
	good := makeQuery(t, "still-there.example.", dnsmessage.TypeA, queryOpts{id: 3, rd: true})
	for _, q := range [][]byte{formerr, good} {
		if _, err := c.Write(q); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read FORMERR: %v", err)
	}
	checkReply(t, formerr, buf[:n], want{rcode: dnsmessage.RCodeFormatError, noQ: true})
	n, err = c.Read(buf)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	checkReply(t, good, buf[:n], want{answers: []netip.Addr{testPortal}, aa: true, rd: true})

	// One goroutine answers datagrams in order, so every junk datagram
	// has been counted once the answer is read.
	for label, want := range map[string]uint64{outcomeDropped: uint64(len(junk)), outcomeRefused: 1, outcomeAnswered: 1} {
		if got := queries.With(label).Value(); got != want {
			t.Errorf("%s = %d, want %d", label, got, want)
		}
	}
}

func TestDNSServeStops(t *testing.T) {
	d := newTestDNS(t, DNSOptions{})
	stop := startDNS(t, d)
	addr := d.LocalAddr().String()

	// An open, idle TCP connection must not hold Serve for its idle
	// timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := makeQuery(t, "example.", dnsmessage.TypeA, queryOpts{})
	tcpExchange(t, c, q)

	if took := stop(); took > time.Second {
		t.Errorf("Serve took %v to return", took)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("TCP connection still open after Serve returned")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("TCP port still accepts connections after Serve returned")
	}
	// The UDP port is free again: binding it succeeds.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Errorf("UDP port still bound after Serve returned: %v", err)
	} else {
		pc.Close()
	}
}

func TestDNSListenTwice(t *testing.T) {
	d := newTestDNS(t, DNSOptions{})
	if got := d.LocalAddr(); got.IsValid() {
		t.Errorf("LocalAddr before Listen = %v, want zero", got)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err == nil {
		t.Error("second Listen succeeded")
	}
	// A second responder cannot take the same port.
	d2 := newTestDNS(t, DNSOptions{Addr: d.LocalAddr().String()})
	if err := d2.Listen(); err == nil {
		t.Error("Listen on a used port succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Serve(ctx); err != nil { // closes the sockets
		t.Errorf("Serve: %v", err)
	}
}

// FuzzDNSRespond checks that whatever a client sends, a reply that is sent
// is a well-formed response to that query.
func FuzzDNSRespond(f *testing.F) {
	A := dnsmessage.TypeA
	seeds := [][]byte{
		makeQuery(f, "example.com.", A, queryOpts{id: 1, rd: true}),
		makeQuery(f, "ExAmPlE.CoM.", dnsmessage.TypeAAAA, queryOpts{id: 2}),
		makeQuery(f, "example.com.", dnsmessage.TypeHTTPS, queryOpts{edns: true, do: true}),
		makeQuery(f, "dns.msftncsi.com.", A, queryOpts{}),
		makeQuery(f, "dns.msftconnecttest.com.", dnsmessage.TypeAAAA, queryOpts{edns: true, size: 512}),
		makeQuery(f, "example.", A, queryOpts{edns: true, ver: 1}),
		makeQuery(f, "example.", A, queryOpts{opcode: 5}),
		concat(rawHeader(1, 0, 1, 0, 0, 0), longName(3), []byte{61}, bytes.Repeat([]byte("b"), 61), []byte{0}, typeAIN),
		concat(rawHeader(1, 0, 1, 0, 0, 0), []byte{0xC0, 12}, typeAIN),
		concat(rawHeader(1, 0, 2, 0, 0, 0), []byte{1, 'a', 0}, typeAIN, []byte{0xC0, 12}, typeAIN),
		rawHeader(1, 0, 0, 0, 0, 0),
		{},
		make([]byte, 11),
		[]byte("\x00\x01\x80\x00junk junk junk"),
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	dnsPlain := newTestDNS(f, DNSOptions{})
	dnsEntered := newTestDNS(f, DNSOptions{Entered: func(netip.Addr) bool { return true }})

	f.Fuzz(func(t *testing.T, query []byte, entered bool) {
		d := dnsPlain
		if entered {
			d = dnsEntered
		}
		orig := slices.Clone(query)
		resp, ok := d.Respond(query, testVisitor)
		if !bytes.Equal(query, orig) {
			t.Fatal("Respond modified the query")
		}
		if !ok {
			return
		}

		var p dnsmessage.Parser
		qh, err := p.Start(query)
		if err != nil {
			t.Fatalf("replied to a query whose header does not parse: %v", err)
		}
		var m dnsmessage.Message
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("reply does not parse: %v\n%x", err, resp)
		}
		if !m.Header.Response || m.Header.ID != qh.ID || m.Header.OpCode != qh.OpCode {
			t.Fatalf("reply header %+v to query header %+v", m.Header, qh)
		}

		// Exactly one parseable question: it is echoed as received.
		if binary.BigEndian.Uint16(query[4:6]) == 1 {
			q, err := p.Question()
			if err == nil && (len(m.Questions) != 1 || m.Questions[0] != q) {
				t.Fatalf("questions %v, want [%v]", m.Questions, q)
			}
		}

		queryEDNS := false
		if p.SkipAllQuestions() == nil && p.SkipAllAnswers() == nil && p.SkipAllAuthorities() == nil {
			for {
				h, err := p.AdditionalHeader()
				if err != nil {
					break
				}
				queryEDNS = queryEDNS || h.Type == dnsmessage.TypeOPT
				if p.SkipAdditional() != nil {
					break
				}
			}
		}
		if len(resp) > 512 && !queryEDNS {
			t.Fatalf("reply of %d bytes to a query without EDNS", len(resp))
		}
		if len(resp) > dnsEDNSSize {
			t.Fatalf("reply of %d bytes over UDP", len(resp))
		}

		// An answered A query for class IN gets the portal address (or,
		// once entered, the NCSI address for Windows' probe).
		rcode := m.Header.RCode
		for _, a := range m.Additionals {
			if a.Header.Type == dnsmessage.TypeOPT {
				rcode = a.Header.ExtendedRCode(rcode)
			}
		}
		if rcode == dnsmessage.RCodeSuccess && len(m.Questions) == 1 &&
			m.Questions[0].Type == dnsmessage.TypeA && m.Questions[0].Class == dnsmessage.ClassINET && !m.Header.Truncated {
			if len(m.Answers) != 1 {
				t.Fatalf("answers %v to an A query", m.Answers)
			}
			a, isA := m.Answers[0].Body.(*dnsmessage.AResource)
			if !isA || (a.A != testPortal.As4() && !(entered && isNCSI(m.Questions[0].Name))) {
				t.Fatalf("answer %v to an A query", m.Answers[0])
			}
		}
	})
}

func BenchmarkDNSRespond(b *testing.B) {
	d := newTestDNS(b, DNSOptions{})
	query := makeQuery(b, "connectivitycheck.gstatic.com.", dnsmessage.TypeA, queryOpts{id: 1, rd: true, edns: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := d.Respond(query, testOther); !ok {
			b.Fatal("dropped")
		}
	}
}

func BenchmarkDNSUDP(b *testing.B) {
	d := newTestDNS(b, DNSOptions{})
	if err := d.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	c, err := net.Dial("udp", d.LocalAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	query := makeQuery(b, "connectivitycheck.gstatic.com.", dnsmessage.TypeA, queryOpts{id: 1, rd: true, edns: true})
	buf := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(query); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
