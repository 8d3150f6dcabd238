package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"tiersbox/portal/captive"
)

// The staff page about other boxes, /admin/peers: this box's device ID
// and sync addresses, the boxes discovery sees on the network, the linked
// ones with what is left to sync, a form to link one by device ID, and
// pairing with a one-time code (DESIGN.md §4: discovery never means
// trust, only staff link). POST /pair is the public endpoint another box
// calls when its staff entered this box's pairing string; it proves that
// it knows the code, which is what makes the link.

func init() { pageNames = append(pageNames, "admin_peers") }

// PeersView is what the peers page needs of box-to-box sync. cmd
// implements it over sync/bep, sync/link and sync/discovery, which this
// package never imports. Its methods must be safe for concurrent use.
// Errors that staff can act on are the Err* values of this file (wrapped
// or not); any other error is the box's fault.
type PeersView interface {
	// Self describes this box.
	Self() PeerSelf
	// Discovered lists the boxes seen on the local network; empty when
	// discovery is off.
	Discovered() []PeerSeen
	// Linked lists the linked devices with their sync state.
	Linked() ([]PeerLinked, error)
	// Link links the device id (as staff typed it), to be dialled at
	// address (tcp://HOST:PORT, or "" to rely on discovery), under name
	// (or ""). It returns the device ID as written canonically, or
	// ErrPeerID, ErrPeerSelf, ErrPeerAddress or ErrPeerName.
	Link(id, address, name string) (string, error)
	// Unlink removes the link with id: ErrPeerID, or ErrPeerNotLinked.
	Unlink(id string) error
	// StartPairing creates a one-time pairing code, which replaces any
	// earlier one. host is the Host header the staff's browser used to
	// reach this page, a hint for the portal address the pairing string
	// gives (another box cannot reach "tiers.box").
	StartPairing(host string) (Pairing, error)
	// Pairing returns the latest pairing code and what became of it; ok
	// is false when none was ever created.
	Pairing() (p Pairing, ok bool, err error)
	// Pair pairs with the box whose pairing string staff entered: it
	// asks that box over HTTP, checks its answer and links it. It
	// returns the device ID of the box linked, or one of the ErrPair*
	// errors, ErrPeerSelf when the string is this box's own.
	Pair(ctx context.Context, invite string) (string, error)
	// AnswerPairing answers another box's POST /pair body, sent from
	// address from: it returns the JSON to send back, with a nil error
	// when the box was linked; with ErrPairRequest, ErrPeerName,
	// ErrPeerAddress, ErrPeerSelf, ErrPairNoCode, ErrPairExpired,
	// ErrPairUsed, ErrPairBurned or ErrPairWrongCode when it was refused
	// (the JSON then says why); with another error when this box failed
	// (the JSON may then be nil).
	AnswerPairing(body []byte, from netip.Addr) ([]byte, error)
}

// PeerSelf is this box as other boxes know it.
type PeerSelf struct {
	Name     string
	DeviceID string
	// Addresses are where this box accepts sync, as tcp://HOST:PORT;
	// empty when it only dials out.
	Addresses []string
}

// PeerSeen is a box discovery saw on the network.
type PeerSeen struct {
	DeviceID, Name, Version string
	// Addresses are where it was heard, as tcp://HOST:PORT; never empty.
	Addresses []string
	// Linked is true when staff already linked it.
	Linked bool
}

// PeerLinked is a linked device and how far it is in step.
type PeerLinked struct {
	DeviceID, Name string
	Connected      bool
	// Address is where it is connected from, when connected.
	Address string
	// LastSeen is when it was last connected; zero when never.
	LastSeen time.Time
	// InBytes and OutBytes are what the current connection carried.
	InBytes, OutBytes int64
	// Folders say, when connected, what is left to transfer in each
	// shared folder.
	Folders []PeerFolder
}

// PeerFolder is what is left to transfer, each way, in one folder.
type PeerFolder struct {
	// Kind is FolderJournal or FolderDrive (another shows as its ID).
	Kind string
	// Need is what this box still has to receive.
	NeedFiles int
	NeedBytes int64
	// TheyNeed is what the other device still has to receive.
	TheyNeedFiles int
	TheyNeedBytes int64
}

// The folders box-to-box sync shares.
const (
	FolderJournal = "journal"
	FolderDrive   = "drive"
)

// Pairing is a one-time pairing code and what became of it.
type Pairing struct {
	// Code is as staff read it: ABCD-EFGH-JKMN.
	Code string
	// Invite is the pairing string another box's staff enter, which the
	// QR code holds.
	Invite  string
	Expires time.Time
	State   PairingState
	// UsedBy names the box that used the code: its name, else its device
	// ID.
	UsedBy string
}

// PairingState is what became of a pairing code.
type PairingState int

const (
	PairingActive  PairingState = iota // may be used until Expires
	PairingUsed                        // a box used it and was linked
	PairingExpired                     // unused in time
	PairingBurned                      // too many wrong attempts
)

// Errors a PeersView returns, each with its message for staff.
var (
	ErrPeerID        = errors.New("web: not a device ID")
	ErrPeerSelf      = errors.New("web: that is this box's own device ID")
	ErrPeerAddress   = errors.New("web: an address is tcp://HOST:PORT")
	ErrPeerName      = errors.New("web: a name is at most 64 letters, without control characters")
	ErrPeerNotLinked = errors.New("web: that device is not linked")

	ErrPairInvite      = errors.New("web: not a pairing string")
	ErrPairUnreachable = errors.New("web: the other box could not be reached")
	ErrPairNoCode      = errors.New("web: the other box has no pairing code")
	ErrPairExpired     = errors.New("web: the pairing code expired")
	ErrPairUsed        = errors.New("web: the pairing code was already used")
	ErrPairBurned      = errors.New("web: the pairing code was burned after too many wrong attempts")
	ErrPairWrongCode   = errors.New("web: wrong pairing code")
	ErrPairWait        = errors.New("web: the other box asks to wait before trying again")
	ErrPairRefused     = errors.New("web: the other box refused the pairing")
	ErrPairImpostor    = errors.New("web: the box that answered could not prove it is the one in the pairing string")
	ErrPairRequest     = errors.New("web: not a pairing request")
)

// peersRoutes declares the peers page, its forms and POST /pair.
func (s *Server) peersRoutes(mux *http.ServeMux, forms *http.CrossOriginProtection) {
	if s.opts.Peers == nil {
		return
	}
	staff := func(h http.HandlerFunc) http.Handler { return s.requireStaff(forms.Handler(h)) }
	mux.Handle("GET /admin/peers", s.requireStaff(http.HandlerFunc(s.peersShow)))
	for path, h := range map[string]http.HandlerFunc{
		"/admin/peers/link":   s.peersLink,
		"/admin/peers/unlink": s.peersUnlink,
		"/admin/peers/code":   s.peersCode,
		"/admin/peers/pair":   s.peersPair,
	} {
		mux.Handle("POST "+path, staff(h))
		mux.Handle(path, s.onlyMethods("POST"))
	}
	// Another box's request carries no cookie and no Origin: the
	// cross-origin check lets it through, and refuses a browser that a
	// foreign page would make post here.
	mux.Handle("POST /pair", forms.Handler(http.HandlerFunc(s.pairAnswer)))
	mux.Handle("/pair", s.onlyMethods("POST"))
}

// peersPage is what the peers template shows.
type peersPage struct {
	Self       PeerSelf
	Discovered []peerSeenRow
	Linked     []peerLinkedRow
	Pairing    *pairingRow
	// Done says what the last action did.
	Done string
	// The link-by-ID form, kept after an error, and which field is wrong.
	Form       linkForm
	FormError  string
	FormField  string
	Invite     string // the pairing string typed, kept after an error
	PairError  string
	PairActive bool
	// Confirm is the link staff asked to remove, awaiting confirmation.
	Confirm *peerLinkedRow
}

type linkForm struct{ ID, Address, Name string }

type peerSeenRow struct {
	PeerSeen
	Address string // the first address, which the Link button uses
}

type peerLinkedRow struct {
	PeerLinked
	Label   string // the name, or the device ID
	State   string
	Traffic string
	Folders []folderRow
}

type folderRow struct {
	Label, Text string
	InSync      bool
}

type pairingRow struct {
	Pairing
	Active bool
	Status string // what became of it, when not active
	Until  string
	QR     template.HTML
}

// peersDone are the messages shown after an action, by the done=
// parameter of the redirect.
var peersDone = map[string]struct {
	key   string
	named bool // the message names the device of the id= parameter
}{
	"linked":   {"peers.done.linked", true},
	"unlinked": {"peers.done.unlinked", false},
	"code":     {"peers.done.code", false},
	"paired":   {"peers.done.paired", true},
}

// peersShow shows the page.
func (s *Server) peersShow(w http.ResponseWriter, r *http.Request) {
	s.peersRender(w, r, http.StatusOK, &peersPage{}, "")
}

// peersRender fills v with the box's state and renders the page with an
// error message at the top (pageErr, a message key) or none.
func (s *Server) peersRender(w http.ResponseWriter, r *http.Request, status int, v *peersPage, pageErr string) {
	p, err := s.newPage(r, nil)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	pv := s.opts.Peers
	v.Self = pv.Self()
	linked, err := pv.Linked()
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	names := make(map[string]string, len(linked))
	for _, l := range linked {
		row := linkedRow(l, p.Lang)
		names[l.DeviceID] = row.Label
		v.Linked = append(v.Linked, row)
	}
	for _, d := range pv.Discovered() {
		row := peerSeenRow{PeerSeen: d}
		if len(d.Addresses) > 0 {
			row.Address = d.Addresses[0]
		}
		if _, ok := names[d.DeviceID]; ok {
			row.Linked = true // cmd says so too, unless the lists moved in between
		}
		v.Discovered = append(v.Discovered, row)
	}
	if pr, ok, err := pv.Pairing(); err != nil {
		s.serverError(w, r, err)
		return
	} else if ok {
		v.Pairing = pairingView(pr, p.Lang)
		v.PairActive = v.Pairing.Active
	}
	if done, ok := peersDone[r.URL.Query().Get("done")]; ok && r.Method == http.MethodGet {
		if !done.named {
			v.Done = translate(p.Lang, done.key)
		} else {
			// Only a device ID, or the name of a linked one, comes from
			// the URL into the message: a link cannot make it say
			// anything else.
			who := r.URL.Query().Get("id")
			if n, ok := names[who]; ok {
				who = n
			} else if !deviceIDText.MatchString(who) {
				who = "?"
			}
			v.Done = translate(p.Lang, done.key, who)
		}
	}
	if pageErr != "" {
		p.Error = translate(p.Lang, pageErr)
	}
	p.Admin = &adminPage{Peers: v}
	s.render(w, r, status, "admin_peers", p)
}

// deviceIDText is a device ID as written canonically.
var deviceIDText = regexp.MustCompile(`^[A-Z2-7]{7}(-[A-Z2-7]{7}){7}$`)

// linkedRow writes a linked device's state for staff.
func linkedRow(l PeerLinked, lang string) peerLinkedRow {
	row := peerLinkedRow{PeerLinked: l, Label: l.Name}
	if row.Label == "" {
		row.Label = l.DeviceID
	}
	switch {
	case l.Connected:
		row.State = translate(lang, "peers.state.connected", l.Address)
		row.Traffic = translate(lang, "peers.traffic", formatSize(l.InBytes, lang), formatSize(l.OutBytes, lang))
	case !l.LastSeen.IsZero():
		row.State = translate(lang, "peers.state.seen", formatWhen(l.LastSeen, lang))
	default:
		row.State = translate(lang, "peers.state.never")
	}
	for _, f := range l.Folders {
		fr := folderRow{Label: f.Kind, InSync: f.NeedFiles == 0 && f.TheyNeedFiles == 0}
		if f.Kind == FolderJournal || f.Kind == FolderDrive {
			fr.Label = translate(lang, "peers.folder."+f.Kind)
		}
		in := translate(lang, "peers.sync.in", filesText(f.NeedFiles, lang), formatSize(f.NeedBytes, lang))
		out := translate(lang, "peers.sync.out", filesText(f.TheyNeedFiles, lang), formatSize(f.TheyNeedBytes, lang))
		switch {
		case fr.InSync:
			fr.Text = translate(lang, "peers.sync.done")
		case f.TheyNeedFiles == 0:
			fr.Text = in
		case f.NeedFiles == 0:
			fr.Text = out
		default:
			fr.Text = translate(lang, "peers.sync.both", in, out)
		}
		row.Folders = append(row.Folders, fr)
	}
	return row
}

// filesText is "1 file" or "n files".
func filesText(n int, lang string) string {
	if n == 1 {
		return translate(lang, "peers.files.one")
	}
	return translate(lang, "peers.files.many", n)
}

// pairingView writes a pairing code for staff, with its QR code while it
// can be used.
func pairingView(pr Pairing, lang string) *pairingRow {
	row := &pairingRow{Pairing: pr, Active: pr.State == PairingActive, Until: formatWhen(pr.Expires, lang)}
	switch pr.State {
	case PairingUsed:
		row.Status = translate(lang, "peers.code.used", pr.UsedBy)
	case PairingExpired:
		row.Status = translate(lang, "peers.code.expired")
	case PairingBurned:
		row.Status = translate(lang, "peers.code.burned")
	}
	if row.Active {
		row.QR = qrSVG(pr.Invite)
	}
	return row
}

// qrSVG draws s as a QR code in inline SVG, one path of dark modules on a
// white square (with the quiet zone readers need), or nothing if s is
// too long for a QR code. Only numbers go into the markup. It is hidden
// from screen readers: the page prints s beside it.
func qrSVG(s string) template.HTML {
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		return ""
	}
	bits := q.Bitmap()
	n := len(bits)
	var d strings.Builder
	for y, row := range bits {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < n && row[x] {
				x++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	return template.HTML(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="240" height="240" shape-rendering="crispEdges" aria-hidden="true" focusable="false"><rect width="%d" height="%d" fill="#fff"/><path d="%s" fill="#000"/></svg>`, n, n, n, n, d.String()))
}

// peerErrors maps a PeersView's errors to a status, the form field at
// fault ("" for the pairing form or the page) and a message key.
var peerErrors = []struct {
	err    error
	status int
	field  string
	key    string
}{
	{ErrPeerID, http.StatusBadRequest, "id", "peers.error.id"},
	{ErrPeerSelf, http.StatusBadRequest, "id", "peers.error.self"},
	{ErrPeerAddress, http.StatusBadRequest, "address", "peers.error.address"},
	{ErrPeerName, http.StatusBadRequest, "name", "peers.error.name"},
	{ErrPeerNotLinked, http.StatusNotFound, "", "peers.error.notlinked"},
	{ErrPairInvite, http.StatusBadRequest, "", "peers.error.invite"},
	{ErrPairUnreachable, http.StatusBadGateway, "", "peers.error.unreachable"},
	{ErrPairNoCode, http.StatusConflict, "", "peers.error.nocode"},
	{ErrPairExpired, http.StatusConflict, "", "peers.error.expired"},
	{ErrPairUsed, http.StatusConflict, "", "peers.error.used"},
	{ErrPairBurned, http.StatusConflict, "", "peers.error.burned"},
	{ErrPairWrongCode, http.StatusConflict, "", "peers.error.wrongcode"},
	{ErrPairWait, http.StatusTooManyRequests, "", "peers.error.wait"},
	{ErrPairRefused, http.StatusBadGateway, "", "peers.error.refused"},
	{ErrPairImpostor, http.StatusBadGateway, "", "peers.error.impostor"},
}

// peerError finds err's answer; anything else is the box's fault.
func peerError(err error) (status int, field, key string) {
	for _, e := range peerErrors {
		if errors.Is(err, e.err) {
			return e.status, e.field, e.key
		}
	}
	return http.StatusInternalServerError, "", "error.internal"
}

// peersLink links a device by ID: the form, or a discovered box's button.
func (s *Server) peersLink(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxFormBytes, false) {
		return
	}
	f := linkForm{
		ID:      strings.TrimSpace(r.PostForm.Get("id")),
		Address: strings.TrimSpace(r.PostForm.Get("address")),
		Name:    strings.TrimSpace(r.PostForm.Get("name")),
	}
	id, err := s.opts.Peers.Link(f.ID, f.Address, f.Name)
	if err != nil {
		status, field, key := peerError(err)
		if status == http.StatusInternalServerError {
			s.serverError(w, r, err)
			return
		}
		s.peersRender(w, r, status, &peersPage{Form: f, FormField: field, FormError: translate(pickLang(r), key)}, "")
		return
	}
	s.logger.Info("device linked by staff", "peer", id)
	http.Redirect(w, r, "/admin/peers?done=linked&id="+url.QueryEscape(id)+"#linked", http.StatusSeeOther)
}

// peersUnlink asks staff to confirm, then removes a link.
func (s *Server) peersUnlink(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxFormBytes, false) {
		return
	}
	id := r.PostForm.Get("id")
	if r.PostForm.Get("confirm") != "yes" {
		linked, err := s.opts.Peers.Linked()
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		lang := pickLang(r)
		for _, l := range linked {
			if l.DeviceID == id {
				row := linkedRow(l, lang)
				s.peersRender(w, r, http.StatusOK, &peersPage{Confirm: &row}, "")
				return
			}
		}
		s.peersRender(w, r, http.StatusNotFound, &peersPage{}, "peers.error.notlinked")
		return
	}
	if err := s.opts.Peers.Unlink(id); err != nil {
		status, _, key := peerError(err)
		if status == http.StatusInternalServerError {
			s.serverError(w, r, err)
			return
		}
		s.peersRender(w, r, status, &peersPage{}, key)
		return
	}
	s.logger.Info("device unlinked by staff", "peer", id)
	http.Redirect(w, r, "/admin/peers?done=unlinked", http.StatusSeeOther)
}

// peersCode creates a pairing code.
func (s *Server) peersCode(w http.ResponseWriter, r *http.Request) {
	if _, err := s.opts.Peers.StartPairing(r.Host); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.logger.Info("pairing code created by staff")
	http.Redirect(w, r, "/admin/peers?done=code#pairing", http.StatusSeeOther)
}

// pairTimeout bounds how long pairing waits for the other box.
const pairTimeout = 15 * time.Second

// peersPair pairs with the box whose pairing string staff entered.
func (s *Server) peersPair(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r, maxFormBytes, false) {
		return
	}
	invite := strings.TrimSpace(r.PostForm.Get("invite"))
	ctx, cancel := context.WithTimeout(r.Context(), pairTimeout)
	defer cancel()
	id, err := s.opts.Peers.Pair(ctx, invite)
	if err != nil {
		status, _, key := peerError(err)
		if status == http.StatusInternalServerError {
			s.serverError(w, r, err)
			return
		}
		if errors.Is(err, ErrPeerSelf) {
			key = "peers.error.ownstring"
		}
		s.logger.Warn("pairing with another box failed", "error", err)
		s.peersRender(w, r, status, &peersPage{Invite: invite, PairError: translate(pickLang(r), key)}, "")
		return
	}
	http.Redirect(w, r, "/admin/peers?done=paired&id="+url.QueryEscape(id)+"#linked", http.StatusSeeOther)
}

// maxPairBody bounds a pairing request; link's own bound is lower.
const maxPairBody = 16 << 10

// pairAnswer is POST /pair: another box asks to be linked. Failed
// attempts slow the sender down (pairLimiter); the PeersView burns the
// code after a few wrong proofs. The answer is JSON: the PeersView's, or
// {"error":"wait"} and {"error":"request"} from here.
func (s *Server) pairAnswer(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	from := captive.ClientAddr(r)
	client := pairClient(from)
	if wait := s.pairLimit.wait(client); wait > 0 {
		h.Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"wait"}`)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPairBody))
	if err != nil {
		s.pairLimit.failed(client)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"request"}`)
		return
	}
	reply, err := s.opts.Peers.AnswerPairing(body, from)
	if err != nil {
		status := pairAnswerStatus(err)
		if status == http.StatusInternalServerError {
			s.logger.Error("answering another box's pairing request", "error", err)
		} else {
			n := s.pairLimit.failed(client)
			s.logger.Warn("pairing request refused", "client", from.String(), "failures", n, "error", err)
		}
		if reply == nil {
			reply = []byte(`{"error":"internal"}`)
		}
		w.WriteHeader(status)
		w.Write(reply)
		return
	}
	s.pairLimit.succeeded(client)
	w.Write(reply)
}

// pairAnswerStatus is the HTTP status of a refused pairing request.
func pairAnswerStatus(err error) int {
	for _, e := range []struct {
		err    error
		status int
	}{
		{ErrPairRequest, http.StatusBadRequest},
		{ErrPeerName, http.StatusBadRequest},
		{ErrPeerAddress, http.StatusBadRequest},
		{ErrPeerSelf, http.StatusBadRequest},
		{ErrPairNoCode, http.StatusNotFound},
		{ErrPairExpired, http.StatusGone},
		{ErrPairBurned, http.StatusGone},
		{ErrPairUsed, http.StatusConflict},
		{ErrPairWrongCode, http.StatusForbidden},
	} {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// pairClient is the key failures are counted by: the address, or its /64
// for IPv6, which one device can change within.
func pairClient(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// pairLimiter slows down a client whose pairing requests fail: after n
// failures in a row it must wait 2ⁿ⁻¹ seconds, up to pairMaxWait, before
// the next request is even read. A client that stops failing for
// pairForget starts afresh. The zero value is ready to use.
type pairLimiter struct {
	now func() time.Time // nil means time.Now

	mu      sync.Mutex
	clients map[string]*pairFailures
}

type pairFailures struct {
	count       int
	last, until time.Time
}

const (
	pairMaxWait    = time.Minute
	pairForget     = 15 * time.Minute
	pairMaxClients = 1024
)

func (l *pairLimiter) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// wait is how long client must still wait.
func (l *pairLimiter) wait(client string) time.Duration {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.clients[client]; f != nil && now.Before(f.until) {
		return f.until.Sub(now)
	}
	return 0
}

// failed counts a failure and returns the client's count.
func (l *pairLimiter) failed(client string) int {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = make(map[string]*pairFailures)
	}
	f := l.clients[client]
	if f == nil || now.Sub(f.last) >= pairForget {
		if len(l.clients) >= pairMaxClients {
			for k, g := range l.clients {
				if now.Sub(g.last) >= pairForget && !now.Before(g.until) {
					delete(l.clients, k)
				}
			}
			// A sender with that many addresses is not slowed by a
			// per-address count anyway; the code's own limit holds.
			if len(l.clients) >= pairMaxClients {
				clear(l.clients)
			}
		}
		f = new(pairFailures)
		l.clients[client] = f
	}
	f.count++
	f.last = now
	wait := pairMaxWait
	if f.count <= 6 {
		wait = min(time.Second<<(f.count-1), pairMaxWait)
	}
	f.until = now.Add(wait)
	return f.count
}

// succeeded forgets the client's failures.
func (l *pairLimiter) succeeded(client string) {
	l.mu.Lock()
	delete(l.clients, client)
	l.mu.Unlock()
}
