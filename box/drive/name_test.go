package drive

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestCleanName(t *testing.T) {
	long := strings.Repeat("é", 150) + ".pdf" // 304 bytes
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"rapport.pdf", "rapport.pdf"},
		{"Compte rendu – atelier vélo.odt", "Compte rendu – atelier vélo.odt"},
		{"Le\u0301a.txt", "Léa.txt"}, // NFD from macOS becomes NFC
		{"👩‍🔧 fablab.png", "👩‍🔧 fablab.png"},
		{"%2e%2e", "%2e%2e"}, // just a name: nothing decodes it
		{"%2e%2e%2fetc", "%2e%2e%2fetc"},

		// Traversal and separators.
		{"../../etc/passwd", ""},
		{"..\\x", ""},
		{"/abs", ""},
		{"a/../b", ""},
		{"a\\b", ""},
		{"..", ""},
		{".", ""},
		{"...", ""},

		// Empty and blank.
		{"", ""},
		{"  ", ""},
		{" . ", ""},
		{"\u00a0", ""},

		// Control, bidi and invisible characters.
		{"a\x00b", ""},
		{"a\nb", ""},
		{"a\tb", ""},
		{"a\x7fb", ""},
		{"photo\u202egpj.exe", ""},
		{"a\u2066b", ""},
		{"\ufeffa", ""},
		{"a\u2028b", ""},
		{"a\uffffb", ""},
		{"\xff\xfe", ""},

		// Windows.
		{`a<b>c:d"e|f?g*h.txt`, "a_b_c_d_e_f_g_h.txt"},
		{"CON.txt", "_CON.txt"},
		{"con", "_con"},
		{"Nul.tar.gz", "_Nul.tar.gz"},
		{"COM1", "_COM1"},
		{"lpt9.doc", "_lpt9.doc"},
		{"COM¹.txt", "_COM¹.txt"},
		{"CON .txt", "_CON .txt"},
		{"CONSOLE.txt", "CONSOLE.txt"},
		{"COM10", "COM10"},
		{"notes.", "notes"},
		{"notes. . ", "notes"},
		{" notes", "notes"},

		// Hidden files and Syncthing's own.
		{".stfolder", "stfolder"},
		{".stignore", "stignore"},
		{".bashrc", "bashrc"},
		{"~syncthing~x.tmp", "_~syncthing~x.tmp"},

		// Length: shortened, keeping the extension.
		{long, strings.Repeat("é", 98) + ".pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CleanName(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("CleanName(%q) = %q, want an error", tt.in, got)
				}
				if !errors.Is(err, ErrBadName) {
					t.Fatalf("error %v does not wrap ErrBadName", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CleanName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCleanFolder(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"photos", "photos", true},
		{"2025/atelier vélo/photos", "2025/atelier vélo/photos", true},
		{"photos/", "photos", true},
		{"a:b/CON", "a_b/_CON", true},
		{".git/hooks", "git/hooks", true},
		{"a/b/c/d", "", false},
		{"/etc", "", false},
		{"../x", "", false},
		{"a/../b", "", false},
		{"a/./b", "", false},
		{"a//b", "", false},
		{"a\\b", "", false},
		{"..\\x", "", false},
		{"a/\x00", "", false},
		{"/", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CleanFolder(tt.in)
			if !tt.ok {
				if err == nil || !errors.Is(err, ErrBadName) {
					t.Fatalf("CleanFolder(%q) = %q, %v; want ErrBadName", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CleanFolder(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNumbered(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want string
	}{
		{"rapport.pdf", 2, "rapport (2).pdf"},
		{"rapport", 3, "rapport (3)"},
		{"archive.tar.gz", 2, "archive.tar (2).gz"},
		{"_CON.txt", 2, "_CON (2).txt"},
		{strings.Repeat("a", 196) + ".pdf", 12, strings.Repeat("a", 191) + " (12).pdf"},
	}
	for _, tt := range tests {
		got := numbered(tt.name, tt.n)
		if got != tt.want {
			t.Errorf("numbered(%q, %d) = %q, want %q", tt.name, tt.n, got, tt.want)
		}
		if c, err := CleanName(got); err != nil || c != got {
			t.Errorf("numbered(%q, %d) = %q is not a clean name (%q, %v)", tt.name, tt.n, got, c, err)
		}
	}
}

func TestValidPath(t *testing.T) {
	for _, p := range []string{"a.txt", "photos/a.jpg", "a/b/c/d.txt"} {
		if !validPath(p) {
			t.Errorf("validPath(%q) = false", p)
		}
	}
	for _, p := range []string{"", "/a", "../a", "a/../b", "a//b", ".stignore", "a/b/c/d/e", "CON", "a/", "a\\b", "a/.x"} {
		if validPath(p) {
			t.Errorf("validPath(%q) = true", p)
		}
	}
}

// checkSafeName fails t unless name is one the drive may write on any
// system.
func checkSafeName(t *testing.T, in, name string) {
	t.Helper()
	switch {
	case name == "":
		t.Fatalf("%q: empty result without an error", in)
	case !utf8.ValidString(name):
		t.Fatalf("%q → %q: invalid UTF-8", in, name)
	case !norm.NFC.IsNormalString(name):
		t.Fatalf("%q → %q: not NFC", in, name)
	case len(name) > MaxNameBytes:
		t.Fatalf("%q → %q: %d bytes", in, name, len(name))
	case strings.ContainsAny(name, "/\\<>:\"|?*"):
		t.Fatalf("%q → %q: separator or character Windows refuses", in, name)
	case name == "." || name == "..":
		t.Fatalf("%q → %q", in, name)
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") || strings.HasPrefix(name, " "):
		t.Fatalf("%q → %q: leading or trailing dot or space", in, name)
	case reservedName(name):
		t.Fatalf("%q → %q: reserved by Windows or Syncthing", in, name)
	}
	for _, r := range name {
		if forbiddenRune(r) || unicode.Is(unicode.Cc, r) {
			t.Fatalf("%q → %q: has %U", in, name, r)
		}
	}
}

// FuzzCleanName checks that whatever name an upload claims, an accepted
// name is safe on every system, cleaning it again changes nothing, and it
// is a valid one-level folder and path too.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"rapport.pdf", "../../etc/passwd", "..\\x", "/abs", "a/../b", "%2e%2e", "a\x00b",
		"photo\u202egpj.exe", "CON.txt", "  ", "", ".stfolder", "Le\u0301a", "<\u0338", "a.\u0301", "COM¹",
		strings.Repeat("é", 150) + ".pdf", "CON" + strings.Repeat(" ", 300) + "x", strings.Repeat("x", 199) + ".",
		"~SyncThing~a", "e" + strings.Repeat("\u0301", 80) + ".txt", "\u0301abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanName(in)
		if err != nil {
			if out != "" || !errors.Is(err, ErrBadName) {
				t.Fatalf("%q: error %v with result %q", in, err, out)
			}
			return
		}
		checkSafeName(t, in, out)
		again, err := CleanName(out)
		if err != nil || again != out {
			t.Fatalf("CleanName(%q) = %q, but CleanName(%q) = %q, %v", in, out, out, again, err)
		}
		if folder, err := CleanFolder(out); err != nil || folder != out {
			t.Fatalf("CleanFolder(%q) = %q, %v", out, folder, err)
		}
		if !validPath(out) {
			t.Fatalf("validPath(%q) = false", out)
		}
		for _, n := range []int{2, 10, 1000} {
			checkSafeName(t, out, numbered(out, n))
		}
	})
}

// FuzzCleanFolder checks that an accepted folder is clean names joined by
// "/", not too deep, and stable.
func FuzzCleanFolder(f *testing.F) {
	for _, s := range []string{"photos", "a/b/c", "a/b/c/d", "../x", "/etc", "a//b", "a/", ".git/x", "a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := CleanFolder(in)
		if err != nil {
			return
		}
		if out == "" {
			if in != "" {
				t.Fatalf("%q became the top folder", in)
			}
			return
		}
		segs := strings.Split(out, "/")
		if len(segs) > MaxFolderDepth {
			t.Fatalf("%q → %q: too deep", in, out)
		}
		for _, s := range segs {
			checkSafeName(t, in, s)
		}
		if again, err := CleanFolder(out); err != nil || again != out {
			t.Fatalf("CleanFolder(%q) = %q, %v", out, again, err)
		}
		if !validPath(out + "/x") {
			t.Fatalf("validPath(%q) = false", out+"/x")
		}
	})
}
