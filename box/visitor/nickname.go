package visitor

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNicknameLength is the longest nickname, in characters: long enough
// for "Marie-Claire de la Médiathèque", short enough for a phone's chat line.
const MaxNicknameLength = 32

// Nickname errors, told apart by the portal to explain them in the
// visitor's language.
var (
	ErrNicknameEmpty   = errors.New("visitor: nickname is empty")
	ErrNicknameTooLong = errors.New("visitor: nickname is too long")
	ErrNicknameInvalid = errors.New("visitor: nickname has characters that are not allowed")
)

// CleanNickname returns the nickname as the box stores it (Unicode NFC,
// spaces trimmed and collapsed), or an error saying why it is refused.
//
// Refused: control and formatting characters (a right-to-left override
// could make one nickname look like another), private-use and unassigned
// code points, and the angle brackets of HTML, so that no nickname reads as
// markup wherever it is shown. Accents, apostrophes, emoji and scripts other
// than Latin are welcome.
func CleanNickname(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrNicknameInvalid
	}
	s = norm.NFC.String(s)
	for _, r := range s {
		if !allowedRune(r) {
			return "", ErrNicknameInvalid
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", ErrNicknameEmpty
	case n > MaxNicknameLength:
		return "", ErrNicknameTooLong
	}
	return s, nil
}

func allowedRune(r rune) bool {
	switch {
	case r == ' ':
		return true
	case r == '<' || r == '>':
		return false
	case r == '\u200d': // zero-width joiner: part of many emoji
		return true
	case unicode.IsSpace(r):
		// Tabs, newlines and exotic spaces are refused rather than
		// silently turned into spaces.
		return false
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp):
		return false
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
		// Unassigned code points.
		return false
	}
	return true
}
