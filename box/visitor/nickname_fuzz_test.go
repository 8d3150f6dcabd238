package visitor

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzCleanNickname checks that whatever a visitor types, an accepted
// nickname is NFC, one line, free of markup brackets, at most
// MaxNicknameLength characters, and cleaning it again changes nothing.
func FuzzCleanNickname(f *testing.F) {
	for _, s := range []string{"Léa", "Le\u0301a", "  a  b  ", "<b>", "👩‍🔧", "a\u202eb", "\xff", strings.Repeat("é", 40), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanNickname(in)
		if err != nil {
			if out != "" {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		switch {
		case !utf8.ValidString(out):
			t.Fatalf("%q: invalid UTF-8", out)
		case !norm.NFC.IsNormalString(out):
			t.Fatalf("%q: not NFC", out)
		case out == "" || utf8.RuneCountInString(out) > MaxNicknameLength:
			t.Fatalf("%q: bad length", out)
		case strings.ContainsAny(out, "<>\n\r\t\x00"):
			t.Fatalf("%q: forbidden character", out)
		case strings.TrimSpace(out) != out || strings.Contains(out, "  "):
			t.Fatalf("%q: spaces not collapsed", out)
		}
		again, err := CleanNickname(out)
		if err != nil || again != out {
			t.Fatalf("cleaning %q again gave %q, %v", out, again, err)
		}
	})
}
