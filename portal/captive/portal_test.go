package captive

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"tiersbox/box/metrics"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
)

// fakeVisitors says a client has entered when its address is in the map.
type fakeVisitors map[netip.Addr]visitor.Visitor

func (f fakeVisitors) ByClient(addr netip.Addr, mac string) (visitor.Visitor, error) {
	if v, ok := f[addr]; ok {
		return v, nil
	}
	return visitor.Visitor{}, visitor.ErrNotFound
}

var (
	now      = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	outside  = netip.MustParseAddr("10.42.0.20")
	insider  = netip.MustParseAddr("10.42.0.21")
	visitors = fakeVisitors{insider: {ID: "x", Nickname: "Ana", Expires: now.Add(90 * time.Minute)}}
)

func newTestPortal(t *testing.T, probes *metrics.CounterVec) *Portal {
	t.Helper()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "box page "+r.URL.Path)
	})
	p, err := NewPortal(PortalOptions{
		URL: "http://tiers.box", Hostnames: []string{"tiers.local"},
		Visitors: visitors, Next: next, Probes: probes,
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func do(p http.Handler, client netip.Addr, method, url string) *http.Response {
	r := httptest.NewRequest(method, url, nil)
	r.RemoteAddr = netip.AddrPortFrom(client, 50000).String()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w.Result()
}

// TestProbes checks each system's check before and after entering.
func TestProbes(t *testing.T) {
	tests := []struct {
		url        string
		wantStatus int
		wantBody   string
		wantHeader string // X-NetworkManager-Status
	}{
		{"http://captive.apple.com/hotspot-detect.html", 200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n", ""},
		{"http://www.apple.com/library/test/success.html", 200, "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>\n", ""},
		{"http://connectivitycheck.gstatic.com/generate_204", 204, "", ""},
		{"http://www.google.com/gen_204", 204, "", ""},
		{"http://clients3.google.com/generate_204", 204, "", ""},
		{"http://connect.rom.miui.com/generate_204", 204, "", ""},
		{"http://www.msftconnecttest.com/connecttest.txt", 200, "Microsoft Connect Test", ""},
		{"http://www.msftncsi.com/ncsi.txt", 200, "Microsoft NCSI", ""},
		{"http://detectportal.firefox.com/canonical.html", 200, `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>` + "\n", ""},
		{"http://detectportal.firefox.com/success.txt?ipv4", 200, "success\n", ""},
		{"http://network-test.debian.org/nm", 200, "NetworkManager is online\n", "online"},
		{"http://nmcheck.gnome.org/check_network_status.txt", 200, "NetworkManager is online\n", "online"},
		{"http://connectivity-check.ubuntu.com./", 204, "", "online"},
		{"http://ping.archlinux.org/nm-check.txt", 200, "NetworkManager is online\n", "online"},
		{"http://fedoraproject.org/static/hotspot.txt", 200, "OK", "online"},
	}
	probes := new(metrics.CounterVec)
	p := newTestPortal(t, probes)
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			// Before entering: a redirect to the welcome page, which
			// every system takes as "sign in here".
			res := do(p, outside, "GET", tt.url)
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "http://tiers.box/welcome" {
				t.Errorf("before entering: %d Location %q, want 302 to the welcome page", res.StatusCode, res.Header.Get("Location"))
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("captive reply is cacheable")
			}
			// After: the exact reply of the real internet.
			res = do(p, insider, "GET", tt.url)
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
				t.Errorf("after entering: %d %q, want %d %q", res.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
			if got := res.Header.Get("X-NetworkManager-Status"); got != tt.wantHeader {
				t.Errorf("X-NetworkManager-Status %q, want %q", got, tt.wantHeader)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("online reply is cacheable")
			}
		})
	}
	if got := probes.With("android/online").Value(); got != 4 {
		t.Errorf("android/online counted %d, want 4", got)
	}
}

func TestForeignHostsAndOwnPages(t *testing.T) {
	p := newTestPortal(t, nil)
	tests := []struct {
		name     string
		client   netip.Addr
		method   string
		url      string
		status   int
		location string
		body     string
	}{
		{"foreign page before entering", outside, "GET", "http://example.org/anything?q=1", 302, "http://tiers.box/welcome", ""},
		{"foreign POST before entering", outside, "POST", "http://example.org/login", 302, "http://tiers.box/welcome", ""},
		{"foreign page after entering", insider, "GET", "http://example.org/anything", 302, "http://tiers.box/about?from=example.org", ""},
		{"foreign host with a port", insider, "GET", "http://Example.ORG:8080/", 302, "http://tiers.box/about?from=example.org", ""},
		{"box by name", outside, "GET", "http://tiers.box/welcome", 200, "", "box page /welcome"},
		{"box by name with port", outside, "GET", "http://tiers.box:80/", 200, "", "box page /"},
		{"box by other name", outside, "GET", "http://TIERS.local./", 200, "", "box page /"},
		{"box by address", outside, "GET", "http://10.42.0.1/", 200, "", "box page /"},
		{"box by IPv6 address", outside, "GET", "http://[fe80::1]:8080/x", 200, "", "box page /x"},
		{"localhost", outside, "GET", "http://localhost:8080/healthz", 200, "", "box page /healthz"},
		{"probe path on the box itself", outside, "GET", "http://tiers.box/generate_204", 200, "", "box page /generate_204"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(p, tt.client, tt.method, tt.url)
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status || res.Header.Get("Location") != tt.location {
				t.Errorf("%d Location %q, want %d %q", res.StatusCode, res.Header.Get("Location"), tt.status, tt.location)
			}
			if tt.body != "" && string(b) != tt.body {
				t.Errorf("body %q, want %q", b, tt.body)
			}
		})
	}
}

func TestCaptiveAPI(t *testing.T) {
	p := newTestPortal(t, nil)
	tests := []struct {
		client  netip.Addr
		captive bool
		left    int64
	}{
		{outside, true, 0},
		{insider, false, 90 * 60},
	}
	for _, tt := range tests {
		res := do(p, tt.client, "GET", "http://10.42.0.1/api/captive")
		if ct := res.Header.Get("Content-Type"); ct != "application/captive+json" {
			t.Errorf("Content-Type %q", ct)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		var doc map[string]any
		if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if doc["captive"] != tt.captive || doc["user-portal-url"] != "http://tiers.box/welcome" || doc["venue-info-url"] != "http://tiers.box/about" {
			t.Errorf("client %v: %v", tt.client, doc)
		}
		left, has := doc["seconds-remaining"]
		if tt.captive == has {
			t.Errorf("client %v: seconds-remaining present=%v", tt.client, has)
		}
		if has && int64(left.(float64)) != tt.left {
			t.Errorf("seconds-remaining %v, want %d", left, tt.left)
		}
	}
	if res := do(p, outside, "POST", "http://10.42.0.1/api/captive"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
}

func TestNewPortalErrors(t *testing.T) {
	next := http.NotFoundHandler()
	for _, opts := range []PortalOptions{
		{URL: "", Visitors: visitors, Next: next},
		{URL: "https://tiers.box", Visitors: visitors, Next: next},
		{URL: "http://tiers.box", Next: next},
		{URL: "http://tiers.box", Visitors: visitors},
	} {
		if _, err := NewPortal(opts); err == nil {
			t.Errorf("NewPortal(%+v) accepted", opts)
		}
	}
}

func TestNormalHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.ORG":      "example.org",
		"example.org:8080": "example.org",
		"example.org.":     "example.org",
		"[::1]:80":         "::1",
		"[fe80::1]":        "fe80::1",
		"10.0.0.1:80":      "10.0.0.1",
		"":                 "",
	} {
		if got := normalHost(in); got != want {
			t.Errorf("normalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMACFromARP(t *testing.T) {
	table := []byte(`IP address       HW type     Flags       HW address            Mask     Device
10.42.0.11       0x1         0x2         AA:bb:cc:dd:ee:01     *        wlan0
10.42.0.12       0x1         0x0         00:00:00:00:00:00     *        wlan0
10.42.0.13       0x1         0x2         garbage               *        wlan0
short line
`)
	tests := []struct {
		addr string
		want string
	}{
		{"10.42.0.11", "aa:bb:cc:dd:ee:01"},
		{"10.42.0.12", ""}, // incomplete entry
		{"10.42.0.13", ""},
		{"10.42.0.99", ""},
	}
	for _, tt := range tests {
		if got := macFromARP(table, netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.addr, got, tt.want)
		}
	}
	var n Neighbours
	n.Path = "/nonexistent"
	if got := n.MAC(netip.MustParseAddr("10.42.0.11")); got != "" {
		t.Errorf("missing table: %q", got)
	}
}

// BenchmarkProbe measures the HTTP side of the portal with real visitor
// sessions in bbolt, as the daemon runs it.
func BenchmarkProbe(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	vs := visitor.New(st, visitor.Options{})
	if _, err := vs.Enter(visitor.EnterRequest{Nickname: "Ana", Addr: insider}); err != nil {
		b.Fatal(err)
	}
	next := http.NotFoundHandler()
	p, err := NewPortal(PortalOptions{URL: "http://tiers.box", Visitors: vs, Next: next})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		client netip.Addr
		url    string
	}{
		{"android-captive", outside, "http://connectivitycheck.gstatic.com/generate_204"},
		{"android-online", insider, "http://connectivitycheck.gstatic.com/generate_204"},
		{"apple-online", insider, "http://captive.apple.com/hotspot-detect.html"},
		{"foreign-host", outside, "http://example.org/some/page"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", bc.url, nil)
			r.RemoteAddr = netip.AddrPortFrom(bc.client, 50000).String()
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				p.ServeHTTP(w, r)
			}
		})
	}
}
