// Package captive makes phones and laptops find the box's portal when they
// join its network, and lets them stay once the visitor has entered.
//
// It has three parts:
//
//   - a DNS responder (DNS) that answers every name with the box's address,
//     so that whatever a device asks for reaches the box;
//   - the HTTP side (Portal): the connectivity checks of iOS/macOS,
//     Android, ChromeOS, Windows, Firefox and NetworkManager are answered
//     "captive" (a redirect to the welcome page) before the visitor has
//     entered and with the exact success reply each system expects after;
//     any other foreign address leads to the welcome page, or once entered
//     to the box's "what is here" page; and the RFC 8908 Captive Portal API;
//   - a reader of the kernel's neighbour table, to recognise a device by its
//     MAC address when its IP address changes.
//
// A visitor is recognised by the device, not by a cookie, because the
// systems' checks carry none: see box/visitor.
//
// # HTTPS
//
// The box never intercepts HTTPS with a forged certificate. Nothing listens
// on port 443 and the firewall (firmware/) rejects it at once, so browsers
// fail fast and fall back to the plain-HTTP checks above.
//
// Only cmd/tiersbox imports this package; portal/web uses its Probes table
// for nothing and knows it only through the handler chain cmd builds.
package captive
