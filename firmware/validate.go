package firmware

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validate reports every problem in p at once, one per line, each naming the
// setting as config.toml does (ssid, channel, dhcp_start...). Settings that p's
// mode does not use (the SSID in venue mode, say) are not checked.
func (p Params) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	switch p.Mode {
	case OwnWiFi, Venue:
	default:
		bad("mode", "%q is not a mode; use %q (the box opens its own WiFi) or %q (the box is plugged into the venue's network)", p.Mode, OwnWiFi, Venue)
	}
	if err := checkInterface(p.Interface); err != nil {
		bad("interface", "%v", err)
	}

	if p.Mode == OwnWiFi {
		if err := CheckSSID(p.SSID); err != nil {
			bad("ssid", "%v", err)
		}
		if err := CheckPassphrase(p.Passphrase); err != nil {
			bad("passphrase", "%v", err)
		}
		countryOK := true
		if err := checkCountry(p.Country); err != nil {
			bad("country", "%v", err)
			countryOK = false
		}
		country := p.Country
		if !countryOK {
			country = ""
		}
		if err := CheckChannel(p.Channel, country); err != nil {
			bad("channel", "%v", err)
		}
		if !p.DHCP {
			bad("dhcp", "must be on in %s mode: visitors' phones get their address from the box", OwnWiFi)
		}
	}

	// The box sets its own address whenever it opens the WiFi or hands out
	// addresses; in venue mode without DHCP the address may come from the
	// venue.
	needAddress := p.Mode == OwnWiFi || p.DHCP
	addrOK := false
	switch {
	case !p.Address.IsValid() && needAddress:
		bad("address", "missing; the box needs a fixed address such as 10.42.0.1/24 when it hands out addresses")
	case p.Address.IsValid():
		if err := checkAddress(p.Address); err != nil {
			bad("address", "%v", err)
		} else {
			addrOK = true
		}
	}

	if p.DHCP && addrOK {
		errs = append(errs, checkDHCP(p)...)
	}

	if p.HTTPPort < 1 || p.HTTPPort > 65535 {
		bad("http port", "%d is not a port; use 1 to 65535 (80 when installed)", p.HTTPPort)
	}
	switch {
	case p.DNSPort < 0 || p.DNSPort > 65535:
		bad("dns port", "%d is not a port; use 1 to 65535 (53 when installed)", p.DNSPort)
	case p.DNSPort == 0 && p.DHCP:
		bad("dns port", "the daemon must answer DNS when the box hands out addresses, since DHCP names the box as the DNS server")
	case p.DNSPort != 0 && p.DNSPort == p.HTTPPort:
		// Different protocols could share a number, but the daemon also
		// answers DNS over TCP.
		bad("dns port", "%d is also the HTTP port", p.DNSPort)
	}

	if p.Option114 {
		if err := checkAPIURL(p.PortalAPIURL); err != nil {
			bad("portal API URL", "%v", err)
		}
		if !p.DHCP {
			bad("dhcp_option_114", "needs dhcp = true: option 114 is sent by the box's DHCP server")
		}
	}

	for _, f := range []struct{ key, value string }{
		{"binary", p.Binary}, {"data folder", p.DataDir}, {"config file", p.ConfigFile},
	} {
		if err := checkPath(f.value); err != nil {
			bad(f.key, "%v", err)
		}
	}
	if err := checkUser(p.User); err != nil {
		bad("user", "%v", err)
	}

	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("firmware: invalid settings:\n%w", errors.Join(errs...))
}

func checkInterface(name string) error {
	if name == "" {
		return errors.New(`missing; use "wlan0" for the WiFi or "eth0" for Ethernet`)
	}
	if len(name) > 15 || name == "." || name == ".." {
		return fmt.Errorf("%q is not an interface name (at most 15 characters)", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q is not an interface name (letters, digits, '-', '_', '.')", name)
		}
	}
	return nil
}

// CheckSSID checks a WiFi network's name: 1 to 32 bytes of UTF-8 text
// without control characters (hostapd's file is line-based).
func CheckSSID(ssid string) error {
	switch {
	case ssid == "":
		return errors.New("missing; the network name visitors see, 1 to 32 bytes")
	case len(ssid) > 32:
		return fmt.Errorf("%q is %d bytes long; a WiFi name has at most 32 bytes (accented letters count for 2)", ssid, len(ssid))
	case !utf8.ValidString(ssid):
		return errors.New("is not valid UTF-8 text")
	}
	for _, c := range ssid {
		if unicode.IsControl(c) {
			return fmt.Errorf("%q contains a control character", ssid)
		}
	}
	return nil
}

// CheckPassphrase checks a WPA2 passphrase: empty (an open network) or 8
// to 63 printable ASCII characters. It never quotes the passphrase: error messages end up in logs.
func CheckPassphrase(pass string) error {
	if pass == "" {
		return nil // an open network
	}
	if len(pass) < 8 || len(pass) > 63 {
		return fmt.Errorf("is %d characters long; a WPA2 passphrase has 8 to 63 (leave it empty for an open network)", len(pass))
	}
	for i := 0; i < len(pass); i++ {
		if pass[i] < 0x20 || pass[i] > 0x7e {
			return fmt.Errorf("character %d is not printable ASCII; a WPA2 passphrase uses only letters, digits, spaces and ASCII punctuation", i+1)
		}
	}
	return nil
}

// MaxChannel is the highest 2.4 GHz channel allowed in country (an ISO
// 3166 code, any case): 11 in the United States and Canada, 13 elsewhere.
func MaxChannel(country string) int {
	if c := strings.ToUpper(country); c == "US" || c == "CA" {
		return 11 // channels 12 and 13 are not allowed there
	}
	return 13
}

// CheckChannel checks a 2.4 GHz channel for a box in country.
func CheckChannel(channel int, country string) error {
	if max := MaxChannel(country); channel < 1 || channel > max {
		return fmt.Errorf("%d is not a 2.4 GHz channel allowed here; use 1 to %d (1, 6 or 11 overlap least)", channel, max)
	}
	return nil
}

func checkCountry(cc string) error {
	if cc == "" {
		return errors.New(`missing; the two-letter code of the country the box is in, such as "FR", sets which channels and power are legal`)
	}
	up := strings.ToUpper(cc)
	if up == "UK" {
		return errors.New(`"UK" is not an ISO 3166 code; the United Kingdom is "GB"`)
	}
	if len(up) != 2 || !strings.Contains(" "+isoCountries+" ", " "+up+" ") {
		return fmt.Errorf("%q is not an ISO 3166 two-letter country code such as \"FR\", \"BE\", \"CH\" or \"CA\"", cc)
	}
	return nil
}

func checkAddress(a netip.Prefix) error {
	ip := a.Addr()
	switch {
	case !ip.Is4():
		return fmt.Errorf("%s is not an IPv4 address; use one such as 10.42.0.1/24", a)
	case a.Bits() < 8 || a.Bits() > 30:
		return fmt.Errorf("%s: the prefix length must be 8 to 30 (24 is usual)", a)
	case ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip.IsLinkLocalUnicast():
		return fmt.Errorf("%s cannot be the box's address; use a private one such as 10.42.0.1/24", a)
	case ip == a.Masked().Addr():
		return fmt.Errorf("%s is the network's own address, not a host's; use %s", a, a.Masked().Addr().Next())
	case ip == lastAddr(a):
		return fmt.Errorf("%s is the network's broadcast address, not a host's", a)
	}
	return nil
}

func checkDHCP(p Params) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	subnet := p.Address.Masked()
	inRange := true
	for _, f := range []struct {
		key string
		a   netip.Addr
	}{{"dhcp_start", p.DHCPStart}, {"dhcp_end", p.DHCPEnd}} {
		switch {
		case !f.a.IsValid():
			bad(f.key, "missing; the first and last addresses handed out, inside %s", subnet)
		case !f.a.Is4() || !subnet.Contains(f.a):
			bad(f.key, "%s is outside the box's network %s", f.a, subnet)
		case f.a == subnet.Addr() || f.a == lastAddr(subnet):
			bad(f.key, "%s is the network's own or broadcast address", f.a)
		default:
			continue
		}
		inRange = false
	}
	if inRange {
		box := p.Address.Addr()
		switch {
		case p.DHCPEnd.Less(p.DHCPStart):
			bad("dhcp_end", "%s comes before dhcp_start %s", p.DHCPEnd, p.DHCPStart)
		case !box.Less(p.DHCPStart) && !p.DHCPEnd.Less(box):
			bad("dhcp_start", "the range %s-%s contains the box's own address %s", p.DHCPStart, p.DHCPEnd, box)
		}
	}
	switch {
	case p.Lease < 2*time.Minute:
		bad("lease", "%v is too short; dnsmasq needs at least 2m (12h is usual)", p.Lease)
	case p.Lease%time.Second != 0:
		bad("lease", "%v is not a whole number of seconds", p.Lease)
	case p.Lease > 365*24*time.Hour:
		bad("lease", "%v is longer than a year", p.Lease)
	}
	return errs
}

func checkAPIURL(s string) error {
	if s == "" {
		return errors.New("missing; option 114 needs the URL of the portal's RFC 8908 API")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", s, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	case len(s) > 255:
		return fmt.Errorf("is %d bytes long; a DHCP option holds at most 255", len(s))
	case strings.ContainsAny(s, "\"\\ \t\r\n,"):
		return fmt.Errorf("%q contains a quote, backslash, comma or space", s)
	}
	return nil
}

// checkPath keeps paths to characters that need no quoting in a systemd unit
// or a shell.
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("missing")
	case !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/":
		return fmt.Errorf("%q is not a clean absolute path", p)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+", c)) {
			return fmt.Errorf("%q: use only letters, digits and / . _ - + in paths", p)
		}
	}
	return nil
}

func checkUser(u string) error {
	switch {
	case u == "":
		return errors.New(`missing; the daemon's own system user, "tiersbox"`)
	case u == "root":
		return errors.New("the daemon must not run as root; use its own system user, \"tiersbox\"")
	case len(u) > 32:
		return fmt.Errorf("%q is longer than 32 characters", u)
	}
	for i, c := range u {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return fmt.Errorf("%q is not a system user name (lower-case letters, digits, '-', '_')", u)
		}
	}
	return nil
}

// lastAddr returns the last (broadcast) address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits()
	a[0] |= byte(host >> 24)
	a[1] |= byte(host >> 16)
	a[2] |= byte(host >> 8)
	a[3] |= byte(host)
	return netip.AddrFrom4(a)
}

// isoCountries lists the ISO 3166-1 alpha-2 codes (as in Debian's iso-codes
// 4.15), so that a typo fails here rather than in hostapd's log on the Pi.
const isoCountries = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
	"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
	"UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
