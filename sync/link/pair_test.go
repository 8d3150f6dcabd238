package link

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/store"
)

var (
	idA = protocol.NewDeviceID([]byte("box A"))
	idB = protocol.NewDeviceID([]byte("box B"))
	idC = protocol.NewDeviceID([]byte("box C"))
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openLinks opens a store in a temporary folder and the links of self.
func openLinks(t *testing.T, self protocol.DeviceID) *Links {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return New(st, self)
}

// newPairBox is box self with a pairer on a fake clock.
func newPairBox(t *testing.T, self protocol.DeviceID, name string, addrs ...string) (*Links, *Pairer, *testClock) {
	t.Helper()
	l := openLinks(t, self)
	clock := &testClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	p := NewPairer(l, PairOptions{
		Name:      func() string { return name },
		Addresses: func() []string { return addrs },
		Now:       clock.Now,
	})
	return l, p, clock
}

func TestNormalizeCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ABCD-EFGH-JKMN", "ABCDEFGHJKMN", true},
		{"abcd efgh jkmn", "ABCDEFGHJKMN", true},
		{"ABCDEFGHJKMN", "ABCDEFGHJKMN", true},
		{"0O1I-lL23-4567", "001111234567", true}, // read as Crockford reads them
		{"ABCD-EFGH-JKM", "", false},             // too short
		{"ABCD-EFGH-JKMNP", "", false},           // too long
		{"ABCD-EFGH-JKMU", "", false},            // U is not in the alphabet
		{"ABCD_EFGH_JKMN", "", false},
		{"ABCD-EFGH-JKMÉ", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := DisplayCode("ABCDEFGHJKMN"); got != "ABCD-EFGH-JKMN" {
		t.Errorf("DisplayCode: %q", got)
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		c, err := newCode(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := NormalizeCode(c); !ok || n != c {
			t.Fatalf("new code %q is not normalised", c)
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice", c)
		}
		seen[c] = true
	}
	if _, err := newCode(strings.NewReader("short")); err == nil {
		t.Error("a code drawn from too few random bytes")
	}
}

func TestParseInvite(t *testing.T) {
	id := idA.String()
	good := []struct {
		name, in string
		want     Invite
	}{
		{"as written", "tiersbox-pair://192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN", Invite{"192.0.2.7:8080", idA, "ABCDEFGHJKMN"}},
		{"typed in lower case, spaces around", "  TIERSBOX-PAIR://192.0.2.7:8080/" + strings.ToLower(id) + "/abcd-efgh-jkmn/ \n", Invite{"192.0.2.7:8080", idA, "ABCDEFGHJKMN"}},
		{"no port", "tiersbox-pair://192.0.2.7/" + id + "/ABCDEFGHJKMN", Invite{"192.0.2.7:80", idA, "ABCDEFGHJKMN"}},
		{"IPv6", "tiersbox-pair://[2001:db8::7]:8080/" + id + "/ABCD-EFGH-JKMN", Invite{"[2001:db8::7]:8080", idA, "ABCDEFGHJKMN"}},
		{"IPv6 without port", "tiersbox-pair://[2001:db8::7]/" + id + "/ABCD-EFGH-JKMN", Invite{"[2001:db8::7]:80", idA, "ABCDEFGHJKMN"}},
		{"host name", "tiersbox-pair://Box-A.local:8080/" + id + "/ABCD-EFGH-JKMN", Invite{"box-a.local:8080", idA, "ABCDEFGHJKMN"}},
		{"device ID without dashes", "tiersbox-pair://192.0.2.7:8080/" + strings.ReplaceAll(id, "-", "") + "/ABCD-EFGH-JKMN", Invite{"192.0.2.7:8080", idA, "ABCDEFGHJKMN"}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInvite(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			again, err := ParseInvite(got.String())
			if err != nil || again != got {
				t.Errorf("%q read back as %+v, %v", got.String(), again, err)
			}
		})
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"other scheme", "http://192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN"},
		{"no scheme", "192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN"},
		{"no code", "tiersbox-pair://192.0.2.7:8080/" + id},
		{"extra part", "tiersbox-pair://192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN/x"},
		{"bad check digit", "tiersbox-pair://192.0.2.7:8080/" + badCheck(id) + "/ABCD-EFGH-JKMN"},
		{"empty device ID", "tiersbox-pair://192.0.2.7:8080//ABCD-EFGH-JKMN"},
		{"short code", "tiersbox-pair://192.0.2.7:8080/" + id + "/ABCD-EFGH"},
		{"user in host", "tiersbox-pair://me@192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN"},
		{"port 0", "tiersbox-pair://192.0.2.7:0/" + id + "/ABCD-EFGH-JKMN"},
		{"port too large", "tiersbox-pair://192.0.2.7:70000/" + id + "/ABCD-EFGH-JKMN"},
		{"port with leading zero", "tiersbox-pair://192.0.2.7:080/" + id + "/ABCD-EFGH-JKMN"},
		{"zone", "tiersbox-pair://[fe80::1%25eth0]:8080/" + id + "/ABCD-EFGH-JKMN"},
		{"no host", "tiersbox-pair://:8080/" + id + "/ABCD-EFGH-JKMN"},
		{"query", "tiersbox-pair://192.0.2.7:8080/" + id + "/ABCD-EFGH-JKMN?x=1"},
		{"bad host", "tiersbox-pair://exa mple:8080/" + id + "/ABCD-EFGH-JKMN"},
		{"numeric host", "tiersbox-pair://1234/" + id + "/ABCD-EFGH-JKMN"},
		{"too long", "tiersbox-pair://" + strings.Repeat("a", 600) + "/" + id + "/ABCD-EFGH-JKMN"},
		{"not UTF-8", "tiersbox-pair://192.0.2.7:8080/" + id + "/ABCD-EFGH-JKM\xff"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseInvite(tt.in); !errors.Is(err, ErrInvite) {
				t.Errorf("ParseInvite(%q) = %+v, %v; want ErrInvite", tt.in, got, err)
			}
		})
	}
}

// badCheck changes the last check digit of a device ID.
func badCheck(id string) string {
	last := "A"
	if strings.HasSuffix(id, "A") {
		last = "B"
	}
	return id[:len(id)-1] + last
}

// exchange is what travels between the boxes: B's request to A, and A's
// answer, each through JSON as over HTTP.
func exchange(t *testing.T, inv Invite, a *Pairer, self protocol.DeviceID, name, addr string, from netip.Addr) (PairAnswer, error) {
	t.Helper()
	body, err := json.Marshal(inv.Request(self, name, addr))
	if err != nil {
		t.Fatal(err)
	}
	req, err := ParsePairRequest(body)
	if err != nil {
		t.Fatalf("A refuses B's request %s: %v", body, err)
	}
	ans, _, err := a.Answer(req, from)
	if err != nil {
		return PairAnswer{}, err
	}
	body, err = json.Marshal(ans)
	if err != nil {
		t.Fatal(err)
	}
	ans, err = ParsePairAnswer(body)
	if err != nil {
		t.Fatalf("B refuses A's answer %s: %v", body, err)
	}
	return ans, nil
}

// TestPairing is a whole pairing: A creates a code, B reads A's pairing
// string, asks, checks the answer, and each box then lists the other,
// with the addresses filled in from where each was reached.
func TestPairing(t *testing.T) {
	linksA, pairA, _ := newPairBox(t, idA, "La Fabrique", "tcp://[::]:22000")
	linksB, _, _ := newPairBox(t, idB, "Café des Possibles")

	c, err := pairA.Start("192.0.2.7:8080")
	if err != nil {
		t.Fatal(err)
	}
	if c.State(c.Created) != CodeActive || c.Expires.Sub(c.Created) != CodeLifetime {
		t.Fatalf("new code %+v", c)
	}
	s := pairA.Invite(c).String()
	if !strings.HasPrefix(s, "tiersbox-pair://192.0.2.7:8080/"+idA.String()+"/") {
		t.Fatalf("pairing string %q", s)
	}

	inv, err := ParseInvite(s)
	if err != nil {
		t.Fatal(err)
	}
	if inv.URL() != "http://192.0.2.7:8080/pair" {
		t.Errorf("URL %q", inv.URL())
	}
	// B listens on every interface; A fills in the address B came from.
	ans, err := exchange(t, inv, pairA, idB, "Café des Possibles", "tcp://0.0.0.0:22001", netip.MustParseAddr("192.0.2.9"))
	if err != nil {
		t.Fatal(err)
	}
	dA, err := inv.Accept(ans, idB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := linksB.Add(dA); err != nil {
		t.Fatal(err)
	}

	listA, _ := linksA.List()
	if len(listA) != 1 || listA[0].ID != idB || listA[0].Name != "Café des Possibles" || len(listA[0].Addresses) != 1 || listA[0].Addresses[0] != "tcp://192.0.2.9:22001" {
		t.Errorf("A lists %+v", listA)
	}
	listB, _ := linksB.List()
	if len(listB) != 1 || listB[0].ID != idA || listB[0].Name != "La Fabrique" || len(listB[0].Addresses) != 1 || listB[0].Addresses[0] != "tcp://192.0.2.7:22000" {
		t.Errorf("B lists %+v", listB)
	}

	cur, ok, err := pairA.Current()
	if err != nil || !ok || cur.State(cur.Created) != CodeUsed || cur.UsedBy != idB || cur.UsedName != "Café des Possibles" {
		t.Errorf("the code after use: %+v %v %v", cur, ok, err)
	}
}

// TestAnswerRefuses: every way a request can fail, and what each leaves
// of the code.
func TestAnswerRefuses(t *testing.T) {
	from := netip.MustParseAddr("192.0.2.9")
	tests := []struct {
		name  string
		setup func(t *testing.T, p *Pairer, clock *testClock) Invite // returns the invite B uses
		self  protocol.DeviceID
		want  error
		state CodeState
	}{
		{"no code yet", func(t *testing.T, p *Pairer, _ *testClock) Invite {
			return Invite{Host: "192.0.2.7:80", Device: idA, Code: "ABCDEFGHJKMN"}
		}, idB, ErrNoCode, -1},
		{"expired", func(t *testing.T, p *Pairer, clock *testClock) Invite {
			inv := start(t, p)
			clock.Add(CodeLifetime)
			return inv
		}, idB, ErrExpired, CodeExpired},
		{"wrong code", func(t *testing.T, p *Pairer, _ *testClock) Invite {
			inv := start(t, p)
			inv.Code = "ABCDEFGHJKMN"
			return inv
		}, idB, ErrProof, CodeActive},
		{"used by another box", func(t *testing.T, p *Pairer, _ *testClock) Invite {
			inv := start(t, p)
			if _, err := exchange(t, inv, p, idC, "C", "", from); err != nil {
				t.Fatal(err)
			}
			return inv
		}, idB, ErrUsed, CodeUsed},
		{"used, then expired", func(t *testing.T, p *Pairer, clock *testClock) Invite {
			inv := start(t, p)
			if _, err := exchange(t, inv, p, idB, "B", "", from); err != nil {
				t.Fatal(err)
			}
			clock.Add(CodeLifetime)
			return inv
		}, idB, ErrUsed, CodeUsed},
		{"burned", func(t *testing.T, p *Pairer, _ *testClock) Invite {
			inv := start(t, p)
			wrong := inv
			wrong.Code = "ABCDEFGHJKMN"
			for i := range MaxFailures {
				_, err := exchange(t, wrong, p, idC, "C", "", from)
				if want := map[bool]error{true: ErrBurned, false: ErrProof}[i == MaxFailures-1]; !errors.Is(err, want) {
					t.Fatalf("wrong proof %d: %v, want %v", i+1, err, want)
				}
			}
			return inv // the right code, too late
		}, idB, ErrBurned, CodeBurned},
		{"the box itself", func(t *testing.T, p *Pairer, _ *testClock) Invite {
			return start(t, p)
		}, idA, ErrSelf, CodeActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links, p, clock := newPairBox(t, idA, "A")
			inv := tt.setup(t, p, clock)
			before, _ := links.List()
			if _, err := exchange(t, inv, p, tt.self, "B", "", from); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			after, _ := links.List()
			if len(after) != len(before) {
				t.Errorf("a refused request changed the links: %v then %v", before, after)
			}
			c, ok, err := p.Current()
			if err != nil {
				t.Fatal(err)
			}
			if tt.state < 0 {
				if ok {
					t.Errorf("a code appeared: %+v", c)
				}
				return
			}
			if st := c.State(clock.Now()); st != tt.state {
				t.Errorf("the code is in state %d, want %d", st, tt.state)
			}
		})
	}
}

func start(t *testing.T, p *Pairer) Invite {
	t.Helper()
	c, err := p.Start("192.0.2.7:8080")
	if err != nil {
		t.Fatal(err)
	}
	return p.Invite(c)
}

// TestAnswerAgain: B may miss A's answer (a timeout); asking again with
// the same proof gets the same answer, and links nothing else.
func TestAnswerAgain(t *testing.T) {
	links, p, _ := newPairBox(t, idA, "A")
	inv := start(t, p)
	from := netip.MustParseAddr("192.0.2.9")
	first, err := exchange(t, inv, p, idB, "B", "tcp://192.0.2.9:22000", from)
	if err != nil {
		t.Fatal(err)
	}
	again, err := exchange(t, inv, p, idB, "B", "tcp://192.0.2.9:22000", from)
	if err != nil || !bytes.Equal(first.MAC, again.MAC) {
		t.Fatalf("asking again: %v", err)
	}
	if l, _ := links.List(); len(l) != 1 {
		t.Errorf("links %+v", l)
	}
}

// TestStartReplaces: a new code replaces the last, which no longer works.
func TestStartReplaces(t *testing.T) {
	_, p, _ := newPairBox(t, idA, "A")
	old := start(t, p)
	fresh := start(t, p)
	if old.Code == fresh.Code {
		t.Fatal("the same code twice")
	}
	from := netip.MustParseAddr("192.0.2.9")
	if _, err := exchange(t, old, p, idB, "B", "", from); !errors.Is(err, ErrProof) {
		t.Errorf("the replaced code: %v", err)
	}
	if _, err := exchange(t, fresh, p, idB, "B", "", from); err != nil {
		t.Errorf("the new code: %v", err)
	}
}

// TestAccept: B links A only if the answer comes from the box the
// pairing string names and proves the code.
func TestAccept(t *testing.T) {
	inv := Invite{Host: "[2001:db8::7]:8080", Device: idA, Code: "ABCDEFGHJKMN"}
	good := PairAnswer{Device: idA, Name: "A", Addresses: []string{"tcp://[::]:22000", "tcp://198.51.100.1:22000"}, MAC: answerMAC(inv.Code, idA, idB)}
	d, err := inv.Accept(good, idB)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != idA || d.Name != "A" || strings.Join(d.Addresses, " ") != "tcp://[2001:db8::7]:22000 tcp://198.51.100.1:22000" {
		t.Errorf("device %+v", d)
	}
	tests := []struct {
		name string
		ans  PairAnswer
		want error
	}{
		{"another box", PairAnswer{Device: idC, MAC: answerMAC(inv.Code, idC, idB)}, ErrOtherBox},
		{"wrong code", PairAnswer{Device: idA, MAC: answerMAC("ABCDEFGHJKMP", idA, idB)}, ErrAnswer},
		{"B's own proof sent back", PairAnswer{Device: idA, MAC: Proof(inv.Code, idB)}, ErrAnswer},
		{"IDs the other way", PairAnswer{Device: idA, MAC: answerMAC(inv.Code, idB, idA)}, ErrAnswer},
		{"for another asker", PairAnswer{Device: idA, MAC: answerMAC(inv.Code, idA, idC)}, ErrAnswer},
	}
	for _, tt := range tests {
		if _, err := inv.Accept(tt.ans, idB); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestParsePairRequest(t *testing.T) {
	proof := `"` + strings.Repeat("A", 43) + `="` // 32 bytes in base64
	id := `"` + idB.String() + `"`
	tests := []struct {
		name, body string
		want       error
	}{
		{"valid", `{"device":` + id + `,"name":"B","address":"tcp://[::]:22000","proof":` + proof + `}`, nil},
		{"unknown fields are ignored", `{"device":` + id + `,"proof":` + proof + `,"later":1}`, nil},
		{"not JSON", `device=x`, ErrRequest},
		{"no device", `{"proof":` + proof + `}`, ErrRequest},
		{"bad device", `{"device":"ABC","proof":` + proof + `}`, ErrRequest},
		{"no proof", `{"device":` + id + `}`, ErrRequest},
		{"short proof", `{"device":` + id + `,"proof":"AAAA"}`, ErrRequest},
		{"control character in the name", `{"device":` + id + `,"name":"a\u0007b","proof":` + proof + `}`, ErrName},
		{"name too long", `{"device":` + id + `,"name":"` + strings.Repeat("é", MaxName+1) + `","proof":` + proof + `}`, ErrName},
		{"bad address", `{"device":` + id + `,"address":"http://x/","proof":` + proof + `}`, ErrAddress},
		{"too large", `{"device":` + id + `,"proof":` + proof + `,"x":"` + strings.Repeat("x", MaxRequest) + `"}`, ErrRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePairRequest([]byte(tt.body))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParsePairAnswer(t *testing.T) {
	mac := `"` + strings.Repeat("A", 43) + `="`
	id := `"` + idA.String() + `"`
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"valid", `{"device":` + id + `,"name":"A","addresses":["tcp://[::]:22000"],"mac":` + mac + `}`, true},
		{"no MAC", `{"device":` + id + `}`, false},
		{"no device", `{"mac":` + mac + `}`, false},
		{"bad address", `{"device":` + id + `,"addresses":["udp://x:1"],"mac":` + mac + `}`, false},
		{"bad name", `{"device":` + id + `,"name":"\u0000","mac":` + mac + `}`, false},
		{"HTML", `<html>`, false},
	}
	for _, tt := range tests {
		_, err := ParsePairAnswer([]byte(tt.body))
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrAnswer) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestWireErrors(t *testing.T) {
	for _, w := range wireErrors {
		if got := DecodeError(EncodeError(w.err)); got != w.err {
			t.Errorf("%v came back as %v", w.err, got)
		}
	}
	if got := string(EncodeError(errors.New("disk full at /var/lib"))); got != `{"error":"internal"}` {
		t.Errorf("an internal error is sent as %s", got)
	}
	for _, body := range []string{`{"error":"internal"}`, `<html>`, ``, `{"error":"later"}`} {
		if err := DecodeError([]byte(body)); err != nil {
			t.Errorf("%q decoded as %v", body, err)
		}
	}
}

func TestFitName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"La Fabrique", "La Fabrique"},
		{"  Tiers\tlieu\n ", "Tierslieu"},
		{strings.Repeat("é", MaxName+10), strings.Repeat("é", MaxName)},
		{"a\u0085b", "ab"},
	}
	for _, tt := range tests {
		got := fitName(tt.in)
		if got != tt.want {
			t.Errorf("fitName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if _, err := CleanName(got); err != nil {
			t.Errorf("fitName(%q) = %q is not a valid name", tt.in, got)
		}
	}
}

// TestListSkipsPairing: the pairing code kept beside the devices is not
// listed as one, and does not hide them.
func TestListSkipsPairing(t *testing.T) {
	links, p, _ := newPairBox(t, idA, "A")
	if _, err := links.Add(Device{ID: idB, Name: "B"}); err != nil {
		t.Fatal(err)
	}
	start(t, p)
	l, err := links.List()
	if err != nil || len(l) != 1 || l[0].ID != idB {
		t.Errorf("List: %+v, %v", l, err)
	}
	if found, err := links.Remove(idB); err != nil || !found {
		t.Fatal(found, err)
	}
	if _, ok, _ := p.Current(); !ok {
		t.Error("removing a device removed the code")
	}
}
