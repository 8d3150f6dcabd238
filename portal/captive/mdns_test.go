package captive

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestHostZone(t *testing.T) {
	z := hostZone{name: "tiers.local.", addr: netip.MustParseAddr("192.168.1.40")}
	tests := []struct {
		q    dns.Question
		want bool
	}{
		{dns.Question{Name: "tiers.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, true},
		{dns.Question{Name: "TIERS.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, true},
		// The unicast-response bit (RFC 6762 §5.4) is set in the class.
		{dns.Question{Name: "tiers.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET | 0x8000}, true},
		{dns.Question{Name: "tiers.local.", Qtype: dns.TypeANY, Qclass: dns.ClassINET}, true},
		{dns.Question{Name: "tiers.local.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, false},
		{dns.Question{Name: "other.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false},
	}
	for _, tt := range tests {
		rrs := z.Records(tt.q)
		if got := len(rrs) == 1; got != tt.want {
			t.Errorf("%v: %d records, want answer=%v", tt.q, len(rrs), tt.want)
			continue
		}
		if tt.want {
			a := rrs[0].(*dns.A)
			if a.A.String() != "192.168.1.40" || a.Hdr.Name != "tiers.local." {
				t.Errorf("%v: %v", tt.q, a)
			}
		}
	}
}

func TestStartMDNSRefusesBadNames(t *testing.T) {
	for _, name := range []string{"tiers.box", "a.b.local", "local", ""} {
		if _, err := StartMDNS(MDNSOptions{Name: name, Addr: netip.MustParseAddr("10.0.0.1")}); err == nil {
			t.Errorf("StartMDNS(%q) accepted", name)
		}
	}
}
