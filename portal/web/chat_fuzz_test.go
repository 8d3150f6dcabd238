package web

import (
	"strings"
	"testing"
)

// FuzzLinkify: a message split into text and links gives back the message,
// and only http and https addresses become links.
func FuzzLinkify(f *testing.F) {
	for _, s := range []string{"voir https://tiers.box/pads?x=1.", "javascript:alert(1)", "http://a http://b", "<a href=\"http://x\">"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var b strings.Builder
		for _, p := range linkify(text) {
			b.WriteString(p.Text)
			if p.URL != "" && (p.URL != p.Text || !(strings.HasPrefix(p.URL, "http://") || strings.HasPrefix(p.URL, "https://")) || strings.ContainsAny(p.URL, " <>\"'`")) {
				t.Fatalf("link %q in %q", p.URL, text)
			}
		}
		if b.String() != text {
			t.Fatalf("%q became %q", text, b.String())
		}
	})
}
