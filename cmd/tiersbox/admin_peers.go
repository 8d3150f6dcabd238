package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/identity"
	"tiersbox/portal/web"
	"tiersbox/sync/bep"
	"tiersbox/sync/discovery"
	"tiersbox/sync/link"
)

// peersView is box-to-box sync as the staff's /admin/peers page and the
// pairing endpoint see it (web.PeersView): the portal never imports
// sync/..., so this is where the two meet. It is safe for concurrent use.
type peersView struct {
	me     protocol.DeviceID
	venue  string
	links  *link.Links
	node   *bep.Node
	pairer *link.Pairer
	// portal is where the portal listens, for the pairing string.
	portal netip.AddrPort
	client *http.Client
	logger *slog.Logger
}

// pairHTTPTimeout bounds the whole pairing request to the other box.
const pairHTTPTimeout = 10 * time.Second

// newPeersView wires the page to the links, the sync node and discovery
// (discovered in peers.go). portal is the address the HTTP server is
// bound to.
func newPeersView(links *link.Links, node *bep.Node, id *identity.Identity, venue string, portal netip.AddrPort, logger *slog.Logger) *peersView {
	v := &peersView{
		me: id.DeviceID, venue: venue, links: links, node: node, portal: portal, logger: logger,
		client: &http.Client{
			Timeout: pairHTTPTimeout,
			// The other box is on the venue's network: no proxy, and no
			// redirect (a captive portal's is no answer).
			Transport:     &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	v.pairer = link.NewPairer(links, link.PairOptions{
		Name:      func() string { return venue },
		Addresses: v.listenAddresses,
	})
	return v
}

// listenAddresses is where the node accepts sync, as bound: its host may
// be unspecified ([::]), which the other box replaces with the address it
// reached this one at.
func (v *peersView) listenAddresses() []string {
	if a := v.node.Addr(); a != nil {
		return []string{"tcp://" + a.String()}
	}
	return nil
}

func (v *peersView) Self() web.PeerSelf {
	s := web.PeerSelf{Name: v.venue, DeviceID: v.me.String()}
	a, ok := v.node.Addr().(*net.TCPAddr)
	if !ok {
		return s
	}
	ap := a.AddrPort()
	if !ap.Addr().IsUnspecified() {
		s.Addresses = []string{"tcp://" + netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()}
		return s
	}
	for _, ip := range localAddrs() {
		s.Addresses = append(s.Addresses, "tcp://"+netip.AddrPortFrom(ip, ap.Port()).String())
	}
	return s
}

func (v *peersView) Discovered() []web.PeerSeen {
	var out []web.PeerSeen
	for _, p := range discovered() {
		_, linked, _ := v.links.Get(p.DeviceID)
		out = append(out, seenPeer(p, linked))
	}
	return out
}

func seenPeer(p discovery.Peer, linked bool) web.PeerSeen {
	return web.PeerSeen{DeviceID: p.DeviceID.String(), Name: p.Name, Version: p.Version, Addresses: p.Addresses, Linked: linked}
}

func (v *peersView) Linked() ([]web.PeerLinked, error) {
	st, err := v.node.Status()
	if err != nil {
		return nil, err
	}
	out := make([]web.PeerLinked, 0, len(st))
	for _, p := range st {
		l := web.PeerLinked{
			DeviceID: p.ID.String(), Name: p.Name, Connected: p.Connected, Address: p.Address,
			LastSeen: p.LastSeen, InBytes: p.InBytes, OutBytes: p.OutBytes,
		}
		for _, f := range p.Folders {
			kind := f.ID
			switch f.ID {
			case bep.FolderJournal:
				kind = web.FolderJournal
			case bep.FolderDrive:
				kind = web.FolderDrive
			}
			l.Folders = append(l.Folders, web.PeerFolder{
				Kind: kind, NeedFiles: f.NeedFiles, NeedBytes: f.NeedBytes,
				TheyNeedFiles: f.TheyNeedFiles, TheyNeedBytes: f.TheyNeedBytes,
			})
		}
		out = append(out, l)
	}
	return out, nil
}

// parseDeviceID reads a device ID staff typed.
func parseDeviceID(s string) (protocol.DeviceID, error) {
	id, err := protocol.DeviceIDFromString(strings.TrimSpace(s))
	if err != nil {
		return id, fmt.Errorf("%w: %v", web.ErrPeerID, err)
	}
	if id == protocol.EmptyDeviceID {
		return id, web.ErrPeerID
	}
	return id, nil
}

func (v *peersView) Link(id, address, name string) (string, error) {
	dev, err := parseDeviceID(id)
	if err != nil {
		return "", err
	}
	d := link.Device{ID: dev, Name: name}
	if address != "" {
		d.Addresses = []string{address}
	}
	d, err = v.links.Add(d)
	if err != nil {
		return "", toWeb(err)
	}
	return d.ID.String(), nil
}

func (v *peersView) Unlink(id string) error {
	dev, err := parseDeviceID(id)
	if err != nil {
		return err
	}
	found, err := v.links.Remove(dev)
	if err != nil {
		return err
	}
	if !found {
		return web.ErrPeerNotLinked
	}
	return nil
}

func (v *peersView) StartPairing(host string) (web.Pairing, error) {
	c, err := v.pairer.Start(pairingHost(host, v.portal))
	if err != nil {
		return web.Pairing{}, err
	}
	return v.pairing(c), nil
}

func (v *peersView) Pairing() (web.Pairing, bool, error) {
	c, ok, err := v.pairer.Current()
	if err != nil || !ok {
		return web.Pairing{}, ok, err
	}
	return v.pairing(c), true, nil
}

func (v *peersView) pairing(c link.Code) web.Pairing {
	p := web.Pairing{Code: link.DisplayCode(c.Code), Invite: v.pairer.Invite(c).String(), Expires: c.Expires, UsedBy: c.UsedName}
	if p.UsedBy == "" && c.UsedBy != protocol.EmptyDeviceID {
		p.UsedBy = c.UsedBy.String()
	}
	switch c.State(time.Now()) {
	case link.CodeUsed:
		p.State = web.PairingUsed
	case link.CodeExpired:
		p.State = web.PairingExpired
	case link.CodeBurned:
		p.State = web.PairingBurned
	}
	return p
}

// Pair is box B's side: it sends A (named by the pairing string) its
// request, checks A's answer and links A.
func (v *peersView) Pair(ctx context.Context, invite string) (string, error) {
	inv, err := link.ParseInvite(invite)
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrPairInvite, err)
	}
	if inv.Device == v.me {
		return "", web.ErrPeerSelf
	}
	var addr string
	if a := v.listenAddresses(); len(a) > 0 {
		addr = a[0]
	}
	body, err := json.Marshal(inv.Request(v.me, v.venue, addr))
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, inv.URL(), bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrPairInvite, err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := v.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrPairUnreachable, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, link.MaxAnswer+1))
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrPairUnreachable, err)
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return "", web.ErrPairWait
	case res.StatusCode != http.StatusOK:
		if e := link.DecodeError(data); e != nil {
			return "", toWeb(e)
		}
		return "", fmt.Errorf("%w: %s answered %s", web.ErrPairRefused, inv.Host, res.Status)
	}
	ans, err := link.ParsePairAnswer(data)
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrPairRefused, err)
	}
	dev, err := inv.Accept(ans, v.me)
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrPairImpostor, err)
	}
	if dev, err = v.links.Add(dev); err != nil {
		return "", err
	}
	v.logger.Info("paired with another box", "peer", dev.ID.String(), "name", dev.Name)
	return dev.ID.String(), nil
}

// AnswerPairing is box A's side of POST /pair.
func (v *peersView) AnswerPairing(body []byte, from netip.Addr) ([]byte, error) {
	req, err := link.ParsePairRequest(body)
	var ans link.PairAnswer
	var dev link.Device
	if err == nil {
		ans, dev, err = v.pairer.Answer(req, from)
	}
	if err != nil {
		return link.EncodeError(err), toWeb(err)
	}
	v.logger.Info("another box paired with this one", "peer", dev.ID.String(), "name", dev.Name, "client", from.String())
	return json.Marshal(ans)
}

// linkErrors maps sync/link's errors to the portal's, which say the same
// to staff; in one place, as every boundary's errors are.
var linkErrors = []struct{ from, to error }{
	{link.ErrAddress, web.ErrPeerAddress},
	{link.ErrSelf, web.ErrPeerSelf},
	{link.ErrName, web.ErrPeerName},
	{link.ErrInvite, web.ErrPairInvite},
	{link.ErrRequest, web.ErrPairRequest},
	{link.ErrNoCode, web.ErrPairNoCode},
	{link.ErrExpired, web.ErrPairExpired},
	{link.ErrUsed, web.ErrPairUsed},
	{link.ErrBurned, web.ErrPairBurned},
	{link.ErrProof, web.ErrPairWrongCode},
	{link.ErrAnswer, web.ErrPairImpostor},
	{link.ErrOtherBox, web.ErrPairImpostor},
}

// toWeb wraps err in the portal's error that says the same, keeping its
// text for the logs; any other error is returned as it is.
func toWeb(err error) error {
	for _, e := range linkErrors {
		if errors.Is(err, e.from) {
			return fmt.Errorf("%w: %v", e.to, err)
		}
	}
	return err
}

// pairingHost is the HOST:PORT a pairing string gives for this box's
// portal: the address the portal is bound to; when bound to every
// address, the one staff reached the page at (hint, the request's Host)
// if it is an IP address other than loopback; else the box's first
// address on the network.
func pairingHost(hint string, bound netip.AddrPort) string {
	if a := bound.Addr().Unmap(); a.IsValid() && !a.IsUnspecified() {
		return netip.AddrPortFrom(a, bound.Port()).String()
	}
	host, _, err := net.SplitHostPort(hint)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(hint, "["), "]")
	}
	if a, err := netip.ParseAddr(host); err == nil && !a.IsLoopback() && !a.IsUnspecified() && a.Zone() == "" {
		return netip.AddrPortFrom(a.Unmap(), bound.Port()).String()
	}
	if addrs := localAddrs(); len(addrs) > 0 {
		return netip.AddrPortFrom(addrs[0], bound.Port()).String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(bound.Port())))
}

// localAddrs are the box's addresses on its networks: IPv4 first, then
// global IPv6; no loopback or link-local address.
func localAddrs() []netip.Addr {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var v4, v6 []netip.Addr
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := p.Addr().Unmap()
			switch {
			case ip.IsLoopback() || ip.IsLinkLocalUnicast():
			case ip.Is4():
				v4 = append(v4, ip)
			case ip.IsGlobalUnicast():
				v6 = append(v6, ip)
			}
		}
	}
	return append(v4, v6...)
}
