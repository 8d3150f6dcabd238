package captive

import (
	"bufio"
	"bytes"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Neighbours reads the kernel's IPv4 neighbour (ARP) table to find the MAC
// address of a device on the box's own network. On a routed client, on IPv6
// or on a platform without /proc/net/arp it finds nothing, and the box
// recognises visitors by IP address alone.
type Neighbours struct {
	// Path is the table to read; empty means /proc/net/arp.
	Path string
}

// arpFlagComplete is ATF_COM: the entry has a resolved hardware address.
const arpFlagComplete = 0x2

// MAC returns the MAC address of addr in lower case, or "" if unknown.
// The table is small (one line per device on the WiFi), so it is read on
// each call rather than cached and allowed to go stale.
func (n Neighbours) MAC(addr netip.Addr) string {
	addr = addr.Unmap()
	if !addr.Is4() || addr.IsLoopback() {
		return ""
	}
	path := n.Path
	if path == "" {
		path = "/proc/net/arp"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return macFromARP(data, addr)
}

// macFromARP parses /proc/net/arp:
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	10.42.0.11       0x1         0x2         aa:bb:cc:dd:ee:ff     *        wlan0
func macFromARP(table []byte, addr netip.Addr) string {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil || ip != addr {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 64)
		if err != nil || flags&arpFlagComplete == 0 {
			return ""
		}
		hw, err := net.ParseMAC(f[3])
		if err != nil || len(hw) != 6 || bytes.Equal(hw, make([]byte, 6)) {
			return ""
		}
		return hw.String()
	}
	return ""
}
