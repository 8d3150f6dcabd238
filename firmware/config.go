package firmware

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Config is the [network] section of config.toml as staff write it: strings
// and numbers, checked only when turned into Params.
type Config struct {
	Mode       string `toml:"mode"`
	Interface  string `toml:"interface"`
	SSID       string `toml:"ssid"`
	Passphrase string `toml:"passphrase"`
	Country    string `toml:"country"`
	Channel    int    `toml:"channel"`
	Address    string `toml:"address"`
	DHCP       bool   `toml:"dhcp"`
	DHCPStart  string `toml:"dhcp_start"`
	DHCPEnd    string `toml:"dhcp_end"`
	Lease      string `toml:"lease"`
}

// Daemon is what the network files need from the rest of config.toml: where
// the daemon listens and what the portal announces.
type Daemon struct {
	HTTPListen, DNSListen string // "host:port"; an empty DNSListen means no DNS responder
	PortalAddress         string // portal.address; may be empty
	Option114             bool   // portal.dhcp_option_114
}

// Params parses c into Params, naming the config key of anything that does
// not parse. The installation paths (Binary, DataDir, ConfigFile, User) are
// left for the caller; Render's Validate checks the rest.
func (c Config) Params(d Daemon) (Params, error) {
	p := Params{
		Mode: Mode(c.Mode), Interface: c.Interface,
		SSID: c.SSID, Passphrase: c.Passphrase, Country: c.Country, Channel: c.Channel,
		DHCP: c.DHCP, Option114: d.Option114,
	}
	var err error
	if p.HTTPPort, err = listenPort(d.HTTPListen); err != nil {
		return p, fmt.Errorf("http.listen: %w", err)
	}
	if p.DNSPort, err = listenPort(d.DNSListen); err != nil {
		return p, fmt.Errorf("dns.listen: %w", err)
	}
	if c.Address != "" {
		if p.Address, err = netip.ParsePrefix(c.Address); err != nil {
			return p, fmt.Errorf("network.address: %w", err)
		}
	}
	for _, a := range []struct {
		key, val string
		dst      *netip.Addr
	}{{"network.dhcp_start", c.DHCPStart, &p.DHCPStart}, {"network.dhcp_end", c.DHCPEnd, &p.DHCPEnd}} {
		if a.val == "" {
			continue
		}
		if *a.dst, err = netip.ParseAddr(a.val); err != nil {
			return p, fmt.Errorf("%s: %w", a.key, err)
		}
	}
	if c.Lease != "" {
		if p.Lease, err = time.ParseDuration(c.Lease); err != nil {
			return p, fmt.Errorf("network.lease: %w", err)
		}
	}
	if p.Option114 {
		host := d.PortalAddress
		if host == "" && p.Address.IsValid() {
			host = p.Address.Addr().String()
		}
		p.PortalAPIURL = "http://" + host + "/api/captive"
	}
	return p, nil
}

// listenPort returns the port of a listen address, 0 for "" (off).
func listenPort(listen string) (int, error) {
	if listen == "" {
		return 0, nil
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}
