package link

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/syncthing/syncthing/lib/protocol"
)

// FuzzParseInvite feeds ParseInvite what staff may type or paste, and
// checks that what it accepts names a real device, a normalised code and
// a clean HOST:PORT, and that writing it back and reading that again gives
// the same invite.
func FuzzParseInvite(f *testing.F) {
	id := idA.String()
	for _, s := range []string{
		"tiersbox-pair://192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN",
		"TIERSBOX-PAIR://[2001:db8::7]/" + strings.ToLower(id) + "/abcdefghjkmn/",
		"tiersbox-pair://box.local:80/" + strings.ReplaceAll(id, "-", "") + "/0O1I-lL23-4567",
		"tiersbox-pair://[fe80::1%eth0]:1/" + id + "/ABCD-EFGH-JKMN",
		"tiersbox-pair://a@b:c/d/e",
		"tiersbox-pair:///",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := ParseInvite(s)
		if err != nil {
			return
		}
		if inv.Device == protocol.EmptyDeviceID {
			t.Fatalf("%q: empty device ID", s)
		}
		if c, ok := NormalizeCode(inv.Code); !ok || c != inv.Code {
			t.Fatalf("%q: code %q is not normalised", s, inv.Code)
		}
		if h, err := cleanHost(inv.Host); err != nil || h != inv.Host {
			t.Fatalf("%q: host %q is not clean: %q %v", s, inv.Host, h, err)
		}
		out := inv.String()
		if !utf8.ValidString(out) || strings.ContainsAny(out, " \t\n?#@") {
			t.Fatalf("%q written as %q", s, out)
		}
		again, err := ParseInvite(out)
		if err != nil || again != inv {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, inv, out, again, err)
		}
	})
}

// FuzzParsePairRequest feeds ParsePairRequest any body a device on the
// network may send to POST /pair, and checks that what it accepts is
// complete and clean, and survives being sent again as JSON.
func FuzzParsePairRequest(f *testing.F) {
	good, _ := json.Marshal(Invite{Host: "192.0.2.7:80", Device: idA, Code: "ABCDEFGHJKMN"}.Request(idB, "Café", "tcp://[::]:22000"))
	for _, s := range []string{
		string(good),
		`{"device":"` + idB.String() + `","proof":"` + strings.Repeat("A", 43) + `=","name":" x ","address":"192.0.2.9:22000"}`,
		`{"device":"","proof":null}`,
		`{"device":"` + idB.String() + `","proof":"AAAA","address":"tcp://[::1]:0"}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParsePairRequest(body)
		if err != nil {
			return
		}
		if req.Device == protocol.EmptyDeviceID || len(req.Proof) != 32 {
			t.Fatalf("%q: accepted %+v", body, req)
		}
		if n, err := CleanName(req.Name); err != nil || n != req.Name {
			t.Fatalf("%q: name %q not clean", body, req.Name)
		}
		if req.Address != "" {
			if a, err := ParseAddress(req.Address); err != nil || a != req.Address {
				t.Fatalf("%q: address %q not clean", body, req.Address)
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePairRequest(again)
		if err != nil || !reflect.DeepEqual(back, req) {
			t.Fatalf("%q → %+v → %s → %+v, %v", body, req, again, back, err)
		}
	})
}
