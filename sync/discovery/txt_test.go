package discovery

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/miekg/dns"
	"github.com/syncthing/syncthing/lib/protocol"
	"golang.org/x/text/unicode/norm"
)

// A device ID as Syncthing writes it, and the same one written otherwise.
var (
	testID      = protocol.NewDeviceID([]byte("a box of the test"))
	testIDLower = strings.ToLower(strings.ReplaceAll(testID.String(), "-", ""))
)

func randomID(t testing.TB) protocol.DeviceID {
	t.Helper()
	return protocol.NewDeviceID([]byte(rand.Text()))
}

func TestParseTXT(t *testing.T) {
	id := "id=" + testID.String()
	// A valid ID with one check character changed.
	badCheck := []byte(testID.String())
	if badCheck[13] == 'A' {
		badCheck[13] = 'B'
	} else {
		badCheck[13] = 'A'
	}
	tests := []struct {
		name    string
		fields  []string
		want    txtInfo
		wantErr error
	}{
		{"as announced", []string{id, "name=Fablab", "version=v1.2.3"},
			txtInfo{testID, "Fablab", "v1.2.3"}, nil},
		{"any order, keys in any case", []string{"VERSION=v1", "Name=Fablab", "iD=" + testID.String()},
			txtInfo{testID, "Fablab", "v1"}, nil},
		{"device ID without dashes, lower case", []string{"id=" + testIDLower},
			txtInfo{ID: testID}, nil},
		{"first occurrence of a key wins", []string{id, "name=first", "id=nonsense", "name=second"},
			txtInfo{ID: testID, Name: "first"}, nil},
		{"unknown keys and attributes without value ignored", []string{"txtvers=1", "secure", id, "name"},
			txtInfo{ID: testID}, nil},
		{"value holding =", []string{id, "name=a=b"},
			txtInfo{ID: testID, Name: "a=b"}, nil},

		{"no fields", nil, txtInfo{}, errNoID},
		{"no id", []string{"name=Fablab"}, txtInfo{}, errNoID},
		{"id without =", []string{"id"}, txtInfo{}, errNoID},
		{"empty id", []string{"id=", "name=Fablab"}, txtInfo{}, errBadID},
		{"bad check character", []string{"id=" + string(badCheck)}, txtInfo{}, errBadID},
		{"short id", []string{"id=ABCDEFG"}, txtInfo{}, errBadID},
		{"huge id", []string{"id=" + strings.Repeat("A", 100000)}, txtInfo{}, errBadID},
		{"Syncthing's local placeholder", []string{"id=" + protocol.LocalDeviceID.String()}, txtInfo{}, errBadID},
		{"a bad first id is not saved by a good second", []string{"id=x", id}, txtInfo{}, errBadID},

		// miekg/dns hands over TXT strings escaped: \DDD for bytes outside
		// printable ASCII, \" and \\.
		{"UTF-8 as decimal escapes", []string{id, `name=M\195\169diath\195\168que \"Les Tilleuls\"`},
			txtInfo{ID: testID, Name: `Médiathèque "Les Tilleuls"`}, nil},
		{"escaped backslash", []string{id, `name=a\\b`}, txtInfo{ID: testID, Name: `a\b`}, nil},
		{"escaped key", []string{`i\100=` + testID.String()}, txtInfo{ID: testID}, nil},
		{"dangling backslash kept", []string{id, `name=a\`}, txtInfo{ID: testID, Name: `a\`}, nil},
		{"escape above 255 kept", []string{id, `name=\999`}, txtInfo{ID: testID, Name: `999`}, nil},
		{"control characters", []string{id, `name=\009a\010\013b\000c\127`},
			txtInfo{ID: testID, Name: "a bc"}, nil},
		{"right-to-left override", []string{id, `name=abc\226\128\174def`},
			txtInfo{ID: testID, Name: "abcdef"}, nil},
		{"invalid UTF-8", []string{id, `name=a\255\254b\195`}, txtInfo{ID: testID, Name: "ab"}, nil},
		{"spaces collapsed and trimmed", []string{id, "name=  Le   Lieu \u00a0 "},
			txtInfo{ID: testID, Name: "Le Lieu"}, nil},
		{"made NFC", []string{id, "name=Le\u0301a"}, txtInfo{ID: testID, Name: "Léa"}, nil},
		{"emoji kept whole", []string{id, "name=👩‍🔧 atelier"}, txtInfo{ID: testID, Name: "👩‍🔧 atelier"}, nil},
		{"name cut at 64 characters", []string{id, "name=" + strings.Repeat("é", 100)},
			txtInfo{ID: testID, Name: strings.Repeat("é", 64)}, nil},
		{"name cut to fit a TXT string", []string{id, "name=" + strings.Repeat("🌱", 64)},
			txtInfo{ID: testID, Name: strings.Repeat("🌱", 62)}, nil},
		{"version: printable ASCII without spaces", []string{id, `version=v1.0 beta\007\195\169+x`},
			txtInfo{ID: testID, Version: "v1.0beta+x"}, nil},
		{"version cut at 32 bytes", []string{id, "version=" + strings.Repeat("9", 40)},
			txtInfo{ID: testID, Version: strings.Repeat("9", 32)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTXT(tt.fields)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCleanNameCutsOnBoundary(t *testing.T) {
	// 63 letters, then a letter with two combining marks that NFC cannot
	// fold into one character: the cut must not keep the letter without
	// its marks.
	s := strings.Repeat("a", 63) + "q\u0301\u0302"
	got := cleanName(s)
	if got != strings.Repeat("a", 63) {
		t.Errorf("got %q", got)
	}
	if cleanName(got) != got {
		t.Errorf("cleaning again changed %q", got)
	}
}

// TestTXTOverTheWire announces names through the real DNS encoding and
// checks that the receiver reads back what was meant.
func TestTXTOverTheWire(t *testing.T) {
	for _, name := range []string{
		"Fablab",
		`Médiathèque « Les Tilleuls »`,
		`C:\Tiers\Lieu "ouvert"`,
		`\065\`,
		"café\x00\x07\nlibre",
		strings.Repeat("🌱", 80),
		"",
	} {
		info := txtInfo{ID: randomID(t), Name: name, Version: "v0.1.0-dev+4f2a"}
		fields, err := overTheWire(txtRecord(info))
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		got, err := parseTXT(fields)
		if err != nil {
			t.Fatalf("%q: %v (fields %q)", name, err, fields)
		}
		want := txtInfo{ID: info.ID, Name: cleanName(name), Version: info.Version}
		if got != want {
			t.Errorf("%q: got %+v, want %+v", name, got, want)
		}
	}
}

// overTheWire packs TXT strings into a DNS message as the announcing
// server does, and unpacks them as the browsing client does.
func overTheWire(fields []string) ([]string, error) {
	m := new(dns.Msg)
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: "x._tiersbox._tcp.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120},
		Txt: fields,
	}}
	buf, err := m.Pack()
	if err != nil {
		return nil, err
	}
	var back dns.Msg
	if err := back.Unpack(buf); err != nil {
		return nil, err
	}
	return back.Answer[0].(*dns.TXT).Txt, nil
}

// checkInfo fails t unless info is what parseTXT promises: a real device
// ID, a clean bounded name and version.
func checkInfo(t *testing.T, info txtInfo) {
	t.Helper()
	if back, err := protocol.DeviceIDFromString(info.ID.String()); err != nil || back != info.ID ||
		info.ID == protocol.EmptyDeviceID {
		t.Fatalf("device ID %v does not read back: %v", info.ID, err)
	}
	name := info.Name
	switch {
	case !utf8.ValidString(name):
		t.Fatalf("name %q: invalid UTF-8", name)
	case utf8.RuneCountInString(name) > MaxNameRunes || len(name) > maxNameBytes:
		t.Fatalf("name %q: too long", name)
	case !norm.NFC.IsNormalString(name):
		t.Fatalf("name %q: not NFC", name)
	case strings.TrimSpace(name) != name || strings.Contains(name, "  "):
		t.Fatalf("name %q: spaces not collapsed", name)
	case cleanName(name) != name:
		t.Fatalf("name %q: cleaning again gives %q", name, cleanName(name))
	}
	for _, r := range name {
		if r != ' ' && r != '\u200d' && (unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)) {
			t.Fatalf("name %q: holds %U", name, r)
		}
	}
	if len(info.Version) > MaxVersionBytes {
		t.Fatalf("version %q: too long", info.Version)
	}
	for _, c := range []byte(info.Version) {
		if c <= ' ' || c >= 0x7f {
			t.Fatalf("version %q: holds %#x", info.Version, c)
		}
	}
}
