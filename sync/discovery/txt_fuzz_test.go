package discovery

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseTXT feeds parseTXT the RDATA of a TXT record as any device on
// the LAN may send it, and checks that:
//   - it never panics, whether the strings come decoded by miekg/dns or raw;
//   - what it accepts has a real device ID and a clean, bounded name and
//     version (checkInfo);
//   - announcing what it accepted and reading that back over the wire
//     gives the same info: cleaning is stable, escaping round-trips.
func FuzzParseTXT(f *testing.F) {
	for _, fields := range [][]string{
		txtRecord(txtInfo{ID: testID, Name: "Fablab", Version: "v1.2.3"}),
		txtRecord(txtInfo{ID: testID, Name: `Médiathèque « Les Tilleuls » \ "ouvert"`, Version: "v0.1.0-dev+4f2a"}),
		txtRecord(txtInfo{ID: testID, Name: strings.Repeat("🌱", 70)}),
		{"ID=" + testIDLower, "Name=a\u202eb\x00c\td", "name=second", "version=v1 \xff"},
		{"id=" + testID.String() + "x"},
		{"txtvers=1", "secure", "id="},
		{"name=Le\u0301a", "id=" + testID.String(), "version=" + strings.Repeat("9", 40)},
	} {
		rdata, err := packTXT(fields)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rdata)
	}
	f.Add([]byte{})
	f.Add([]byte{255, 'i', 'd', '='})

	f.Fuzz(func(t *testing.T, rdata []byte) {
		// Raw strings, never escaped: parseTXT must hold with any input.
		if info, err := parseTXT(strings.Split(string(rdata), "\n")); err == nil {
			checkInfo(t, info)
		}

		if len(rdata) > 0xffff {
			return
		}
		rr, _, err := dns.UnpackRRWithHeader(dns.RR_Header{
			Name: "x._tiersbox._tcp.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET,
			Rdlength: uint16(len(rdata)),
		}, rdata, 0)
		if err != nil {
			return
		}
		info, err := parseTXT(rr.(*dns.TXT).Txt)
		if err != nil {
			return
		}
		checkInfo(t, info)
		fields, err := overTheWire(txtRecord(info))
		if err != nil {
			t.Fatalf("announcing %+v: %v", info, err)
		}
		again, err := parseTXT(fields)
		if err != nil || again != info {
			t.Fatalf("announced %+v, read back %+v, %v", info, again, err)
		}
	})
}

// packTXT returns the RDATA of a TXT record holding fields.
func packTXT(fields []string) ([]byte, error) {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: fields}
	buf := make([]byte, 65536)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	// The header of "." is 11 bytes: the root name, type, class, TTL and
	// RDATA length.
	return buf[11:off], nil
}
