package firmware

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// Mode says how visitors reach the box.
type Mode string

const (
	// OwnWiFi: the Pi's radio or a USB WiFi adapter is the access point
	// (hostapd), and the box hands out addresses on it.
	OwnWiFi Mode = "own-wifi"
	// Venue: the Pi is plugged by Ethernet into the venue's own access points.
	Venue Mode = "venue"
)

// Params is everything the rendered files depend on. The zero value is not
// valid; [Params.Validate] says what is missing.
type Params struct {
	Mode Mode
	// Interface is the interface visitors arrive on: "wlan0" (own-wifi) or
	// "eth0" (venue).
	Interface string
	// SSID and Passphrase are used in own-wifi mode only. An empty Passphrase
	// opens the network; otherwise it is WPA2-PSK (8 to 63 printable ASCII
	// characters).
	SSID, Passphrase string
	// Country is the ISO 3166 alpha-2 code of the regulatory domain, such as
	// "FR"; required in own-wifi mode.
	Country string
	// Channel is the 2.4 GHz channel, 1 to 13 (1 to 11 in the US and Canada).
	Channel int
	// Address is the box's address on Interface, such as 10.42.0.1/24.
	// Required in own-wifi mode and whenever DHCP is on. In venue mode without
	// DHCP it may be left zero: the venue's DHCP server gives the box its
	// address and the interface stays with NetworkManager.
	Address netip.Prefix
	// DHCP hands out addresses (and the box as router and DNS server) on
	// Interface. Always on in own-wifi mode; in venue mode only on an isolated
	// LAN, where the box is the only DHCP server.
	DHCP               bool
	DHCPStart, DHCPEnd netip.Addr
	Lease              time.Duration
	// HTTPPort and DNSPort are where the daemon listens (80 and 53 when
	// installed). DNSPort 0 means the daemon answers no DNS; it is only
	// allowed without DHCP, since DHCP announces the box as the DNS server.
	HTTPPort, DNSPort int
	// Option114 announces PortalAPIURL in DHCP option 114 (RFC 8910). Off by
	// default: phones honour it only over HTTPS with a publicly trusted
	// certificate.
	Option114    bool
	PortalAPIURL string
	// Binary, DataDir, ConfigFile and User are the daemon's executable, data
	// folder, configuration file and system user, as installed:
	// /usr/local/bin/tiersbox, /var/lib/tiersbox, /etc/tiersbox/config.toml,
	// tiersbox.
	Binary, DataDir, ConfigFile, User string
}

// File is one rendered file. Path is absolute on the target system, such as
// /etc/hostapd/tiersbox.conf.
type File struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// Paths of the rendered files on the target system.
const (
	pathDaemonUnit     = "/etc/systemd/system/tiersbox.service"
	pathNetUnit        = "/etc/systemd/system/tiersbox-net.service"
	pathFirewallUnit   = "/etc/systemd/system/tiersbox-firewall.service"
	pathNftables       = "/etc/nftables.d/tiersbox.nft"
	pathHostapd        = "/etc/hostapd/tiersbox.conf"
	pathHostapdUnit    = "/etc/systemd/system/tiersbox-hostapd.service"
	pathDnsmasq        = "/etc/dnsmasq.d/tiersbox.conf"
	pathDnsmasqDropIn  = "/etc/systemd/system/dnsmasq.service.d/tiersbox.conf"
	pathNetworkManager = "/etc/NetworkManager/conf.d/tiersbox.conf"
	pathWiFiPath       = "/etc/systemd/system/tiersbox-wifi.path"
	pathWiFiUnit       = "/etc/systemd/system/tiersbox-wifi.service"
)

// maxStations caps hostapd's associated clients. The Pi's onboard radio
// refuses more than a dozen or two on its own; a good USB adapter takes more,
// and past this the box itself (one Pi, websockets for everyone) is the limit.
const maxStations = 64

//go:embed templates
var templateFS embed.FS

// templates holds every template, parsed at initialisation so that a missing
// or broken one fails at once rather than on a Pi.
var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*"))

// output is one file Render may produce: which template, where, with which
// permissions, and when the mode needs it.
type output struct {
	path     string
	template string
	mode     fs.FileMode
	when     func(view) bool
}

// outputs is in the order Render returns files.
var outputs = []output{
	{pathDaemonUnit, "tiersbox.service", 0o644, always},
	{pathNetUnit, "tiersbox-net.service", 0o644, view.managesAddress},
	{pathFirewallUnit, "tiersbox-firewall.service", 0o644, always},
	{pathNftables, "tiersbox.nft", 0o644, always},
	{pathNetworkManager, "NetworkManager.conf", 0o644, view.managesAddress},
	// hostapd runs as root; the file holds the WiFi passphrase.
	{pathHostapd, "hostapd.conf", 0o600, view.ownWiFi},
	{pathHostapdUnit, "tiersbox-hostapd.service", 0o644, view.ownWiFi},
	// Staff's WiFi changes from the settings page (wifi.go).
	{pathWiFiPath, "tiersbox-wifi.path", 0o644, view.ownWiFi},
	{pathWiFiUnit, "tiersbox-wifi.service", 0o644, view.ownWiFi},
	{pathDnsmasq, "dnsmasq.conf", 0o644, view.dhcp},
	{pathDnsmasqDropIn, "dnsmasq.service.d.conf", 0o644, view.dhcp},
}

func always(view) bool { return true }

// Render validates p, then renders every file its mode needs, in a fixed
// order.
func Render(p Params) ([]File, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	v := newView(p)
	var files []File
	for _, o := range outputs {
		if !o.when(v) {
			continue
		}
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, o.template, v); err != nil {
			return nil, fmt.Errorf("firmware: render %s: %w", o.path, err)
		}
		files = append(files, File{Path: o.path, Mode: o.mode, Data: b.Bytes()})
	}
	return files, nil
}

// view is what the templates see: the validated Params and what follows
// from them, already formatted.
type view struct {
	Params
	// Country in upper case.
	Country string
	// Addr is the box's address without the prefix length ("10.42.0.1");
	// empty when the box leaves the address to the venue's DHCP.
	Addr string
	// Netmask of Address, dotted ("255.255.255.0").
	Netmask string
	// DeviceUnit is systemd's unit for Interface
	// ("sys-subsystem-net-devices-wlan0.device").
	DeviceUnit string
	// LeaseTime in dnsmasq's syntax ("12h").
	LeaseTime string
	// UTF8SSID tells hostapd to flag the SSID as UTF-8.
	UTF8SSID bool
	// StateDirectory is DataDir relative to /var/lib when it lies there, for
	// systemd's StateDirectory=; empty otherwise.
	StateDirectory string
	// MaxStations caps hostapd's clients.
	MaxStations int
	// WiFiRequestFile is the name of the file, in DataDir, where the
	// daemon writes the WiFi staff chose (wifi.go).
	WiFiRequestFile string
	// NetUnit, Hostapd and Dnsmasq say whether tiersbox-net.service,
	// hostapd and dnsmasq are part of this mode, for the units' ordering.
	NetUnit, Hostapd, Dnsmasq bool
}

func newView(p Params) view {
	v := view{
		Params:          p,
		Country:         strings.ToUpper(p.Country),
		DeviceUnit:      deviceUnit(p.Interface),
		UTF8SSID:        !isASCII(p.SSID),
		MaxStations:     maxStations,
		WiFiRequestFile: WiFiRequestFile,
		Hostapd:         p.Mode == OwnWiFi,
		Dnsmasq:         p.DHCP,
	}
	v.NetUnit = v.managesAddress()
	if p.Address.IsValid() {
		v.Addr = p.Address.Addr().String()
		v.Netmask = netmask(p.Address.Bits())
	}
	if p.DHCP {
		v.LeaseTime = dnsmasqDuration(p.Lease)
	}
	if rel, ok := strings.CutPrefix(p.DataDir, "/var/lib/"); ok {
		v.StateDirectory = rel
	}
	return v
}

func (v view) ownWiFi() bool { return v.Mode == OwnWiFi }
func (v view) dhcp() bool    { return v.DHCP }

// managesAddress reports whether the box sets the address of Interface
// itself (and so takes the interface away from NetworkManager).
func (v view) managesAddress() bool { return v.Params.Address.IsValid() }

// deviceUnit returns the name of systemd's device unit for a network
// interface, escaped as systemd-escape --path would.
func deviceUnit(iface string) string {
	var b strings.Builder
	for i := 0; i < len(iface); i++ {
		c := iface[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == ':', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return "sys-subsystem-net-devices-" + b.String() + ".device"
}

// netmask returns the dotted IPv4 netmask of a prefix length.
func netmask(bits int) string {
	m := ^uint32(0) << (32 - bits)
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// dnsmasqDuration formats d in the largest whole unit dnsmasq knows.
func dnsmasqDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s%3600 == 0:
		return fmt.Sprintf("%dh", s/3600)
	case s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprint(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
