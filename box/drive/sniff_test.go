package drive

import (
	"strings"
	"testing"
)

func TestDetectType(t *testing.T) {
	zip := "PK\x03\x04\x14\x00\x00\x00"
	tests := []struct {
		name, head, claimed, want string
	}{
		{"rapport.pdf", "%PDF-1.7\n", "", "application/pdf"},
		{"rapport", "%PDF-1.7\n", "", "application/pdf"},
		{"photo.jpg", "\x89PNG\r\n\x1a\n....", "", "image/png"}, // the content decides
		{"photo.JPG", "\xff\xd8\xff\xe0", "", "image/jpeg"},
		{"anim.gif", "GIF89a", "", "image/gif"},
		{"x.webp", "RIFF\x00\x00\x00\x00WEBPVP8 ", "", "image/webp"},
		{"cr.odt", zip, "", "application/vnd.oasis.opendocument.text"},
		{"cr.docx", zip, "", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"cr.pdf", zip, "", "application/zip"}, // a zip is not a PDF
		{"archive", zip, "", "application/zip"},
		{"podcast.ogg", "OggS\x00\x02", "", "audio/ogg"},
		{"podcast.opus", "OggS\x00\x02", "", "audio/opus"},
		{"podcast.mp3", "ID3\x04\x00", "", "audio/mpeg"},
		{"podcast.mp3", "\xff\xfb\x90\x00", "", "audio/mpeg"},
		{"son.m4a", "\x00\x00\x00\x20ftypM4A ", "", "audio/mp4"},
		{"film.mp4", "\x00\x00\x00\x20ftypisom", "", "video/mp4"},
		{"film.webm", "\x1a\x45\xdf\xa3", "", "video/webm"},
		{"son.wav", "RIFF\x00\x00\x00\x00WAVEfmt ", "", "audio/wav"},
		{"notes.txt", "des notes, accentuées\n", "", "text/plain; charset=utf-8"},
		{"notes.md", "# Titre\n", "", "text/markdown; charset=utf-8"},
		{"notes", "juste du texte\n", "", "text/plain; charset=utf-8"},
		{"notes.txt", "\x00\x01\x02binary", "", "application/octet-stream"},
		{"page.html", "<!DOCTYPE html><script>", "", "text/html; charset=utf-8"},
		{"piece.stl", "solid piece\n", "", "model/stl"},
		{"empty.txt", "", "", "text/plain; charset=utf-8"},
		{"empty", "", "", "application/octet-stream"},
		{"blob", "\x00\x01\x02", "application/x-custom", "application/x-custom"},
		{"blob", "\x00\x01\x02", "text/html", "application/octet-stream"}, // a claim never makes a page
		{"blob", "\x00\x01\x02", "nonsense", "application/octet-stream"},
		{"page", "<html><script>alert(1)</script>", "text/html", "text/plain; charset=utf-8"},
		{"cut.txt", "é" + strings.Repeat("a", 509) + "\xc3", "", "text/plain; charset=utf-8"}, // a character cut by the 512 bytes
	}
	for _, tt := range tests {
		if got := detectType(tt.name, []byte(tt.head), tt.claimed); got != tt.want {
			t.Errorf("detectType(%q, %q, %q) = %q, want %q", tt.name, tt.head, tt.claimed, got, tt.want)
		}
	}
}
