package web

import (
	"strings"
	"testing"
)

// TestMarkdownImagesStayOnTheBox: an image from outside the box becomes a
// link to it (a pad saved as a web page has no policy to block it); an
// image on the box or inline stays an image.
func TestMarkdownImagesStayOnTheBox(t *testing.T) {
	tests := []struct {
		src, want, not string
	}{
		{"![affiche](https://cdn.example/a.png)", `<a href="https://cdn.example/a.png">affiche</a>`, "<img"},
		{"![x](//cdn.example/a.png)", `<a href="//cdn.example/a.png">x</a>`, "<img"},
		{"![x](http://192.0.2.1/a.png \"titre\")", `<a href="http://192.0.2.1/a.png" title="titre">x</a>`, "<img"},
		{"![photo](/drive/photos/atelier.jpg)", `<img src="/drive/photos/atelier.jpg" alt="photo">`, "<a "},
		{"![photo](atelier.jpg)", `<img src="atelier.jpg" alt="photo">`, "<a "},
		{"texte ![*a*](https://x.example/i.png) fin", `<a href="https://x.example/i.png"><em>a</em></a>`, "<img"},
	}
	for _, tt := range tests {
		got, err := renderMarkdown(tt.src)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got), tt.want) || strings.Contains(string(got), tt.not) {
			t.Errorf("%q renders %q, want %q and no %q", tt.src, got, tt.want, tt.not)
		}
	}
}
