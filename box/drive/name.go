package drive

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxNameBytes bounds a file or folder name, in bytes of UTF-8. File
// systems allow 255; the margin leaves room for what Syncthing adds to a
// name when two boxes change one file (".sync-conflict-YYYYMMDD-HHMMSS-XXXXXXX",
// 38 bytes), so that its conflict copies can always be written.
const MaxNameBytes = 200

// MaxFolderDepth is how many folders deep a file may be: enough to sort a
// venue's documents ("2025/atelier vélo/photos"), shallow enough to keep
// whole paths well within every system's limits.
const MaxFolderDepth = 3

// ErrBadName is returned (wrapped with the reason) for a file or folder name
// that cannot be used.
var ErrBadName = errors.New("drive: name not allowed")

func badName(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadName, fmt.Sprintf(format, args...))
}

// CleanName returns name as the drive stores it, or an error wrapping
// ErrBadName that says why it cannot be used.
//
// Files are shared as they are with every box and with stock Syncthing
// on any system, so a name must be valid everywhere: the result is Unicode
// NFC, has no separator, no control, bidirectional-override or line
// separator character, none of the characters Windows refuses (<>:"|?*,
// made "_"), no leading or trailing dot or space (a leading dot would hide
// the file, or reach Syncthing's own .stfolder and .stignore; Windows drops
// trailing ones), is not a name Windows reserves for devices (CON, NUL,
// COM1… with any extension, which get a "_" in front), and is at most
// MaxNameBytes long (longer names are shortened, keeping the extension).
//
// Cleaning is idempotent: CleanName of a result returns it unchanged.
func CleanName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", badName("the name is not valid UTF-8")
	}
	if strings.ContainsAny(name, `/\`) {
		return "", badName("a name cannot contain / or \\")
	}
	if name == "" {
		return "", badName("the name is empty")
	}
	s := norm.NFC.String(name)
	for _, r := range s {
		if forbiddenRune(r) {
			return "", badName("the name contains the invisible or control character %U", r)
		}
	}
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`<>:"|?*`, r) {
			return '_'
		}
		return r
	}, s)
	s = trimDotsSpaces(s)
	if len(s) > MaxNameBytes {
		s = shorten(s, MaxNameBytes)
	}
	if s == "" {
		return "", badName("a name cannot be only dots and spaces")
	}
	if reservedName(s) {
		if len(s) >= MaxNameBytes {
			s = shorten(s, MaxNameBytes-1)
		}
		s = "_" + s
	}
	return s, nil
}

// trimDotsSpaces removes leading and trailing dots and white space.
func trimDotsSpaces(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
}

// forbiddenRune reports the characters a name may not hold: controls
// (which Windows refuses and terminals interpret), the marks that reorder
// text (a right-to-left override makes "photo‮gpj.exe" read "photoexe.jpg"),
// the byte-order mark, line and paragraph separators, and noncharacters.
// Other invisible characters, such as the zero-width joiner of many emoji
// or of Persian words, are welcome.
func forbiddenRune(r rune) bool {
	switch {
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f': // Arabic letter mark, left-to-right and right-to-left marks
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069': // embeddings, overrides, isolates
		return true
	case r == '\ufeff': // byte-order mark
		return true
	case r >= '\ufdd0' && r <= '\ufdef', r&0xfffe == 0xfffe: // noncharacters
		return true
	}
	return false
}

// reservedName reports a name that Windows gives to a device, whatever its
// extension ("con.txt" opens the console), and a name Syncthing takes for
// one of its temporary files (which it would not share).
func reservedName(s string) bool {
	if len(s) >= len("~syncthing~") && strings.EqualFold(s[:len("~syncthing~")], "~syncthing~") {
		return true
	}
	base, _, _ := strings.Cut(s, ".")
	base = strings.TrimRight(base, " ")
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) >= 4 {
		prefix := strings.ToUpper(base[:3])
		if prefix == "COM" || prefix == "LPT" {
			switch base[3:] {
			// Windows also reserves the superscript digits.
			case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
				return true
			}
		}
	}
	return false
}

// shorten cuts s to at most limit bytes, keeping a short extension, on a
// boundary that does not split a character or its combining marks, and
// without leaving a trailing dot or space.
func shorten(s string, limit int) string {
	base, ext := splitExt(s)
	if len(ext) > 16 {
		base, ext = s, ""
	}
	if base = trimDotsSpaces(cutBytes(base, limit-len(ext))); base == "" {
		return trimDotsSpaces(cutBytes(s, limit))
	}
	return base + ext
}

// cutBytes returns the longest prefix of s of at most n bytes that ends on
// a normalisation boundary, so that it stays NFC.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Back to a character's start, then to a character that does not
	// combine with the one before it.
	for n > 0 && (!utf8.RuneStart(s[n]) || norm.NFC.FirstBoundaryInString(s[n:]) != 0) {
		n--
	}
	return s[:n]
}

// splitExt splits "rapport.final.pdf" into "rapport.final" and ".pdf". A
// name whose only dot is its first character has no extension.
func splitExt(name string) (base, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return name, ""
	}
	return name[:i], name[i:]
}

// numbered returns the n-th name for a file called name when that name is
// taken: "rapport (2).pdf", shortened if need be to stay a clean name.
func numbered(name string, n int) string {
	base, ext := splitExt(name)
	suffix := fmt.Sprintf(" (%d)", n)
	if len(ext) > 16 {
		base, ext = name, ""
	}
	if base = trimDotsSpaces(cutBytes(base, MaxNameBytes-len(suffix)-len(ext))); base == "" {
		base = "_"
	}
	return base + suffix + ext
}

// CleanFolder returns a folder path ("" for the top of the drive, or
// names joined by "/") as the drive stores it, or an error wrapping
// ErrBadName. Each name is cleaned as by CleanName; "." and "..", an
// absolute path, "\", empty names and more than MaxFolderDepth levels are
// refused. A trailing "/" is allowed.
func CleanFolder(folder string) (string, error) {
	if folder == "" {
		return "", nil
	}
	if !utf8.ValidString(folder) {
		return "", badName("the folder is not valid UTF-8")
	}
	if strings.HasPrefix(folder, "/") {
		return "", badName("a folder cannot be an absolute path")
	}
	if strings.Contains(folder, `\`) {
		return "", badName("a folder cannot contain \\")
	}
	segs := strings.Split(strings.TrimSuffix(folder, "/"), "/")
	if len(segs) > MaxFolderDepth {
		return "", badName("folders can be at most %d levels deep", MaxFolderDepth)
	}
	for i, seg := range segs {
		if seg == "." || seg == ".." {
			return "", badName("a folder cannot contain %q", seg)
		}
		if seg == "" {
			return "", badName("a folder name is empty")
		}
		c, err := CleanName(seg)
		if err != nil {
			return "", err
		}
		segs[i] = c
	}
	return strings.Join(segs, "/"), nil
}

// joinPath returns the drive path of name in folder.
func joinPath(folder, name string) string {
	if folder == "" {
		return name
	}
	return folder + "/" + name
}

// splitPath splits a drive path into its folder and name.
func splitPath(p string) (folder, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// validPath reports whether p is a path the drive could have written: a
// clean folder and a clean name. Paths from other boxes' journals are
// checked with it before anything touches the disk.
func validPath(p string) bool {
	folder, name := splitPath(p)
	cf, err := CleanFolder(folder)
	if err != nil || cf != folder || (folder == "" && strings.HasPrefix(p, "/")) {
		return false
	}
	cn, err := CleanName(name)
	return err == nil && cn == name
}

// foldKey is the form under which two names collide on a case-insensitive
// system (Windows, macOS), where Syncthing could not keep both.
func foldKey(s string) string { return cases.Fold().String(norm.NFC.String(s)) }
