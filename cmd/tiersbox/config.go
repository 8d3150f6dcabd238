package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"tiersbox/firmware"
)

// Config is everything the daemon is told at start-up. Values come from
// defaults, then the TOML file, then TIERSBOX_* environment variables, then
// flags: each overrides the one before. What staff change from the admin
// pages (the venue's name, its rules) lives in the database instead.
type Config struct {
	HTTP struct {
		// Listen is the HTTP address. The default suits a laptop; a box
		// listens on ":80".
		Listen string `toml:"listen"`
	} `toml:"http"`
	DNS struct {
		// Listen is the DNS responder's address; empty means no
		// responder (a laptop, or a venue network whose own DNS stays).
		Listen string `toml:"listen"`
	} `toml:"dns"`
	Portal struct {
		// Hostname is the name visitors can type; the box's DNS answers it.
		Hostname string `toml:"hostname"`
		// Address is the box's IPv4 address on the visitors' network,
		// returned for every DNS name. Empty means: the address of --dns
		// or --http when they name one.
		Address string `toml:"address"`
		// Session is how long a visitor stays entered.
		Session duration `toml:"session"`
		// DHCPOption114 announces the Captive Portal API by DHCP (see
		// firmware/README.md for why it is off by default).
		DHCPOption114 bool `toml:"dhcp_option_114"`
		// MDNS answers multicast DNS for the hostname's first label +
		// ".local" (tiers.local) on network.interface: how visitors find
		// the box on a venue's own network, where it is not their DNS.
		MDNS bool `toml:"mdns"`
	} `toml:"portal"`
	Drive struct {
		// MaxFileSize is the largest file a visitor may add, such as
		// "1GiB" or "200MB".
		MaxFileSize size `toml:"max_file_size"`
		// Quota is the most the whole drive may hold; "0" means no limit
		// but the disk's.
		Quota size `toml:"quota"`
	} `toml:"drive"`
	Sync struct {
		// Listen is where other boxes and Syncthing devices connect, as
		// Syncthing's own default; empty means the box only dials.
		Listen string `toml:"listen"`
		// MaxRate caps each link, per second and per direction ("200KB"
		// for a slow uplink); "0" means no cap.
		MaxRate size `toml:"max_rate"`
		// Discovery announces the box and finds others with mDNS.
		// Finding a box never links it.
		Discovery bool `toml:"discovery"`
		// Interfaces are where discovery announces and browses: the
		// network other boxes share (a venue's LAN), not necessarily
		// the visitors' WiFi. Empty: the system's default route.
		Interfaces []string `toml:"interfaces"`
		// DiscoveryInterval is the time between two looks around.
		DiscoveryInterval duration `toml:"discovery_interval"`
	} `toml:"sync"`
	// Network is how the Raspberry Pi serves visitors; `tiersbox
	// network-config` turns it into the system's files (see firmware/).
	Network firmware.Config `toml:"network"`
	Log     struct {
		// Level is debug, info, warn or error.
		Level string `toml:"level"`
	} `toml:"log"`
}

// duration reads "24h" or "90m" from TOML.
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// size reads a number of bytes from TOML: "500MB", "1GiB", "0".
type size struct{ Bytes int64 }

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

func (sz *size) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	mult := int64(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	var n float64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return fmt.Errorf("%q is not a size such as 500MB or 1GiB", string(b))
	}
	sz.Bytes = int64(n * float64(mult))
	return nil
}

func (sz size) MarshalText() ([]byte, error) { return []byte(fmt.Sprint(sz.Bytes, "B")), nil }

func defaultConfig() Config {
	var c Config
	c.HTTP.Listen = "127.0.0.1:8080"
	c.Portal.Hostname = "tiers.box"
	c.Portal.Session.Duration = 24 * time.Hour
	c.Drive.MaxFileSize.Bytes = 1 << 30
	c.Sync.Listen = ":22000"
	c.Sync.DiscoveryInterval.Duration = 30 * time.Second
	c.Network = firmware.Config{
		Mode: "own-wifi", Interface: "wlan0", SSID: "tiersbox", Country: "FR", Channel: 6,
		Address: "10.42.0.1/24", DHCP: true, DHCPStart: "10.42.0.10", DHCPEnd: "10.42.0.250",
		Lease: "12h",
	}
	c.Log.Level = "info"
	return c
}

// loadConfigFile overlays a TOML file on c. Unknown keys are errors: a
// typo in a key must not silently leave a default in place.
func loadConfigFile(c *Config, path string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return nil
}

// commonFlags are the flags of every subcommand that touches a box.
type commonFlags struct {
	data   string
	config string
}

func (f *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", envOr("TIERSBOX_DATA", "tiersbox-data"), "the box's data `folder` (env TIERSBOX_DATA)")
	fs.StringVar(&f.config, "config", os.Getenv("TIERSBOX_CONFIG"), "TOML configuration `file` (env TIERSBOX_CONFIG); none by default")
}

// load returns the configuration for these flags: defaults, the file,
// then the environment. The caller applies its own flags after.
func (f *commonFlags) load() (Config, error) {
	c := defaultConfig()
	if f.config != "" {
		if err := loadConfigFile(&c, f.config); err != nil {
			return c, err
		}
	}
	if v, ok := os.LookupEnv("TIERSBOX_HTTP"); ok {
		c.HTTP.Listen = v
	}
	if v, ok := os.LookupEnv("TIERSBOX_DNS"); ok {
		c.DNS.Listen = v
	}
	if v, ok := os.LookupEnv("TIERSBOX_SYNC"); ok {
		c.Sync.Listen = v
	}
	return c, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// validate checks what the daemon needs before it binds anything.
func (c *Config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		errs = append(errs, fmt.Errorf("http.listen %q: %w", c.HTTP.Listen, err))
	}
	if c.DNS.Listen != "" {
		if _, _, err := net.SplitHostPort(c.DNS.Listen); err != nil {
			errs = append(errs, fmt.Errorf("dns.listen %q: %w", c.DNS.Listen, err))
		}
	}
	if c.Sync.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Sync.Listen); err != nil {
			errs = append(errs, fmt.Errorf("sync.listen %q: %w", c.Sync.Listen, err))
		}
	}
	if c.Portal.Address != "" {
		if a, err := netip.ParseAddr(c.Portal.Address); err != nil || !a.Is4() {
			errs = append(errs, fmt.Errorf("portal.address %q: must be an IPv4 address", c.Portal.Address))
		}
	}
	if h := c.Portal.Hostname; h == "" || strings.ContainsAny(h, "/:@ ") {
		errs = append(errs, fmt.Errorf("portal.hostname %q: must be a host name such as tiers.box", h))
	}
	if c.Sync.DiscoveryInterval.Duration < time.Second {
		errs = append(errs, fmt.Errorf("sync.discovery_interval %v: must be at least a second", c.Sync.DiscoveryInterval.Duration))
	}
	if c.Portal.Session.Duration < time.Minute {
		errs = append(errs, fmt.Errorf("portal.session %v: must be at least a minute", c.Portal.Session.Duration))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: must be debug, info, warn or error", c.Log.Level))
	}
	return errors.Join(errs...)
}
