// Package firmware turns a Raspberry Pi running Raspberry Pi OS Lite
// (Bookworm or Trixie, arm64 or 32-bit armhf) into a tiersbox: it renders the
// system files that put the daemon on the visitors' network.
//
// Only cmd/tiersbox imports it (the "tiersbox network-config" subcommand).
// Nothing under box/, portal/ or sync/ may: this package describes the host,
// not the application.
//
// # What it renders
//
// [Render] turns [Params] into a list of [File], each with its absolute path on
// the Pi. Which files depends on the [Mode]:
//
//   - always: the daemon's systemd unit (tiersbox.service) with its hardening,
//     and the nftables table that sends visitors' DNS and HTTP to the daemon,
//     resets HTTPS at once and routes nothing to the outside
//     (tiersbox-firewall.service loads it);
//   - when the box sets the address of the interface (own-wifi, or venue mode
//     with a static address): tiersbox-net.service, which unblocks the radio
//     and sets the address, and a NetworkManager snippet that leaves the
//     interface alone;
//   - own-wifi: the hostapd configuration and tiersbox-hostapd.service, which
//     runs hostapd on it;
//   - when the box hands out addresses: the dnsmasq configuration (DHCP only,
//     the daemon answers DNS) and a drop-in for Debian's dnsmasq.service.
//
// The templates are embedded and parsed when the package is initialised, so a
// missing or broken template fails at once.
//
// # Writing them
//
// [Write] writes files under a root folder ("/" on a Pi, a temporary folder in
// tests): each file atomically (temporary file, fsync, rename), only when its
// content or mode differs, so running it twice changes nothing. It never
// removes files; install.sh cleans up after a change of mode.
//
// # Installing
//
// install.sh, beside this package, is what staff run on a fresh Pi; it calls
// "tiersbox network-config", which calls [Render] and [Write]. README.md is
// written for them.
package firmware
