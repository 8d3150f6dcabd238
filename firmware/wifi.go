package firmware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Staff change the WiFi from the box's settings page, but the daemon runs
// as an unprivileged user that can neither rewrite /etc/hostapd nor restart
// hostapd. So the daemon only writes what staff asked for to
// WiFiRequestFile in its data folder; tiersbox-wifi.path (rendered in
// own-wifi mode) sees the file change and starts tiersbox-wifi.service,
// which runs `tiersbox network-config` as root. That command reads the
// request, checks it again (the file crosses from the daemon's user to
// root), lets it override the config's [network] values, re-renders
// hostapd's file and restarts the access point.

// WiFiRequestFile is the name, in the data folder, of the WiFi settings
// staff asked for.
const WiFiRequestFile = "wifi-request.json"

// maxWiFiRequest bounds the file: a name, a passphrase and a number.
const maxWiFiRequest = 4 << 10

// WiFiRequest is the WiFi staff asked for: the network's name, its WPA2
// passphrase ("" for an open network) and its 2.4 GHz channel.
type WiFiRequest struct {
	SSID       string `json:"ssid"`
	Passphrase string `json:"passphrase"`
	Channel    int    `json:"channel"`
}

// Check reports the first problem of r for a box in country, with the
// same rules as config.toml's [network] values.
func (r WiFiRequest) Check(country string) error {
	if err := CheckSSID(r.SSID); err != nil {
		return fmt.Errorf("ssid: %w", err)
	}
	if err := CheckPassphrase(r.Passphrase); err != nil {
		return fmt.Errorf("passphrase: %w", err)
	}
	if err := CheckChannel(r.Channel, country); err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	return nil
}

// Apply returns c with the request's values in place of its own.
func (r WiFiRequest) Apply(c Config) Config {
	c.SSID, c.Passphrase, c.Channel = r.SSID, r.Passphrase, r.Channel
	return c
}

// WriteWiFiRequest replaces the request in dataDir, atomically (a power
// cut leaves the old request or the new one, never half of one), readable
// by its owner only since it holds the passphrase. It checks r first, so
// that a bad request never reaches the file.
func WriteWiFiRequest(dataDir, country string, r WiFiRequest) error {
	if err := r.Check(country); err != nil {
		return fmt.Errorf("firmware: wifi request: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("firmware: wifi request: %w", err)
	}
	data = append(data, '\n')
	if _, err := Write(dataDir, []File{{Path: "/" + WiFiRequestFile, Mode: 0o600, Data: data}}); err != nil {
		return err
	}
	return nil
}

// ReadWiFiRequest reads the request in dataDir; ok is false when there is
// none. The request is decoded strictly (unknown fields are errors) but
// not checked: the caller checks it for its country with Check.
func ReadWiFiRequest(dataDir string) (r WiFiRequest, ok bool, err error) {
	path := filepath.Join(dataDir, WiFiRequestFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return WiFiRequest{}, false, nil
	}
	if err != nil {
		return WiFiRequest{}, false, fmt.Errorf("firmware: wifi request: %w", err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxWiFiRequest+1)); err != nil {
		return WiFiRequest{}, false, fmt.Errorf("firmware: wifi request %s: %w", path, err)
	}
	r, err = DecodeWiFiRequest(b.Bytes())
	if err != nil {
		return WiFiRequest{}, false, fmt.Errorf("firmware: wifi request %s: %w", path, err)
	}
	return r, true, nil
}

// DecodeWiFiRequest decodes a request file's content: one JSON object with
// only the request's fields, nothing after it.
func DecodeWiFiRequest(data []byte) (WiFiRequest, error) {
	if len(data) > maxWiFiRequest {
		return WiFiRequest{}, fmt.Errorf("larger than %d bytes", maxWiFiRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r WiFiRequest
	if err := dec.Decode(&r); err != nil {
		return WiFiRequest{}, err
	}
	if rest := strings.TrimSpace(string(data[dec.InputOffset():])); rest != "" {
		return WiFiRequest{}, errors.New("text after the JSON object")
	}
	return r, nil
}
