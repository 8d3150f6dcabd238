// Package discovery finds other boxes on the local network with multicast
// DNS, so that box-to-box sync can dial them without staff typing an
// address.
//
// # What is announced
//
// A box announces one DNS-SD service instance of type ServiceType in the
// "local." domain (RFC 6762, RFC 6763). The instance is named by the box's
// Syncthing device ID, which is unique, so two venues with the same name
// never merge into one entry. Its SRV record carries the box's BEP port,
// its A and AAAA records the box's addresses on the interfaces it serves,
// and its TXT record three keys:
//
//	id=<device ID, as Syncthing writes it>
//	name=<venue name>
//	version=<tiersbox version>
//
// # Trust
//
// Discovery never grants trust (DESIGN.md §4). Anyone on the LAN can
// announce anything, so every announcement is treated as outside input:
// an entry whose id is not a valid device ID is dropped, the name and
// version are cleaned and bounded (MaxNameRunes, MaxVersionBytes), and
// loopback or multicast addresses are ignored. A Peer is only a hint of
// where a device says it is; whether to exchange data with it is decided
// by the BEP layer, which checks the device ID against the boxes staff
// linked, on the TLS certificate the peer shows.
//
// # Limits of the mDNS library
//
// github.com/hashicorp/mdns keeps one IPv4 and one IPv6 address per
// answer and does not tell on which interface a query arrived. A box that
// serves one interface (the usual case: the venue's LAN) announces exactly
// its addresses there. With several interfaces, each is announced with its
// own addresses, but a peer may hear the answer meant for another link;
// Peer.Addresses therefore keeps every address seen recently, and the
// dialer tries them all. IPv6 link-local addresses are not announced: the
// receiver could not tell which of its links they belong to.
//
// # Who imports it
//
// cmd/tiersbox wires it to sync/bep (through OnPeer) and to the admin page
// (through Peers). It imports nothing of box/ or portal/.
package discovery
