package discovery

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/syncthing/syncthing/lib/protocol"
	"golang.org/x/text/unicode/norm"
)

// Limits on what a TXT record may set. Anyone on the LAN can announce the
// service, so a name is bounded before it reaches a log line or the admin
// page.
const (
	// MaxNameRunes is the most characters of a venue name kept.
	MaxNameRunes = 64
	// MaxVersionBytes is the most bytes of a version kept.
	MaxVersionBytes = 32

	// maxNameBytes keeps "name=" and the name within one 255-byte DNS
	// character-string, even when every character takes four bytes.
	maxNameBytes = 255 - len("name=")
	// maxIDBytes is generous for a device ID (63 bytes as Syncthing
	// writes it) and stops a huge value before Syncthing's parser sees it.
	maxIDBytes = 128
)

// The TXT keys, in the order they are announced.
const (
	keyID      = "id"
	keyName    = "name"
	keyVersion = "version"
)

// Reasons a TXT record is refused; the service drops such announcements.
var (
	errNoID  = errors.New("discovery: txt: no id")
	errBadID = errors.New("discovery: txt: id is not a device ID")
)

// txtInfo is what an announcement's TXT record says about a box.
type txtInfo struct {
	ID      protocol.DeviceID
	Name    string
	Version string
}

// txtRecord returns the TXT strings that announce info, in the escaped
// form github.com/miekg/dns packs (a backslash starts an escape there).
// The name and version are cleaned first, so that what a peer reads back
// is exactly what we meant to say.
func txtRecord(info txtInfo) []string {
	return []string{
		keyID + "=" + info.ID.String(),
		keyName + "=" + escapeTXT(cleanName(info.Name)),
		keyVersion + "=" + escapeTXT(cleanVersion(info.Version)),
	}
}

// parseTXT reads the TXT strings of an announcement, as
// github.com/miekg/dns unpacks them (presentation format: \DDD and \X
// escapes). It is pure and total: whatever the strings hold it returns
// either an error or an info with a valid device ID, a clean name and a
// clean version.
//
// Keys are case-insensitive and only the first occurrence of a key counts
// (RFC 6763 §6.4); strings without "=" and unknown keys are ignored, so
// that a later version may add keys. A missing name or version is empty.
func parseTXT(fields []string) (txtInfo, error) {
	var (
		id, name, version string
		seen              [3]bool
	)
	for _, f := range fields {
		key, value, ok := strings.Cut(unescapeTXT(f), "=")
		if !ok {
			continue
		}
		var i int
		switch {
		case strings.EqualFold(key, keyID):
			i = 0
		case strings.EqualFold(key, keyName):
			i = 1
		case strings.EqualFold(key, keyVersion):
			i = 2
		default:
			continue
		}
		if seen[i] {
			continue
		}
		seen[i] = true
		switch i {
		case 0:
			id = value
		case 1:
			name = value
		case 2:
			version = value
		}
	}
	if !seen[0] {
		return txtInfo{}, errNoID
	}
	if len(id) > maxIDBytes {
		return txtInfo{}, fmt.Errorf("%w: %d bytes long", errBadID, len(id))
	}
	devID, err := protocol.DeviceIDFromString(id)
	if err != nil {
		// Syncthing's error quotes the value; ours is logged, and a
		// bounded length is enough to say what was wrong.
		return txtInfo{}, errBadID
	}
	switch devID {
	case protocol.EmptyDeviceID, protocol.LocalDeviceID, protocol.GlobalDeviceID:
		// Syncthing's placeholders: no box has these.
		return txtInfo{}, errBadID
	}
	return txtInfo{ID: devID, Name: cleanName(name), Version: cleanVersion(version)}, nil
}

// cleanName returns a venue name fit to show anywhere: valid UTF-8 in
// NFC, one line, single spaces, no control, formatting (a right-to-left
// override could make one venue look like another), private-use or
// unassigned characters, at most MaxNameRunes characters and maxNameBytes
// bytes. Other whitespace becomes a space. Cleaning a clean name changes
// nothing.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			// Also what ranging over invalid UTF-8 yields.
			return -1
		case r == '\u200d':
			// The zero-width joiner holds many emoji together.
			return r
		case unicode.IsSpace(r):
			return ' '
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp):
			return -1
		case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
			// Unassigned.
			return -1
		}
		return r
	}, s)
	s = norm.NFC.String(s)
	s = strings.Join(strings.Fields(s), " ")
	s = cutName(s)
	return strings.TrimRight(s, " ")
}

// cutName returns the longest prefix of the NFC string s within the name
// limits that ends where a character does not combine with the next one,
// so that the prefix is still NFC and reads as the name did.
func cutName(s string) string {
	n, runes := min(len(s), maxNameBytes), 0
	for i := range s {
		if i >= n {
			break
		}
		if runes == MaxNameRunes {
			n = i
			break
		}
		runes++
	}
	if n == len(s) {
		return s
	}
	for n > 0 && (!utf8.RuneStart(s[n]) || norm.NFC.FirstBoundaryInString(s[n:]) != 0) {
		n--
	}
	return s[:n]
}

// cleanVersion keeps the printable ASCII of a version, without spaces, up
// to MaxVersionBytes bytes: versions are words like "v0.3.1-dev+4f2a".
func cleanVersion(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < MaxVersionBytes; i++ {
		if c := s[i]; c > ' ' && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeTXT escapes s for github.com/miekg/dns, which reads a backslash
// in a TXT string as the start of an escape when it packs it. Other bytes,
// UTF-8 included, are packed as they are.
func escapeTXT(s string) string {
	return strings.ReplaceAll(s, `\`, `\\`)
}

// unescapeTXT undoes github.com/miekg/dns's presentation format of a
// received TXT string: \DDD (a decimal byte) and \X (the byte X). What
// miekg/dns never writes is read as it would pack it (\999 is \9 then
// 99), except that a backslash at the very end is kept.
func unescapeTXT(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if d, ok := ddd(s[i+1:]); ok {
			b = append(b, d)
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

// ddd reads the three decimal digits that start s as one byte.
func ddd(s string) (byte, bool) {
	if len(s) < 3 {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[:3]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}
