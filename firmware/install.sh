#!/bin/sh
# install.sh: turn a fresh Raspberry Pi OS Lite (Bookworm or Trixie, 64-bit
# or 32-bit) into a tiersbox. Run it as root, from the folder that holds it:
#
#   sudo ./install.sh --venue "Café des Possibles" [--mode own-wifi|venue]
#        [--ssid NAME] [--passphrase-file FILE] [--country CC]
#        [--admin-password-file FILE] [--binary PATH]
#
# Running it again is safe: it changes only what differs, never initialises the
# box twice and never changes the admin password. See README.md.
#
# For tests only:
#   TIERSBOX_ROOT=DIR       write everything under DIR instead of /
#                           (needs TIERSBOX_DRY_SYSTEM=1);
#   TIERSBOX_DRY_SYSTEM=1   print apt-get, useradd, chown, systemctl and
#                           nmcli commands instead of running them, and run
#                           the daemon's init as the current user.
set -eu
# Bytes, not characters: lengths and character classes below count bytes.
LC_ALL=C
export LC_ALL

ROOT=${TIERSBOX_ROOT:-/}
DRY=${TIERSBOX_DRY_SYSTEM:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
cd /

SERVICE_USER=tiersbox
BIN=/usr/local/bin/tiersbox
DATA=/var/lib/tiersbox
CONF=/etc/tiersbox/config.toml
PASSWORD_FILE=/root/tiersbox-admin-password

say() { printf 'tiersbox: %s\n' "$*"; }
die() {
	printf 'tiersbox: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	cat <<'EOF'
Usage: sudo ./install.sh --venue NAME [options]

  --venue NAME                 the venue's name (needed the first time only)
  --mode own-wifi|venue        own-wifi: the Pi opens its own WiFi (default);
                               venue: the Pi is plugged into the venue's network
  --ssid NAME                  WiFi name visitors see (own-wifi; default tiersbox)
  --passphrase-file FILE       WPA2 passphrase, first line of FILE (own-wifi;
                               default: an open network)
  --country CC                 country code for the WiFi, e.g. FR (default FR)
  --admin-password-file FILE   staff password, first line of FILE (first time
                               only; default: a random one in /root)
  --binary PATH                the tiersbox program (default: ./tiersbox, or
                               tiersbox-linux-arm64 / tiersbox-linux-armv6 here)
EOF
}

# sys runs a command that changes the system, or only prints it in a dry run.
sys() {
	if [ "$DRY" = 1 ]; then
		say "would run: $*"
	else
		"$@"
	fi
}

# at prints PATH as seen under ROOT.
at() {
	if [ "$ROOT" = / ]; then
		printf '%s' "$1"
	else
		printf '%s%s' "${ROOT%/}" "$1"
	fi
}

# toml_get SECTION KEY FILE prints the value of a one-line key (a string
# without its quotes, \" and \\ undone), or nothing.
toml_get() {
	awk -v sec="$1" -v key="$2" '
		/^[ \t]*\[/ { s = $0; sub(/^[ \t]*\[/, "", s); sub(/\].*$/, "", s); in_sec = (s == sec); next }
		in_sec && $0 ~ "^[ \t]*" key "[ \t]*=" {
			v = $0; sub(/^[^=]*=[ \t]*/, "", v)
			if (v ~ /^"/) {
				sub(/^"/, "", v); sub(/"[ \t]*(#.*)?$/, "", v)
				gsub(/\\"/, "\"", v); gsub(/\\\\/, "\\", v)
			} else {
				sub(/[ \t]*(#.*)?$/, "", v)
			}
			print v; exit
		}' "$3"
}

# toml_set SECTION KEY VALUE FILE sets KEY (VALUE is already TOML, quoted if a
# string) in SECTION, replacing its line or adding one under the heading.
toml_set() {
	TOML_VALUE=$3 awk -v sec="$1" -v key="$2" '
		function put() { print key " = " ENVIRON["TOML_VALUE"]; done = 1 }
		/^[ \t]*\[/ {
			if (in_sec && !done) put()
			s = $0; sub(/^[ \t]*\[/, "", s); sub(/\].*$/, "", s); in_sec = (s == sec)
			if (in_sec) seen = 1
			print; next
		}
		in_sec && !done && $0 ~ "^[ \t]*" key "[ \t]*=" { put(); next }
		{ print }
		END {
			if (in_sec && !done) put()
			else if (!seen) { print ""; print "[" sec "]"; put() }
		}' "$4" >"$4.new"
	mv "$4.new" "$4"
}

# toml_str prints its argument as a TOML basic string.
toml_str() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# first_line FILE prints the first line of FILE without its line ending.
first_line() {
	[ -r "$1" ] || die "cannot read $1"
	head -n 1 "$1" | tr -d '\r\n'
}

# has_control TEXT: whether TEXT holds a control character (tab, newline...).
has_control() {
	case $1 in *[[:cntrl:]]*) return 0 ;; esac
	return 1
}

# install_file SRC DEST MODE copies SRC over DEST atomically, only if they
# differ; it reports whether it did.
install_file() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		chmod "$3" "$2"
		return 1
	fi
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.new.$$"
	chmod "$3" "$2.new.$$"
	mv -f "$2.new.$$" "$2"
	return 0
}

# ---- arguments

venue='' mode='' ssid='' passphrase_file='' country='' admin_file='' binary=''
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		usage
		exit 0
		;;
	--venue | --mode | --ssid | --passphrase-file | --country | --admin-password-file | --binary)
		[ $# -ge 2 ] || die "$1 needs a value (see --help)"
		case $1 in
		--venue) venue=$2 ;;
		--mode) mode=$2 ;;
		--ssid) ssid=$2 ;;
		--passphrase-file) passphrase_file=$2 ;;
		--country) country=$2 ;;
		--admin-password-file) admin_file=$2 ;;
		--binary) binary=$2 ;;
		esac
		shift 2
		;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

case $mode in
'' | own-wifi | venue) ;;
*) die "--mode is own-wifi or venue, not \"$mode\"" ;;
esac
if [ -n "$ssid" ]; then
	if [ "$(printf '%s' "$ssid" | wc -c)" -gt 32 ]; then
		die "--ssid: a WiFi name has at most 32 bytes (accented letters count for 2)"
	fi
	if has_control "$ssid"; then
		die "--ssid: no control characters, please"
	fi
fi
if [ -n "$country" ]; then
	country=$(printf '%s' "$country" | tr '[:lower:]' '[:upper:]')
	case $country in
	[A-Z][A-Z]) ;;
	*) die "--country: a two-letter code such as FR, BE or CH, not \"$country\"" ;;
	esac
fi
passphrase=
if [ -n "$passphrase_file" ]; then
	passphrase=$(first_line "$passphrase_file")
	n=$(printf '%s' "$passphrase" | wc -c)
	if [ "$n" -lt 8 ] || [ "$n" -gt 63 ]; then
		die "--passphrase-file: a WPA2 passphrase has 8 to 63 characters (this one has $n)"
	fi
	case $passphrase in *[!\ -~]*) die "--passphrase-file: use only ASCII letters, digits, spaces and punctuation" ;; esac
fi
if [ -n "$venue" ] && has_control "$venue"; then
	die "--venue: no control characters, please"
fi
if [ -n "$admin_file" ]; then
	[ -s "$admin_file" ] || die "--admin-password-file: $admin_file is missing or empty"
fi

# ---- checks

if [ "$ROOT" != / ] && [ "$DRY" != 1 ]; then
	die "TIERSBOX_ROOT is for tests and needs TIERSBOX_DRY_SYSTEM=1"
fi
if [ "$DRY" = 1 ]; then
	say "dry run: nothing outside $ROOT is changed"
else
	[ "$(id -u)" = 0 ] || die "run me as root: sudo $0 $*"
	if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null; then
		die "this is for Raspberry Pi OS (or another Debian); apt-get is missing"
	fi
	[ -d /run/systemd/system ] || die "systemd is not running"
fi
[ -r "$HERE/config.example.toml" ] || die "config.example.toml must be beside install.sh ($HERE)"

conf=$(at "$CONF")
if [ -z "$mode" ]; then
	[ -f "$conf" ] && mode=$(toml_get network mode "$conf")
	mode=${mode:-own-wifi}
fi
# Written once "tiersbox init" has succeeded (the store's own file appears
# before init is done, so it cannot tell).
marker=$(at "$DATA")/.initialised
initialised=no
[ -e "$marker" ] && initialised=yes
if [ "$initialised" = no ] && [ -z "$venue" ]; then
	die "give the venue's name the first time, such as: --venue \"Café des Possibles\""
fi

# The program: given, beside this script, or the one built for this system.
# dpkg's architecture, not the kernel's, decides: 32-bit Raspberry Pi OS runs
# a 64-bit kernel on recent Pis, and the unit's SystemCallArchitectures=native
# allows only the system's own.
if [ -z "$binary" ]; then
	if [ -f "$HERE/tiersbox" ]; then
		binary=$HERE/tiersbox
	else
		arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
		case $arch in
		arm64 | aarch64) binary=$HERE/tiersbox-linux-arm64 ;;
		armhf | armel | armv6l | armv7l) binary=$HERE/tiersbox-linux-armv6 ;;
		*) die "no tiersbox program for $arch; give one with --binary PATH" ;;
		esac
	fi
fi
[ -f "$binary" ] || die "program not found: $binary (give it with --binary PATH)"
if ! "$binary" version >/dev/null 2>&1; then
	die "$binary does not run here: is it built for this Pi (arm64 or armv6)?"
fi

# ---- packages

packages="nftables"
if [ "$mode" = own-wifi ]; then
	packages="hostapd dnsmasq nftables rfkill"
elif [ -f "$conf" ] && [ "$(toml_get network dhcp "$conf")" = true ]; then
	packages="dnsmasq nftables"
fi
missing=
for p in $packages; do
	if [ "$DRY" = 1 ] || ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # one word per package
	{ sys apt-get update && sys apt-get install -y $missing; } ||
		die "could not install$missing: is the Pi online?"
fi

# ---- user, program, folders

if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
	say "creating the system user $SERVICE_USER"
	sys useradd --system --user-group --home-dir "$DATA" --no-create-home \
		--shell /usr/sbin/nologin --comment "tiersbox daemon" "$SERVICE_USER"
fi

bin=$(at "$BIN")
if install_file "$binary" "$bin" 0755; then
	say "installed $binary as $BIN"
fi

mkdir -p "$(at /etc/tiersbox)"
mkdir -p "$(at "$DATA")"
chmod 0750 "$(at "$DATA")"
sys chown "$SERVICE_USER:$SERVICE_USER" "$(at "$DATA")"

# ---- configuration: written once, then only the keys given here change

new=$(mktemp)
trap 'rm -f "$new" "$new.new"' EXIT
if [ -f "$conf" ]; then
	cp "$conf" "$new"
	old_mode=$(toml_get network mode "$conf")
else
	cp "$HERE/config.example.toml" "$new"
	old_mode=
fi
if [ "$mode" != "$old_mode" ]; then
	toml_set network mode "$(toml_str "$mode")" "$new"
	if [ "$mode" = venue ]; then
		# The venue's DHCP server gives the box its address on Ethernet.
		toml_set network interface '"eth0"' "$new"
		toml_set network address '""' "$new"
		toml_set network dhcp false "$new"
		toml_set portal address '""' "$new"
		# Visitors use the venue's DNS: they find the box as tiers.local.
		toml_set portal mdns true "$new"
	elif [ -n "$old_mode" ]; then
		toml_set network interface '"wlan0"' "$new"
		toml_set network address '"10.42.0.1/24"' "$new"
		toml_set network dhcp true "$new"
		toml_set portal address '"10.42.0.1"' "$new"
		toml_set portal mdns false "$new"
	fi
fi
[ -z "$ssid" ] || toml_set network ssid "$(toml_str "$ssid")" "$new"
[ -z "$passphrase_file" ] || toml_set network passphrase "$(toml_str "$passphrase")" "$new"
[ -z "$country" ] || toml_set network country "$(toml_str "$country")" "$new"
if install_file "$new" "$conf" 0640; then
	say "wrote $CONF"
fi
# A WiFi chosen here replaces the one staff chose on the settings page,
# which would otherwise still override the config.
request=$(at "$DATA")/wifi-request.json
if { [ -n "$ssid" ] || [ -n "$passphrase_file" ]; } && [ -e "$request" ]; then
	rm -f "$request"
	say "the WiFi given here replaces the one chosen on the settings page"
fi
sys chown "root:$SERVICE_USER" "$conf"

mode=$(toml_get network mode "$conf")
iface=$(toml_get network interface "$conf")
dhcp=$(toml_get network dhcp "$conf")
address=$(toml_get network address "$conf")

# ---- first start: initialise the data folder, once

if [ "$initialised" = yes ]; then
	say "already initialised: keeping the data and the admin password"
else
	generated=no
	if [ -n "$admin_file" ]; then
		password_file=$admin_file
	else
		password_file=$(at "$PASSWORD_FILE")
		# An earlier run may have made one and failed later: keep it.
		if [ ! -s "$password_file" ]; then
			mkdir -p "$(dirname "$password_file")"
			(
				umask 077
				# 20 characters from 31 unambiguous ones: about 99 bits.
				tr -dc 'abcdefghjkmnpqrstuvwxyz23456789' </dev/urandom | head -c 20 >"$password_file"
				echo >>"$password_file"
			)
			generated=yes
		fi
		chmod 0600 "$password_file"
	fi
	# The service user cannot read root's file: give it a copy of its own.
	copy=$(mktemp)
	trap 'rm -f "$new" "$new.new" "$copy"' EXIT
	first_line "$password_file" >"$copy"
	echo >>"$copy"
	sys chown "$SERVICE_USER" "$copy"
	say "initialising $DATA for \"$venue\""
	if [ "$DRY" = 1 ]; then
		say "dry run: running init as $(id -un), not $SERVICE_USER"
		set -- "$bin" init --data "$(at "$DATA")" --venue "$venue" --admin-password-file "$copy"
	else
		set -- runuser -u "$SERVICE_USER" -- "$bin" init --data "$DATA" --venue "$venue" --admin-password-file "$copy"
	fi
	if out=$("$@" 2>&1); then
		printf '%s\n' "$out"
		if [ -z "$admin_file" ]; then
			say "the staff (admin) password is in $PASSWORD_FILE, readable by root only:"
			say "  sudo cat $PASSWORD_FILE"
		fi
	elif printf '%s' "$out" | grep -q 'already set up'; then
		# Initialised by hand before: its password stays.
		say "the box was already set up: keeping its data and admin password"
		[ "$generated" = no ] || rm -f "$password_file"
	else
		printf '%s\n' "$out" >&2
		die "tiersbox init failed (see above); fix it and run install.sh again"
	fi
	rm -f "$copy"
	: >"$marker"
fi

# ---- network files

say "writing the network files for $mode mode on $iface"
"$bin" network-config --config "$conf" --root "$ROOT"

# Files a previous mode left behind, with the service that used them.
drop() {
	unit=$1
	shift
	found=no
	for f in "$@"; do
		[ -e "$(at "$f")" ] && found=yes
	done
	[ "$found" = yes ] || return 0
	say "$unit is no longer needed: stopping it"
	sys systemctl disable --now "$unit" || true
	for f in "$@"; do
		rm -f "$(at "$f")"
	done
}
if [ "$mode" != own-wifi ]; then
	drop tiersbox-hostapd.service /etc/hostapd/tiersbox.conf /etc/systemd/system/tiersbox-hostapd.service
	drop tiersbox-wifi.path /etc/systemd/system/tiersbox-wifi.path /etc/systemd/system/tiersbox-wifi.service
fi
if [ "$dhcp" != true ]; then
	drop dnsmasq.service /etc/dnsmasq.d/tiersbox.conf /etc/systemd/system/dnsmasq.service.d/tiersbox.conf
fi
if [ -z "$address" ] && [ -e "$(at /etc/NetworkManager/conf.d/tiersbox.conf)" ]; then
	drop tiersbox-net.service /etc/systemd/system/tiersbox-net.service /etc/NetworkManager/conf.d/tiersbox.conf
	# Give the interfaces back to NetworkManager.
	sys systemctl reload NetworkManager.service || true
	say "the interfaces went back to NetworkManager: reboot if the network does not come back"
fi

# ---- services

units="nftables.service tiersbox-firewall.service"
[ -e "$(at /etc/systemd/system/tiersbox-net.service)" ] && units="$units tiersbox-net.service"
# tiersbox-wifi.path applies the WiFi staff choose on the settings page.
[ "$mode" = own-wifi ] && units="$units tiersbox-hostapd.service tiersbox-wifi.path"
[ "$dhcp" = true ] && units="$units dnsmasq.service"
units="$units tiersbox.service"

sys systemctl daemon-reload
if [ -e "$(at /etc/NetworkManager/conf.d/tiersbox.conf)" ]; then
	# Take the interface from NetworkManager now, not only at the next boot.
	if [ "$DRY" = 1 ] || systemctl is-active --quiet NetworkManager.service; then
		sys systemctl reload NetworkManager.service || true
		sys nmcli device set "$iface" managed no || true
	fi
fi
# A unit bound to a missing interface would wait for it: do not wait here.
wait_flag=
if [ "$DRY" != 1 ] && [ ! -e "/sys/class/net/$iface" ]; then
	say "warning: there is no $iface yet; its services start once it appears (plug in the adapter or the cable?)"
	wait_flag=--no-block
fi
# shellcheck disable=SC2086 # one word per unit
sys systemctl enable $units
# nftables.service is started, not restarted: a restart would reload
# /etc/nftables.conf, and its "flush ruleset" drops other programs' rules.
sys systemctl start nftables.service
# shellcheck disable=SC2086
sys systemctl restart $wait_flag ${units#nftables.service } ||
	say "warning: not everything started; see: systemctl status ${units#nftables.service }"

say "done. Check with: systemctl status tiersbox   and   journalctl -u tiersbox"
if [ "$mode" = own-wifi ]; then
	say "visitors join the WiFi \"$(toml_get network ssid "$conf")\" and land on the portal"
else
	say "visitors on the venue's network open http://tiers.local/"
fi
