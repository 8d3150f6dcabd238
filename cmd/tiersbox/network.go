package main

import (
	"context"
	"fmt"
	"path/filepath"

	"tiersbox/firmware"
)

// cmdNetworkConfig renders the Raspberry Pi's network files (hostapd,
// dnsmasq, nftables, systemd units) from the config's [network] section and
// writes those that changed. firmware/install.sh runs it; staff run it
// again after editing the config. In own-wifi mode, the WiFi staff chose
// on the settings page (firmware.WiFiRequestFile in the data folder)
// replaces the config's ssid, passphrase and channel: tiersbox-wifi.service
// runs this command when that file changes.
func cmdNetworkConfig(ctx context.Context, args []string, env cmdEnv) error {
	fs := newFlagSet("network-config", env)
	var common commonFlags
	common.register(fs)
	root := fs.String("root", "/", "write the files under this `folder` instead of /")
	binary := fs.String("binary", "/usr/local/bin/tiersbox", "the installed binary's `path`, for the systemd unit")
	user := fs.String("user", "tiersbox", "the system `user` the daemon runs as")
	dryRun := fs.Bool("dry-run", false, "print the files instead of writing them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if common.config == "" {
		return fmt.Errorf("%w: network-config needs --config FILE", errUsage)
	}
	// The unit names the data folder; the installed default is not the
	// laptop default of the other subcommands.
	if !flagSet(fs, "data") && common.data == "tiersbox-data" {
		common.data = "/var/lib/tiersbox"
	}
	cfg, err := common.load()
	if err != nil {
		return err
	}
	configFile, err := filepath.Abs(common.config)
	if err != nil {
		return err
	}
	dataDir, err := filepath.Abs(common.data)
	if err != nil {
		return err
	}
	if cfg.Network.Mode == string(firmware.OwnWiFi) {
		req, ok, err := firmware.ReadWiFiRequest(dataDir)
		if err != nil {
			return err
		}
		if ok {
			// Checked again: the file comes from the daemon's user, and
			// this command runs as root.
			if err := req.Check(cfg.Network.Country); err != nil {
				return fmt.Errorf("the WiFi asked for in %s: %w", filepath.Join(dataDir, firmware.WiFiRequestFile), err)
			}
			cfg.Network = req.Apply(cfg.Network)
		}
	}
	p, err := networkParams(cfg)
	if err != nil {
		return err
	}
	p.Binary, p.DataDir, p.ConfigFile, p.User = *binary, dataDir, configFile, *user
	files, err := firmware.Render(p)
	if err != nil {
		return err
	}
	if *dryRun {
		for _, f := range files {
			fmt.Fprintf(env.stdout, "# %s (mode %04o)\n%s\n", f.Path, f.Mode.Perm(), f.Data)
		}
		return nil
	}
	changed, err := firmware.Write(*root, files)
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		fmt.Fprintln(env.stdout, "network files already up to date")
	}
	for _, path := range changed {
		fmt.Fprintln(env.stdout, "wrote", path)
	}
	return nil
}

// networkParams maps the config onto the firmware's parameters.
func networkParams(cfg Config) (firmware.Params, error) {
	return cfg.Network.Params(firmware.Daemon{
		HTTPListen:    cfg.HTTP.Listen,
		DNSListen:     cfg.DNS.Listen,
		PortalAddress: cfg.Portal.Address,
		Option114:     cfg.Portal.DHCPOption114,
	})
}
