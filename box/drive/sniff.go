package drive

import (
	"mime"
	"strings"
	"unicode/utf8"
)

// sniffLen is how much of a file's start DetectType looks at.
const sniffLen = 512

// byExtension is the types of the files a venue shares most, so that they
// do not depend on the system's /etc/mime.types (which differs from a
// Raspberry Pi OS to a test machine). Other extensions go to the mime
// package.
var byExtension = map[string]string{
	".pdf":  "application/pdf",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".gif":  "image/gif",
	".webp": "image/webp",
	".svg":  "image/svg+xml",
	".avif": "image/avif",
	".heic": "image/heic",
	".mp3":  "audio/mpeg",
	".ogg":  "audio/ogg",
	".oga":  "audio/ogg",
	".opus": "audio/opus",
	".m4a":  "audio/mp4",
	".wav":  "audio/wav",
	".flac": "audio/flac",
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".webm": "video/webm",
	".mkv":  "video/x-matroska",
	".mov":  "video/quicktime",
	".ogv":  "video/ogg",
	".txt":  "text/plain; charset=utf-8",
	".md":   "text/markdown; charset=utf-8",
	".csv":  "text/csv; charset=utf-8",
	".html": "text/html; charset=utf-8",
	".htm":  "text/html; charset=utf-8",
	".json": "application/json",
	".odt":  "application/vnd.oasis.opendocument.text",
	".ods":  "application/vnd.oasis.opendocument.spreadsheet",
	".odp":  "application/vnd.oasis.opendocument.presentation",
	".odg":  "application/vnd.oasis.opendocument.graphics",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".doc":  "application/msword",
	".xls":  "application/vnd.ms-excel",
	".ppt":  "application/vnd.ms-powerpoint",
	".epub": "application/epub+zip",
	".zip":  "application/zip",
	".gz":   "application/gzip",
	// A fablab's files.
	".stl":   "model/stl",
	".obj":   "model/obj",
	".3mf":   "model/3mf",
	".dxf":   "image/vnd.dxf",
	".gcode": "text/x-gcode; charset=utf-8",
}

// containers are formats whose magic number says only how the file is
// packed: the extension then says what it is (a .docx is a zip file), if
// it names a type of that family.
var containers = map[string][]string{
	"application/zip": {"application/vnd.oasis.opendocument.", "application/vnd.openxmlformats-officedocument.",
		"application/epub+zip", "model/3mf"},
	"application/ogg":  {"audio/ogg", "audio/opus", "video/ogg"},
	"video/mp4":        {"audio/mp4", "video/quicktime", "image/heic", "image/avif", "video/3gpp"},
	"video/x-matroska": {"video/webm", "audio/webm"},
	"audio/wav":        {"audio/x-wav", "audio/vnd.wave"},
}

// detectType returns the content type of a file called name whose first
// bytes are head (up to 512), claimed being what the uploader's browser
// said (it may be "").
//
// The content decides when it is unambiguous (a PNG named .jpg is a PNG);
// the name refines a container (a zip named .odt is an OpenDocument text)
// and names a text; the browser's claim counts only when nothing else
// says anything, and never for types a browser would run as a page.
func detectType(name string, head []byte, claimed string) string {
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	ext := typeByExtension(name)
	sniffed, decisive := sniff(head)
	switch {
	case decisive:
		return sniffed
	case sniffed != "" && ext != "":
		for _, prefix := range containers[sniffed] {
			if strings.HasPrefix(ext, prefix) {
				return ext
			}
		}
		return sniffed
	case sniffed != "":
		return sniffed
	}
	text := len(head) > 0 && looksLikeText(head)
	switch {
	case ext != "" && strings.HasPrefix(ext, "text/") && len(head) > 0 && !text:
		// Binary content under a text name: not something to display.
		return "application/octet-stream"
	case ext != "":
		return ext
	case text:
		return "text/plain; charset=utf-8"
	}
	if t, params, err := mime.ParseMediaType(claimed); err == nil && strings.Count(t, "/") == 1 && !activeType(t) && t != "application/octet-stream" {
		return mime.FormatMediaType(t, params)
	}
	return "application/octet-stream"
}

func typeByExtension(name string) string {
	_, ext := splitExt(name)
	if ext == "" {
		return ""
	}
	ext = strings.ToLower(ext)
	if t, ok := byExtension[ext]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}

// activeType reports the types a browser runs as a page or a script.
func activeType(t string) bool {
	switch t {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript", "application/javascript",
		"application/x-javascript", "text/xml", "application/xml":
		return true
	}
	return false
}

// sniff recognises a format by its magic number. decisive is false for
// containers, whose content the extension may name more precisely.
func sniff(b []byte) (typ string, decisive bool) {
	has := func(off int, magic string) bool {
		return len(b) >= off+len(magic) && string(b[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "%PDF-"):
		return "application/pdf", true
	case has(0, "\x89PNG\r\n\x1a\n"):
		return "image/png", true
	case has(0, "\xff\xd8\xff"):
		return "image/jpeg", true
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return "image/gif", true
	case has(0, "RIFF") && has(8, "WEBP"):
		return "image/webp", true
	case has(0, "RIFF") && has(8, "WAVE"):
		return "audio/wav", false
	case has(0, "fLaC"):
		return "audio/flac", true
	case has(0, "ID3"):
		return "audio/mpeg", true
	case has(0, "OggS"):
		return "application/ogg", false
	case has(4, "ftyp"):
		return "video/mp4", false
	case has(0, "\x1a\x45\xdf\xa3"):
		return "video/x-matroska", false
	case has(0, "PK\x03\x04"):
		return "application/zip", false
	case has(0, "\x1f\x8b\x08"):
		return "application/gzip", true
	}
	return "", false
}

// looksLikeText reports UTF-8 without the control characters of binary
// formats (the end of b may cut a character in two).
func looksLikeText(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			if len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:]) {
				return true
			}
			return false
		}
		if r < 0x20 && !strings.ContainsRune("\t\n\r\f", r) {
			return false
		}
		i += n
	}
	return true
}
