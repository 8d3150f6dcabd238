package link

// Pairing links two boxes without typing device IDs: staff at box A ask
// for a one-time code, and staff at box B enter A's pairing string (or
// scan its QR code), which holds A's portal address, A's device ID and
// the code. B then asks A over HTTP to link it, proving it knows the code
// without sending it; A links B and proves in turn that it knows the
// code; B checks that proof and that A is the box the pairing string
// named, and links A. The HTTP exchange itself lives in cmd and portal:
// this file holds what both ends compute and check.
//
// # What the code protects
//
// The pairing string travels from A's screen to B's staff by hand, eye or
// phone: that is the trusted channel. The HTTP exchange is plain (a box
// has no certificate a stranger could check) and may be watched or
// changed. So the code never crosses it in clear: B sends
// HMAC-SHA256(code, B's device ID), A answers HMAC-SHA256(code, A's ID ‖
// B's ID). A man in the middle who does not know the code can neither
// make A link another device nor make B link another box, and both IDs
// are checked again by BEP's TLS when the boxes connect. A code has 60
// random bits, lives CodeLifetime, is used once, and is burned after
// MaxFailures wrong proofs, so it cannot be guessed online; an
// eavesdropper who brute-forces it offline from a proof finds a code
// already used.
//
// # Storage
//
// The latest code is kept in a bucket named "pairing" nested in
// store.BucketLinks, created by the first Start: its key is shorter than
// a device ID, so it cannot collide with a linked device, and List skips
// it. Only one code is active at a time: a new one replaces the last.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncthing/syncthing/lib/protocol"
	bolt "go.etcd.io/bbolt"

	"tiersbox/box/store"
)

const (
	// CodeLifetime is how long a pairing code can be used.
	CodeLifetime = 10 * time.Minute
	// MaxFailures is how many wrong proofs burn a code.
	MaxFailures = 5
	// InviteScheme starts a pairing string.
	InviteScheme = "tiersbox-pair"
	// MaxRequest bounds the body of a pairing request, and MaxAnswer the
	// body of an answer, in bytes.
	MaxRequest = 4 << 10
	MaxAnswer  = 16 << 10

	// codeLen is the number of symbols of a code, 5 bits each.
	codeLen = 12
	// maxInvite bounds a pairing string: a host name, a device ID and a
	// code fit well within it.
	maxInvite = 512
	// maxAnswerAddresses bounds the addresses an answer may carry.
	maxAnswerAddresses = 16
)

// codeAlphabet is Crockford's base 32: no I, L, O or U, so that a code
// read aloud or copied by hand is not mistaken.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Errors of pairing. Those that A answers are also sent on the wire (see
// EncodeError) so that B can tell its staff what went wrong.
var (
	ErrInvite   = errors.New("link: not a pairing string (tiersbox-pair://HOST:PORT/DEVICE-ID/CODE)")
	ErrRequest  = errors.New("link: not a pairing request")
	ErrNoCode   = errors.New("link: no pairing code was created on this box")
	ErrExpired  = errors.New("link: the pairing code expired")
	ErrUsed     = errors.New("link: the pairing code was already used by another box")
	ErrBurned   = errors.New("link: the pairing code was burned after too many wrong attempts")
	ErrProof    = errors.New("link: wrong pairing code")
	ErrAnswer   = errors.New("link: the answer does not prove the other box knows the pairing code")
	ErrOtherBox = errors.New("link: the box that answered is not the one named in the pairing string")
)

// NormalizeCode returns a code as the box compares it: upper case, without
// dashes or spaces, with the letters Crockford's base 32 reads as digits
// (O as 0, I and L as 1). ok is false when it is not a code.
func NormalizeCode(s string) (code string, ok bool) {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '-', ' ':
			continue
		case 'o', 'O':
			r = '0'
		case 'i', 'I', 'l', 'L':
			r = '1'
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if !strings.ContainsRune(codeAlphabet, r) || b.Len() >= codeLen {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLen {
		return "", false
	}
	return b.String(), true
}

// DisplayCode writes a normalised code in groups of four: ABCD-EFGH-JKMN.
func DisplayCode(code string) string {
	var b strings.Builder
	for i := 0; i < len(code); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(code[i:min(i+4, len(code))])
	}
	return b.String()
}

// newCode draws a code from r.
func newCode(r io.Reader) (string, error) {
	var raw [codeLen]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return "", fmt.Errorf("link: new pairing code: %w", err)
	}
	b := make([]byte, codeLen)
	for i, x := range raw {
		b[i] = codeAlphabet[x&31] // 256 is a multiple of 32: no bias
	}
	return string(b), nil
}

// Proof is what B sends to show it knows code: HMAC-SHA256 keyed with the
// normalised code, over B's device ID.
func Proof(code string, b protocol.DeviceID) []byte {
	m := hmac.New(sha256.New, []byte(code))
	m.Write(b[:])
	return m.Sum(nil)
}

// answerMAC is what A answers to show it knows code: HMAC-SHA256 keyed
// with the code, over A's device ID then B's. It is 64 bytes of message
// where a proof is 32, so one can never pass for the other.
func answerMAC(code string, a, b protocol.DeviceID) []byte {
	m := hmac.New(sha256.New, []byte(code))
	m.Write(a[:])
	m.Write(b[:])
	return m.Sum(nil)
}

// Invite is what a pairing string holds.
type Invite struct {
	// Host is where B reaches A's portal over HTTP: HOST:PORT, IPv6
	// addresses in brackets.
	Host string
	// Device is A's device ID.
	Device protocol.DeviceID
	// Code is the normalised one-time code.
	Code string
}

// String writes the pairing string: tiersbox-pair://HOST:PORT/DEVICE-ID/CODE.
func (i Invite) String() string {
	return InviteScheme + "://" + i.Host + "/" + i.Device.String() + "/" + DisplayCode(i.Code)
}

// URL is where B sends its pairing request.
func (i Invite) URL() string { return "http://" + i.Host + "/pair" }

// ParseInvite reads a pairing string as staff typed or pasted it: spaces
// around it, lower case and a missing port (80) are accepted.
func ParseInvite(s string) (Invite, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxInvite || !utf8.ValidString(s) {
		return Invite{}, ErrInvite
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !strings.EqualFold(scheme, InviteScheme) {
		return Invite{}, ErrInvite
	}
	hostPart, path, ok := strings.Cut(rest, "/")
	if !ok {
		return Invite{}, ErrInvite
	}
	host, err := cleanHost(hostPart)
	if err != nil {
		return Invite{}, err
	}
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(parts) != 2 {
		return Invite{}, ErrInvite
	}
	id, err := parseDevice(parts[0])
	if err != nil {
		return Invite{}, fmt.Errorf("%w: %v", ErrInvite, err)
	}
	code, ok := NormalizeCode(parts[1])
	if !ok {
		return Invite{}, fmt.Errorf("%w: the code is %d letters and digits", ErrInvite, codeLen)
	}
	return Invite{Host: host, Device: id, Code: code}, nil
}

// cleanHost checks the HOST[:PORT] of a pairing string: an IP address or
// a DNS name, and a port (80 when there is none).
func cleanHost(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "80"
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			host = s[1 : len(s)-1]
		}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != port {
		return "", fmt.Errorf("%w: port %q", ErrInvite, port)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("%w: address %q", ErrInvite, host)
		}
		return net.JoinHostPort(a.String(), port), nil
	}
	if !hostName(host) {
		return "", fmt.Errorf("%w: host %q", ErrInvite, host)
	}
	return net.JoinHostPort(strings.ToLower(host), port), nil
}

// hostName reports whether s is a DNS name: dot-separated labels of
// letters, digits and dashes.
func hostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// An all-numeric name would be read as a (bad) IPv4 address.
	return strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

// parseDevice reads a device ID; the empty ID is not one.
func parseDevice(s string) (protocol.DeviceID, error) {
	id, err := protocol.DeviceIDFromString(s)
	if err != nil {
		return protocol.EmptyDeviceID, err
	}
	if id == protocol.EmptyDeviceID {
		return id, errors.New("empty device ID")
	}
	return id, nil
}

// PairRequest is the body B sends to A's POST /pair, as JSON.
type PairRequest struct {
	Device protocol.DeviceID `json:"device"`
	// Name is B's name, at most MaxName runes.
	Name string `json:"name,omitempty"`
	// Address is where B accepts sync (tcp://HOST:PORT); an unspecified
	// host (0.0.0.0, [::]) means "the address this request came from".
	Address string `json:"address,omitempty"`
	// Proof is Proof(code, Device).
	Proof []byte `json:"proof"`
}

// Request is the pairing request B (self) sends for this invite. Its
// name is cut to MaxName runes; address may be empty.
func (i Invite) Request(self protocol.DeviceID, name, address string) PairRequest {
	return PairRequest{Device: self, Name: fitName(name), Address: address, Proof: Proof(i.Code, self)}
}

// fitName makes a venue's name a valid device name: control characters
// dropped, at most MaxName runes.
func fitName(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			continue
		}
		if n == MaxName {
			break
		}
		b.WriteRune(r)
		n++
	}
	name, err := CleanName(b.String())
	if err != nil {
		return ""
	}
	return name
}

// ParsePairRequest reads and checks a pairing request as it arrives from
// the network: ErrRequest, ErrName or ErrAddress when it is not valid.
func ParsePairRequest(body []byte) (PairRequest, error) {
	var req PairRequest
	if len(body) > MaxRequest {
		return PairRequest{}, fmt.Errorf("%w: larger than %d bytes", ErrRequest, MaxRequest)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return PairRequest{}, fmt.Errorf("%w: %v", ErrRequest, err)
	}
	if req.Device == protocol.EmptyDeviceID {
		return PairRequest{}, fmt.Errorf("%w: no device ID", ErrRequest)
	}
	if len(req.Proof) != sha256.Size {
		return PairRequest{}, fmt.Errorf("%w: the proof is not %d bytes", ErrRequest, sha256.Size)
	}
	var err error
	if req.Name, err = CleanName(req.Name); err != nil {
		return PairRequest{}, err
	}
	if req.Address != "" {
		if req.Address, err = ParseAddress(req.Address); err != nil {
			return PairRequest{}, err
		}
	}
	return req, nil
}

// PairAnswer is A's answer to a valid pairing request, as JSON.
type PairAnswer struct {
	Device protocol.DeviceID `json:"device"`
	Name   string            `json:"name,omitempty"`
	// Addresses are where A accepts sync; an unspecified host means the
	// host B sent the request to.
	Addresses []string `json:"addresses,omitempty"`
	// MAC is answerMAC(code, Device, B's ID).
	MAC []byte `json:"mac"`
}

// ParsePairAnswer reads and checks A's answer: ErrAnswer when it is not
// valid.
func ParsePairAnswer(body []byte) (PairAnswer, error) {
	var ans PairAnswer
	if len(body) > MaxAnswer {
		return PairAnswer{}, fmt.Errorf("%w: larger than %d bytes", ErrAnswer, MaxAnswer)
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return PairAnswer{}, fmt.Errorf("%w: %v", ErrAnswer, err)
	}
	if ans.Device == protocol.EmptyDeviceID || len(ans.MAC) != sha256.Size || len(ans.Addresses) > maxAnswerAddresses {
		return PairAnswer{}, fmt.Errorf("%w: incomplete", ErrAnswer)
	}
	var err error
	if ans.Name, err = CleanName(ans.Name); err != nil {
		return PairAnswer{}, fmt.Errorf("%w: %v", ErrAnswer, err)
	}
	for i, a := range ans.Addresses {
		if ans.Addresses[i], err = ParseAddress(a); err != nil {
			return PairAnswer{}, fmt.Errorf("%w: %v", ErrAnswer, err)
		}
	}
	return ans, nil
}

// Accept checks A's answer to B's (self's) request: it must come from the
// device the pairing string named and prove it knows the code. It returns
// the device B should link.
func (i Invite) Accept(ans PairAnswer, self protocol.DeviceID) (Device, error) {
	if ans.Device != i.Device {
		return Device{}, fmt.Errorf("%w: %s answered instead of %s", ErrOtherBox, ans.Device.Short(), i.Device.Short())
	}
	if !hmac.Equal(ans.MAC, answerMAC(i.Code, i.Device, self)) {
		return Device{}, ErrAnswer
	}
	host, _, _ := net.SplitHostPort(i.Host)
	d := Device{ID: i.Device, Name: ans.Name}
	for _, a := range ans.Addresses {
		d.Addresses = append(d.Addresses, fillHost(a, host))
	}
	return d, nil
}

// fillHost puts host in a tcp://HOST:PORT address whose host is
// unspecified (0.0.0.0 or [::]), the way a box listening on every
// interface knows its own address.
func fillHost(addr, host string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return addr
	}
	h, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return addr
	}
	if a, err := netip.ParseAddr(h); err == nil && a.IsUnspecified() && host != "" {
		return u.Scheme + "://" + net.JoinHostPort(host, port)
	}
	return addr
}

// CodeState is what became of a pairing code.
type CodeState int

const (
	CodeActive  CodeState = iota // may be used
	CodeUsed                     // a box used it and was linked
	CodeExpired                  // unused after CodeLifetime
	CodeBurned                   // MaxFailures wrong proofs
)

// Code is a pairing code and what became of it.
type Code struct {
	// Code is the normalised code.
	Code string `json:"code"`
	// Host is the portal address written in the pairing string.
	Host     string    `json:"host"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Failures int       `json:"failures,omitempty"`
	// UsedBy, UsedName and Used say which box used the code, and when.
	UsedBy   protocol.DeviceID `json:"used_by,omitzero"`
	UsedName string            `json:"used_name,omitempty"`
	Used     time.Time         `json:"used,omitzero"`
}

// State says what became of the code at now.
func (c Code) State(now time.Time) CodeState {
	switch {
	case !c.Used.IsZero():
		return CodeUsed
	case c.Failures >= MaxFailures:
		return CodeBurned
	case !now.Before(c.Expires):
		return CodeExpired
	}
	return CodeActive
}

// PairOptions configure a Pairer. The zero value is usable.
type PairOptions struct {
	// Name returns this box's name, said in answers; nil says none.
	Name func() string
	// Addresses returns where this box accepts sync (tcp://HOST:PORT,
	// possibly with an unspecified host), said in answers; nil says none.
	Addresses func() []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand draws codes; nil means crypto/rand.
	Rand io.Reader
}

// Pairer creates pairing codes and answers the boxes that use them, on
// the links it was made for. It is safe for concurrent use: every check
// and change of the code is one database transaction.
type Pairer struct {
	links *Links
	opts  PairOptions
}

// NewPairer returns the pairer of l.
func NewPairer(l *Links, opts PairOptions) *Pairer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Name == nil {
		opts.Name = func() string { return "" }
	}
	if opts.Addresses == nil {
		opts.Addresses = func() []string { return nil }
	}
	return &Pairer{links: l, opts: opts}
}

var (
	bucketPairing = []byte("pairing")
	keyCurrent    = []byte("current")
)

// Start creates a code valid CodeLifetime, to be written in a pairing
// string with host (HOST:PORT of this box's portal); it replaces any
// earlier code, used or not.
func (p *Pairer) Start(host string) (Code, error) {
	code, err := newCode(p.opts.Rand)
	if err != nil {
		return Code{}, err
	}
	now := p.opts.Now().UTC()
	c := Code{Code: code, Host: host, Created: now, Expires: now.Add(CodeLifetime)}
	v, err := json.Marshal(c)
	if err != nil {
		return Code{}, err
	}
	err = p.links.st.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(store.BucketLinks).CreateBucketIfNotExists(bucketPairing)
		if err != nil {
			return err
		}
		return b.Put(keyCurrent, v)
	})
	if err != nil {
		return Code{}, fmt.Errorf("link: store the pairing code: %w", err)
	}
	return c, nil
}

// Current returns the latest code; ok is false when none was created.
func (p *Pairer) Current() (c Code, ok bool, err error) {
	err = p.links.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketLinks).Bucket(bucketPairing)
		if b == nil {
			return nil
		}
		v := b.Get(keyCurrent)
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &c)
	})
	if err != nil {
		return Code{}, false, fmt.Errorf("link: read the pairing code: %w", err)
	}
	return c, ok, nil
}

// Invite is the pairing string of code c at this box.
func (p *Pairer) Invite(c Code) Invite {
	return Invite{Host: c.Host, Device: p.links.self, Code: c.Code}
}

// Answer is A's side: it checks req (which came from the address from)
// against the current code, links the device that sent it and uses the
// code up. It returns the answer to send and the device linked, or
// ErrSelf, ErrNoCode, ErrExpired, ErrUsed, ErrBurned, ErrProof (the code
// is then nearer to burned), or a store error.
//
// Until it expires, a code already used answers again the device that
// used it, when it proves the code again: B may not have heard the first
// answer.
func (p *Pairer) Answer(req PairRequest, from netip.Addr) (PairAnswer, Device, error) {
	if req.Device == p.links.self {
		return PairAnswer{}, Device{}, ErrSelf
	}
	var code string
	var refused error
	now := p.opts.Now().UTC()
	err := p.links.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketLinks).Bucket(bucketPairing)
		var v []byte
		if b != nil {
			v = b.Get(keyCurrent)
		}
		if v == nil {
			refused = ErrNoCode
			return nil
		}
		var c Code
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		ok := hmac.Equal(req.Proof, Proof(c.Code, req.Device))
		switch c.State(now) {
		case CodeUsed:
			if !ok || c.UsedBy != req.Device || !now.Before(c.Expires) {
				refused = ErrUsed
			}
			code = c.Code
			return nil
		case CodeBurned:
			refused = ErrBurned
			return nil
		case CodeExpired:
			refused = ErrExpired
			return nil
		}
		if !ok {
			c.Failures++
			refused = ErrProof
			if c.Failures >= MaxFailures {
				refused = ErrBurned
			}
		} else {
			c.UsedBy, c.UsedName, c.Used = req.Device, req.Name, now
			code = c.Code
		}
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put(keyCurrent, v)
	})
	if err != nil {
		return PairAnswer{}, Device{}, fmt.Errorf("link: check a pairing request: %w", err)
	}
	if refused != nil {
		return PairAnswer{}, Device{}, refused
	}
	d := Device{ID: req.Device, Name: req.Name}
	if req.Address != "" {
		if from.IsValid() {
			d.Addresses = []string{fillHost(req.Address, from.Unmap().String())}
		} else if !unspecified(req.Address) {
			d.Addresses = []string{req.Address}
		}
	}
	d, err = p.links.Add(d)
	if err != nil {
		return PairAnswer{}, Device{}, err
	}
	ans := PairAnswer{Device: p.links.self, Name: fitName(p.opts.Name()), MAC: answerMAC(code, p.links.self, req.Device)}
	for _, a := range p.opts.Addresses() {
		if a, err := ParseAddress(a); err == nil && len(ans.Addresses) < maxAnswerAddresses {
			ans.Addresses = append(ans.Addresses, a)
		}
	}
	return ans, d, nil
}

// unspecified reports whether a tcp://HOST:PORT address has an
// unspecified host.
func unspecified(addr string) bool {
	u, err := url.Parse(addr)
	if err != nil {
		return false
	}
	h, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}

// wireErrors are the refusals A tells B, by the code sent on the wire.
var wireErrors = []struct {
	code string
	err  error
}{
	{"request", ErrRequest},
	{"name", ErrName},
	{"address", ErrAddress},
	{"self", ErrSelf},
	{"no_code", ErrNoCode},
	{"expired", ErrExpired},
	{"used", ErrUsed},
	{"burned", ErrBurned},
	{"wrong_code", ErrProof},
}

// EncodeError is the JSON body A sends for a refusal: {"error":"expired"};
// any error not listed is "internal", with no detail.
func EncodeError(err error) []byte {
	code := "internal"
	for _, w := range wireErrors {
		if errors.Is(err, w.err) {
			code = w.code
			break
		}
	}
	b, _ := json.Marshal(map[string]string{"error": code})
	return b
}

// DecodeError reads A's refusal: one of the errors of EncodeError, or nil
// when the body names none.
func DecodeError(body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return nil
	}
	for _, w := range wireErrors {
		if w.code == e.Error {
			return w.err
		}
	}
	return nil
}
