package discovery

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
	"github.com/syncthing/syncthing/lib/protocol"
)

func TestSightingOf(t *testing.T) {
	instance := testID.String() + "._tiersbox._tcp.local."
	txt := txtRecord(txtInfo{ID: testID, Name: "Fablab", Version: "v1"})
	entry := func(edit func(e *mdns.ServiceEntry)) *mdns.ServiceEntry {
		e := &mdns.ServiceEntry{Name: instance, Port: 22000, InfoFields: txt, AddrV4: net.ParseIP("192.0.2.7")}
		edit(e)
		return e
	}
	v6 := func(ip, zone string) func(e *mdns.ServiceEntry) {
		return func(e *mdns.ServiceEntry) {
			e.AddrV4 = nil
			e.AddrV6IPAddr = &net.IPAddr{IP: net.ParseIP(ip), Zone: zone}
		}
	}
	tests := []struct {
		name      string
		entry     *mdns.ServiceEntry
		wantAddrs []string
		wantErr   bool
	}{
		{"IPv4", entry(func(*mdns.ServiceEntry) {}), []string{"tcp://192.0.2.7:22000"}, false},
		{"IPv4 and IPv6", entry(func(e *mdns.ServiceEntry) {
			e.AddrV6IPAddr = &net.IPAddr{IP: net.ParseIP("2001:db8::7")}
		}), []string{"tcp://192.0.2.7:22000", "tcp://[2001:db8::7]:22000"}, false},
		{"instance name in another case", entry(func(e *mdns.ServiceEntry) { e.Name = strings.ToUpper(instance) }),
			[]string{"tcp://192.0.2.7:22000"}, false},
		{"IPv6 link-local with the zone it came in on", entry(v6("fe80::7", "eth0")),
			[]string{"tcp://[fe80::7%25eth0]:22000"}, false},

		{"IPv6 link-local without zone", entry(v6("fe80::7", "")), nil, true},
		{"loopback", entry(func(e *mdns.ServiceEntry) { e.AddrV4 = net.ParseIP("127.0.0.1") }), nil, true},
		{"IPv6 loopback", entry(v6("::1", "")), nil, true},
		{"unspecified", entry(func(e *mdns.ServiceEntry) { e.AddrV4 = net.IPv4zero }), nil, true},
		{"multicast", entry(func(e *mdns.ServiceEntry) { e.AddrV4 = net.ParseIP("224.0.0.251") }), nil, true},
		{"broadcast", entry(func(e *mdns.ServiceEntry) { e.AddrV4 = net.IPv4bcast }), nil, true},
		{"IPv4 in an AAAA record", entry(v6("::ffff:192.0.2.7", "")), nil, true},
		{"another service", entry(func(e *mdns.ServiceEntry) { e.Name = "printer._ipp._tcp.local." }), nil, true},
		{"no port", entry(func(e *mdns.ServiceEntry) { e.Port = 0 }), nil, true},
		{"port out of range", entry(func(e *mdns.ServiceEntry) { e.Port = 70000 }), nil, true},
		{"no TXT", entry(func(e *mdns.ServiceEntry) { e.InfoFields = nil }), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sg, err := sightingOf(tt.entry)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if sg.info != (txtInfo{ID: testID, Name: "Fablab", Version: "v1"}) {
				t.Errorf("info %+v", sg.info)
			}
			if !slices.Equal(sg.addrs, tt.wantAddrs) {
				t.Errorf("addresses %q, want %q", sg.addrs, tt.wantAddrs)
			}
		})
	}
}

func TestTable(t *testing.T) {
	self, a, b := randomID(t), randomID(t), randomID(t)
	tb := table{self: self, peers: make(map[protocol.DeviceID]*tableEntry)}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ttl := 3 * time.Second

	if _, ok := tb.see(t0, sighting{info: txtInfo{ID: self, Name: "us"}, addrs: []string{"tcp://192.0.2.1:22000"}}); ok {
		t.Error("our own announcement was kept")
	}
	if isNew, ok := tb.see(t0, sighting{info: txtInfo{ID: a, Name: "zèbre"}, addrs: []string{"tcp://[2001:db8::2]:22000"}}); !isNew || !ok {
		t.Errorf("first sighting of a: new %v, ok %v", isNew, ok)
	}
	tb.see(t0, sighting{info: txtInfo{ID: b, Name: "Atelier"}, addrs: []string{"tcp://192.0.2.3:22000"}})

	// Seen again a second later, renamed, from another address.
	t1 := t0.Add(time.Second)
	if isNew, ok := tb.see(t1, sighting{info: txtInfo{ID: a, Name: "Abeille", Version: "v2"}, addrs: []string{"tcp://192.0.2.2:22000"}}); isNew || !ok {
		t.Errorf("second sighting of a: new %v, ok %v", isNew, ok)
	}
	got := tb.list()
	if len(got) != 2 || got[0].DeviceID != a || got[1].DeviceID != b {
		t.Fatalf("list not sorted by name, ignoring case: %+v", got)
	}
	want := Peer{DeviceID: a, Name: "Abeille", Version: "v2", LastSeen: t1,
		Addresses: []string{"tcp://192.0.2.2:22000", "tcp://[2001:db8::2]:22000"}}
	if !peerEqual(got[0], want) {
		t.Errorf("a is %+v, want %+v", got[0], want)
	}

	// Just within the lifetime of b: nothing goes.
	if gone := tb.expire(t0.Add(ttl), ttl); len(gone) != 0 {
		t.Errorf("expired too early: %+v", gone)
	}
	// Past it: b goes, and so does the first address of a.
	gone := tb.expire(t0.Add(ttl+time.Millisecond), ttl)
	if len(gone) != 1 || gone[0].DeviceID != b {
		t.Errorf("expired %+v, want b", gone)
	}
	if got := tb.list(); len(got) != 1 || !slices.Equal(got[0].Addresses, []string{"tcp://192.0.2.2:22000"}) {
		t.Errorf("after expiry: %+v", got)
	}
	// The copy handed out is the caller's.
	got = tb.list()
	got[0].Addresses[0] = "changed"
	if tb.list()[0].Addresses[0] == "changed" {
		t.Error("list shares addresses with the table")
	}
}

func TestTableSameNameSortsByDeviceID(t *testing.T) {
	tb := table{peers: make(map[protocol.DeviceID]*tableEntry)}
	now := time.Now()
	for range 5 {
		tb.see(now, sighting{info: txtInfo{ID: randomID(t), Name: "Fablab"}, addrs: []string{"tcp://192.0.2.1:1"}})
	}
	got := tb.list()
	if !slices.IsSortedFunc(got, func(a, b Peer) int { return a.DeviceID.Compare(b.DeviceID) }) {
		t.Errorf("not sorted by device ID: %v", got)
	}
}

func TestTableIsBounded(t *testing.T) {
	tb := table{peers: make(map[protocol.DeviceID]*tableEntry)}
	now := time.Now()
	for range maxPeers + 10 {
		tb.see(now, sighting{info: txtInfo{ID: randomID(t)}, addrs: []string{"tcp://192.0.2.1:1"}})
	}
	if n := len(tb.list()); n != maxPeers {
		t.Errorf("%d peers kept, want %d", n, maxPeers)
	}
}

func peerEqual(a, b Peer) bool {
	return a.DeviceID == b.DeviceID && a.Name == b.Name && a.Version == b.Version &&
		a.LastSeen.Equal(b.LastSeen) && slices.Equal(a.Addresses, b.Addresses)
}

func TestRunRefusesBadOptions(t *testing.T) {
	good := Options{DeviceID: testID, Port: 22000}
	for name, edit := range map[string]func(*Options){
		"no device ID":      func(o *Options) { o.DeviceID = protocol.EmptyDeviceID },
		"no port":           func(o *Options) { o.Port = 0 },
		"port too high":     func(o *Options) { o.Port = 65536 },
		"negative interval": func(o *Options) { o.Interval = -time.Second },
		"empty interface":   func(o *Options) { o.Interfaces = []string{"eth0", ""} },
	} {
		o := good
		edit(&o)
		if s, err := Run(t.Context(), o); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRunWithoutNetwork starts the service on an interface that does not
// exist: it must warn once, keep trying, and stop cleanly both ways,
// leaving no goroutine behind. No packet is sent.
func TestRunWithoutNetwork(t *testing.T) {
	before := runtime.NumGoroutine()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ctx, cancel := context.WithCancel(t.Context())
	s, err := Run(ctx, Options{
		DeviceID: testID, Port: 22000, Interfaces: []string{"tbd-missing0"},
		Interval: 10 * time.Millisecond, Logger: logger,
		OnPeer: func(p Peer) { t.Errorf("peer %v on no network", p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if peers := s.Peers(); len(peers) != 0 {
		t.Errorf("peers on no network: %v", peers)
	}
	cancel()
	// Close after the context ended still waits and returns.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "interface=tbd-missing0") {
		t.Errorf("want one warning naming the interface, got:\n%s", out)
	}
	// Goroutines of the runtime and the testing package may come and go:
	// give them a moment, then compare.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// syncBuffer is a bytes.Buffer safe for the service's goroutine to log to
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
