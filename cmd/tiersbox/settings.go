package main

import (
	"log/slog"
	"path/filepath"

	"tiersbox/firmware"
	"tiersbox/portal/web"
)

// boxWiFi is the WiFi visitors join, as the web pages show it: the
// config's [network] values, replaced by the WiFi staff last chose on the
// settings page when there is one (tiersbox-wifi.service has applied it
// to the access point, or is about to).
func boxWiFi(cfg Config, dataDir string, logger *slog.Logger) web.WiFi {
	n := cfg.Network
	own := n.Mode == string(firmware.OwnWiFi)
	if own {
		req, ok, err := firmware.ReadWiFiRequest(dataDir)
		switch {
		case err != nil:
			logger.Error("reading the WiFi chosen on the settings page", "error", err)
		case ok && req.Check(n.Country) != nil:
			logger.Error("the WiFi chosen on the settings page is not valid; showing the config's",
				"path", filepath.Join(dataDir, firmware.WiFiRequestFile), "error", req.Check(n.Country))
		case ok:
			n = req.Apply(n)
		}
	}
	return web.WiFi{SSID: n.SSID, Passphrase: n.Passphrase, Own: own, Country: n.Country, Channel: n.Channel}
}
