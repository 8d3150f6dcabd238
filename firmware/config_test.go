package firmware

import (
	"strings"
	"testing"
)

func TestConfigParamsErrors(t *testing.T) {
	good := Config{Mode: "own-wifi", Interface: "wlan0", Address: "10.42.0.1/24", DHCPStart: "10.42.0.10", DHCPEnd: "10.42.0.20", Lease: "12h"}
	daemon := Daemon{HTTPListen: ":80", DNSListen: ":53"}
	tests := []struct {
		name   string
		change func(*Config, *Daemon)
		want   string
	}{
		{"bad address", func(c *Config, d *Daemon) { c.Address = "10.42.0.1" }, "network.address"},
		{"bad range start", func(c *Config, d *Daemon) { c.DHCPStart = "ten" }, "network.dhcp_start"},
		{"bad range end", func(c *Config, d *Daemon) { c.DHCPEnd = "10.42.0" }, "network.dhcp_end"},
		{"bad lease", func(c *Config, d *Daemon) { c.Lease = "12" }, "network.lease"},
		{"bad http", func(c *Config, d *Daemon) { d.HTTPListen = "80" }, "http.listen"},
		{"bad dns", func(c *Config, d *Daemon) { d.DNSListen = ":dns" }, "dns.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, d := good, daemon
			tt.change(&c, &d)
			if _, err := c.Params(d); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want an error about %s", err, tt.want)
			}
		})
	}
	p, err := good.Params(Daemon{HTTPListen: ":8080", DNSListen: "", Option114: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.HTTPPort != 8080 || p.DNSPort != 0 || p.Lease.Hours() != 12 || p.PortalAPIURL != "http://10.42.0.1/api/captive" {
		t.Errorf("parsed %+v", p)
	}
}
