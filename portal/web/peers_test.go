package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

const (
	selfID  = "MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZDMM-FZWI3DP-BONSGYC-YLTMRWB"
	otherID = "P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2"
	thirdID = "AIR6LPZ-7K4PTTV-UXQSMUU-CPQ5YWH-OEDFIIQ-JUG777G-2YQXXR5-YD6AWQR"
)

// fakePeers is a PeersView that records what the page asks of it.
type fakePeers struct {
	mu         sync.Mutex
	seen       []PeerSeen
	linked     []PeerLinked
	pairing    *Pairing
	pairErr    error  // what Pair returns
	pairID     string // the device Pair links
	answerErr  error
	answer     []byte
	calls      []string
	host       string // StartPairing's argument
	body       []byte // AnswerPairing's arguments
	from       netip.Addr
	lastInvite string
}

func (f *fakePeers) call(c string) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fakePeers) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakePeers) Self() PeerSelf {
	return PeerSelf{Name: "La Fabrique", DeviceID: selfID, Addresses: []string{"tcp://192.168.1.20:22000"}}
}

func (f *fakePeers) Discovered() []PeerSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

func (f *fakePeers) Linked() ([]PeerLinked, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]PeerLinked(nil), f.linked...), nil
}

func (f *fakePeers) Link(id, address, name string) (string, error) {
	f.call("link " + id + " " + address + " " + name)
	switch {
	case !deviceIDText.MatchString(strings.ToUpper(id)):
		return "", fmt.Errorf("wrapped: %w", ErrPeerID)
	case strings.ToUpper(id) == selfID:
		return "", ErrPeerSelf
	case address != "" && !strings.HasPrefix(address, "tcp://"):
		return "", ErrPeerAddress
	case len([]rune(name)) > 64:
		return "", ErrPeerName
	}
	f.mu.Lock()
	f.linked = append(f.linked, PeerLinked{DeviceID: strings.ToUpper(id), Name: name})
	f.mu.Unlock()
	return strings.ToUpper(id), nil
}

func (f *fakePeers) Unlink(id string) error {
	f.call("unlink " + id)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.linked {
		if l.DeviceID == id {
			f.linked = append(f.linked[:i], f.linked[i+1:]...)
			return nil
		}
	}
	return ErrPeerNotLinked
}

func (f *fakePeers) StartPairing(host string) (Pairing, error) {
	f.call("start")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.host = host
	f.pairing = &Pairing{
		Code: "ABCD-EFGH-JKMN", Invite: "tiersbox-pair://192.168.1.20:80/" + selfID + "/ABCD-EFGH-JKMN",
		Expires: time.Date(2026, 5, 1, 9, 10, 0, 0, time.Local), State: PairingActive,
	}
	return *f.pairing, nil
}

func (f *fakePeers) Pairing() (Pairing, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pairing == nil {
		return Pairing{}, false, nil
	}
	return *f.pairing, true, nil
}

func (f *fakePeers) Pair(ctx context.Context, invite string) (string, error) {
	f.call("pair")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastInvite = invite
	if _, ok := ctx.Deadline(); !ok {
		return "", errors.New("no deadline")
	}
	if f.pairErr != nil {
		return "", f.pairErr
	}
	f.linked = append(f.linked, PeerLinked{DeviceID: f.pairID, Name: "Café des Possibles"})
	return f.pairID, nil
}

func (f *fakePeers) AnswerPairing(body []byte, from netip.Addr) ([]byte, error) {
	f.call("answer")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body, f.from = body, from
	return f.answer, f.answerErr
}

// newPeersBox is a box with a staff password and fake peers, and a logged
// in staff cookie.
func newPeersBox(t *testing.T) (*testBox, *fakePeers, *http.Cookie, *testClock) {
	t.Helper()
	fp := &fakePeers{}
	b, clock := newStaffBox(t, staffPassword, func(o *Options) { o.Peers = fp })
	b.srv.pairLimit.now = clock.Now
	_, _, c := b.login(staffPassword)
	if c == nil {
		t.Fatal("no staff session")
	}
	return b, fp, c, clock
}

func langCookies(staff *http.Cookie, lang string) []*http.Cookie {
	return []*http.Cookie{staff, {Name: langCookie, Value: lang}}
}

func TestPeersStaffOnly(t *testing.T) {
	b, fp, _, _ := newPeersBox(t)
	res, _ := b.do(req{target: "/admin/peers"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin?next=%2Fadmin%2Fpeers" {
		t.Errorf("GET without a session: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, target := range []string{"/admin/peers/link", "/admin/peers/unlink", "/admin/peers/code", "/admin/peers/pair"} {
		res, body := b.do(req{method: "POST", target: target, form: url.Values{"id": {otherID}, "confirm": {"yes"}, "invite": {"x"}}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "réservée à l’équipe") {
			t.Errorf("POST %s without a session: %d", target, res.StatusCode)
		}
		if res, _ := b.do(req{target: target}); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d", target, res.StatusCode)
		}
	}
	if calls := fp.Calls(); len(calls) != 0 {
		t.Errorf("calls without a session: %v", calls)
	}
}

// TestPeersCrossOrigin: a page elsewhere cannot make a staff browser link,
// unlink or pair.
func TestPeersCrossOrigin(t *testing.T) {
	b, fp, c, _ := newPeersBox(t)
	cross := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
	for _, target := range []string{"/admin/peers/link", "/admin/peers/unlink", "/admin/peers/code", "/admin/peers/pair", "/pair"} {
		res, _ := b.do(req{method: "POST", target: target, cookies: []*http.Cookie{c}, header: cross,
			form: url.Values{"id": {otherID}, "confirm": {"yes"}, "invite": {"x"}}})
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST %s: %d", target, res.StatusCode)
		}
	}
	if calls := fp.Calls(); len(calls) != 0 {
		t.Errorf("calls from another origin: %v", calls)
	}
}

func TestPeersStaffHomeLinks(t *testing.T) {
	b, _, c, _ := newPeersBox(t)
	if _, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c}}); !strings.Contains(body, `<a href="/admin/peers">Relier d’autres box</a>`) {
		t.Error("the staff home does not link to the peers page")
	}
	none, _ := newStaffBox(t, staffPassword)
	_, _, nc := none.login(staffPassword)
	if _, body := none.do(req{target: "/admin", cookies: []*http.Cookie{nc}}); strings.Contains(body, "/admin/peers") {
		t.Error("a box without sync links to the peers page")
	}
	if res, _ := none.do(req{target: "/admin/peers", cookies: []*http.Cookie{nc}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("/admin/peers without sync: %d", res.StatusCode)
	}
	if res, _ := none.do(req{method: "POST", target: "/pair", body: "{}"}); res.StatusCode != http.StatusNotFound {
		t.Errorf("/pair without sync: %d", res.StatusCode)
	}
}

func TestPeersPage(t *testing.T) {
	b, fp, c, _ := newPeersBox(t)
	seen := time.Date(2026, 4, 30, 18, 5, 0, 0, time.Local)
	fp.linked = []PeerLinked{
		{DeviceID: otherID, Name: "Café des Possibles", Connected: true, Address: "192.168.1.21:51000", InBytes: 1500, OutBytes: 2_500_000,
			Folders: []PeerFolder{
				{Kind: FolderJournal},
				{Kind: FolderDrive, NeedFiles: 3, NeedBytes: 1_500_000, TheyNeedFiles: 1, TheyNeedBytes: 10},
			}},
		{DeviceID: thirdID, Name: "", LastSeen: seen},
		{DeviceID: "AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH", Name: "Médiathèque <Tilleuls>"},
	}
	fp.seen = []PeerSeen{
		{DeviceID: otherID, Name: "Café des Possibles", Version: "v1.0", Addresses: []string{"tcp://192.168.1.21:22000"}},
		{DeviceID: "ZZZZZZZ-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH", Name: "Fablab \"du coin\"", Version: "v1.1", Addresses: []string{"tcp://192.168.1.30:22000", "tcp://[fd00::30]:22000"}},
	}
	tests := []struct {
		lang string
		want []string
	}{
		{"fr", []string{
			`<h1>Autres box</h1>`, `<a href="/admin">Retour à l’espace de l’équipe</a>`,
			`<input id="self-id" type="text" readonly value="` + selfID + `"`, `<label for="self-id">`,
			`<code>tcp://192.168.1.20:22000</code>`,
			`<button type="submit">Associer avec une autre box</button>`,
			`<form method="post" action="/admin/peers/pair"`, `<label for="invite">`,
			// Linked: connected with its folders, last seen, never seen.
			`<h3>Café des Possibles</h3>`, `Connectée depuis 192.168.1.21:51000 · Reçu 1,5 Ko, envoyé 2,5 Mo`,
			`Pads et discussions : à jour`,
			`Documents : à recevoir : 3 fichiers (1,5 Mo) ; à envoyer : 1 fichier (10 o)`,
			`<h3>` + thirdID + `</h3>`, `Vue pour la dernière fois le 30/04/2026 18:05`,
			`<h3>Médiathèque &lt;Tilleuls&gt;</h3>`, `Jamais vue pour l’instant`,
			`L’état de la synchronisation s’affiche quand la box est connectée.`,
			`<input type="hidden" name="id" value="` + otherID + `"><button type="submit" aria-label="Retirer le lien avec Café des Possibles">Retirer le lien</button>`,
			// Discovered: the linked one is marked, the other can be linked.
			`Déjà reliée`,
			`<input type="hidden" name="address" value="tcp://192.168.1.30:22000"><input type="hidden" name="name" value="Fablab &#34;du coin&#34;"><button type="submit" aria-label="Relier Fablab &#34;du coin&#34;">Relier</button>`,
			`version v1.1`,
			`<label for="link-id">Identifiant de l’appareil</label>`, `<label for="link-address">`, `<label for="link-name">`,
		}},
		{"en", []string{
			`<h1>Other boxes</h1>`, `This box&#39;s device ID`, `<button type="submit">Pair with another box</button>`,
			`Connected from 192.168.1.21:51000 · Received 1.5 KB, sent 2.5 MB`, `Pads and chat: in sync`,
			`Documents: to receive: 3 files (1.5 MB); to send: 1 file (10 B)`,
			`Last seen 2026-04-30 18:05`, `Never seen yet`, `Already linked`, `>Remove link</button>`, `>Link</button>`,
			`Link by device ID`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			res, body := b.do(req{target: "/admin/peers", cookies: langCookies(c, tt.lang)})
			if res.StatusCode != 200 {
				t.Fatalf("%d", res.StatusCode)
			}
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			if strings.Contains(body, "<script") || strings.Count(body, "http://") != strings.Count(body, `xmlns="http://www.w3.org/2000/svg"`) || strings.Contains(body, "https://") {
				t.Error("the page has a script, or names something outside the box")
			}
			// One Link button: the linked box has none.
			if n := strings.Count(body, `action="/admin/peers/link"><input`); n != 1 {
				t.Errorf("%d Link buttons", n)
			}
		})
	}
}

func TestPeersEmpty(t *testing.T) {
	b, _, c, _ := newPeersBox(t)
	_, body := b.do(req{target: "/admin/peers", cookies: []*http.Cookie{c}})
	for _, want := range []string{"Aucune box reliée pour l’instant.", "Aucune autre box vue sur le réseau"} {
		if !strings.Contains(body, want) {
			t.Errorf("the empty page lacks %q", want)
		}
	}
}

func TestPeersLink(t *testing.T) {
	b, fp, c, _ := newPeersBox(t)
	res, _ := b.do(req{method: "POST", target: "/admin/peers/link", cookies: []*http.Cookie{c},
		form: url.Values{"id": {" " + strings.ToLower(otherID) + " "}, "address": {"tcp://192.168.1.21:22000"}, "name": {"Café"}}})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || loc != "/admin/peers?done=linked&id="+otherID+"#linked" {
		t.Fatalf("link: %d to %q", res.StatusCode, loc)
	}
	if calls := fp.Calls(); len(calls) != 1 || calls[0] != "link "+strings.ToLower(otherID)+" tcp://192.168.1.21:22000 Café" {
		t.Errorf("calls %q", calls)
	}
	_, body := b.do(req{target: strings.TrimSuffix(loc, "#linked"), cookies: []*http.Cookie{c}})
	if !strings.Contains(body, `<p class="done" role="status">Café est reliée.`) {
		t.Error("no message after linking")
	}
	// A made-up done= link cannot make the page say anything.
	_, body = b.do(req{target: "/admin/peers?done=linked&id=Rien+%C3%A0+voir", cookies: []*http.Cookie{c}})
	if strings.Contains(body, "Rien à voir") || !strings.Contains(body, "? est reliée") {
		t.Error("the done message shows text from the URL")
	}

	bad := []struct {
		name, id, address, linkName string
		lang, want, field           string
	}{
		{"empty ID", "", "", "", "fr", "Ce n’est pas un identifiant d’appareil", "link-id"},
		{"bad ID", "pas un identifiant", "", "", "en", "That is not a device ID", "link-id"},
		{"own ID", selfID, "", "", "fr", "C’est l’identifiant de cette box elle-même.", "link-id"},
		{"bad address", otherID, "http://192.168.1.21/", "", "fr", "Une adresse s’écrit tcp://HÔTE:PORT", "link-address"},
		{"bad address, English", otherID, "nope", "", "en", "An address is written tcp://HOST:PORT", "link-address"},
		{"name too long", otherID, "", strings.Repeat("é", 65), "fr", "Un nom fait 64 caractères au plus", "link-name"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			res, body := b.do(req{method: "POST", target: "/admin/peers/link", cookies: langCookies(c, tt.lang),
				form: url.Values{"id": {tt.id}, "address": {tt.address}, "name": {tt.linkName}}})
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("%d", res.StatusCode)
			}
			if !strings.Contains(body, `<p class="error" id="link-error" role="alert">`+tt.want) {
				t.Errorf("no message %q", tt.want)
			}
			field := regexp.MustCompile(`<input id="` + tt.field + `"[^>]*>`).FindString(body)
			if !strings.Contains(field, `aria-invalid="true"`) || !strings.Contains(field, "link-error") {
				t.Errorf("the wrong field is not marked: %s", field)
			}
			// What staff typed is kept.
			for _, v := range []string{tt.id, tt.address, tt.linkName} {
				if v != "" && !strings.Contains(body, `value="`+v+`"`) {
					t.Errorf("the form lost %q", v)
				}
			}
		})
	}
}

func TestPeersUnlink(t *testing.T) {
	b, fp, c, _ := newPeersBox(t)
	fp.linked = []PeerLinked{{DeviceID: otherID, Name: "Café des Possibles"}}

	// The button asks first, and removes nothing.
	res, body := b.do(req{method: "POST", target: "/admin/peers/unlink", cookies: []*http.Cookie{c}, form: url.Values{"id": {otherID}}})
	if res.StatusCode != 200 || !strings.Contains(body, "<h1>Retirer le lien ?</h1>") ||
		!strings.Contains(body, "Café des Possibles ne sera plus synchronisée") ||
		!strings.Contains(body, `<input type="hidden" name="confirm" value="yes">`) ||
		!strings.Contains(body, `<a href="/admin/peers#linked">Annuler</a>`) {
		t.Fatalf("confirmation: %d\n%s", res.StatusCode, body)
	}
	if len(fp.Calls()) != 0 {
		t.Fatalf("unlinked before confirmation: %v", fp.Calls())
	}
	_, body = b.do(req{method: "POST", target: "/admin/peers/unlink", cookies: langCookies(c, "en"), form: url.Values{"id": {otherID}}})
	if !strings.Contains(body, "<h1>Remove the link?</h1>") || !strings.Contains(body, "Yes, remove the link") {
		t.Error("no English confirmation")
	}

	res, _ = b.do(req{method: "POST", target: "/admin/peers/unlink", cookies: []*http.Cookie{c}, form: url.Values{"id": {otherID}, "confirm": {"yes"}}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/peers?done=unlinked" {
		t.Fatalf("unlink: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if l, _ := fp.Linked(); len(l) != 0 {
		t.Error("still linked")
	}
	_, body = b.do(req{target: "/admin/peers?done=unlinked", cookies: []*http.Cookie{c}})
	if !strings.Contains(body, "Le lien est retiré.") {
		t.Error("no message after unlinking")
	}

	// Again: it is no longer linked, whether asked or confirmed.
	for _, confirm := range []string{"", "yes"} {
		res, body := b.do(req{method: "POST", target: "/admin/peers/unlink", cookies: []*http.Cookie{c}, form: url.Values{"id": {otherID}, "confirm": {confirm}}})
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `<p class="error" role="alert">Cet appareil n’est pas (ou plus) relié.</p>`) {
			t.Errorf("unlinking a device not linked (confirm %q): %d", confirm, res.StatusCode)
		}
	}
}

// TestPeersPairingCode is box A: staff create a code, the page shows it
// with its QR code and pairing string, then what became of it.
func TestPeersPairingCode(t *testing.T) {
	b, fp, c, _ := newPeersBox(t)
	res, _ := b.do(req{method: "POST", target: "/admin/peers/code", cookies: []*http.Cookie{c}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/peers?done=code#pairing" {
		t.Fatalf("create a code: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if fp.host != "tiers.box" {
		t.Errorf("StartPairing got host %q", fp.host)
	}
	invite := fp.pairing.Invite
	for _, lang := range []string{"fr", "en"} {
		_, body := b.do(req{target: "/admin/peers?done=code", cookies: langCookies(c, lang)})
		want := map[string][]string{
			"fr": {"Code créé", "Code à usage unique ABCD-EFGH-JKMN, valable jusqu’au 01/05/2026 09:10.", "Créer un nouveau code"},
			"en": {"Code created", "One-time code ABCD-EFGH-JKMN, valid until 2026-05-01 09:10.", "Create a new code"},
		}[lang]
		want = append(want, `<textarea id="pair-string" readonly`, ">"+invite+"</textarea>", `<svg xmlns="http://www.w3.org/2000/svg"`, `aria-hidden="true"`)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
	}

	for _, tt := range []struct {
		state PairingState
		want  string
	}{
		{PairingUsed, "Le dernier code a servi à Café des Possibles : les deux box sont reliées."},
		{PairingExpired, "Le dernier code a expiré sans servir."},
		{PairingBurned, "Le dernier code a été annulé après trop d’essais erronés."},
	} {
		fp.mu.Lock()
		fp.pairing.State, fp.pairing.UsedBy = tt.state, "Café des Possibles"
		fp.mu.Unlock()
		_, body := b.do(req{target: "/admin/peers", cookies: []*http.Cookie{c}})
		if !strings.Contains(body, tt.want) || strings.Contains(body, "<svg") || strings.Contains(body, invite) || !strings.Contains(body, ">Associer avec une autre box</button>") {
			t.Errorf("state %d: the page does not say %q, or still shows the code", tt.state, tt.want)
		}
	}
}

// TestPeersPair is box B: staff enter A's pairing string.
func TestPeersPair(t *testing.T) {
	b, fp, c, _ := newPeersBox(t)
	invite := "tiersbox-pair://192.168.1.21:80/" + otherID + "/ABCD-EFGH-JKMN"
	fp.pairID = otherID
	res, _ := b.do(req{method: "POST", target: "/admin/peers/pair", cookies: []*http.Cookie{c}, form: url.Values{"invite": {"  " + invite + "\n"}}})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || loc != "/admin/peers?done=paired&id="+otherID+"#linked" {
		t.Fatalf("pair: %d to %q", res.StatusCode, loc)
	}
	if fp.lastInvite != invite {
		t.Errorf("Pair got %q", fp.lastInvite)
	}
	_, body := b.do(req{target: strings.TrimSuffix(loc, "#linked"), cookies: []*http.Cookie{c}})
	if !strings.Contains(body, "Association réussie : Café des Possibles et cette box sont reliées") {
		t.Error("no message after pairing")
	}

	tests := []struct {
		err    error
		status int
		fr, en string
	}{
		{ErrPairInvite, 400, "Ce n’est pas une chaîne d’association.", "That is not a pairing string."},
		{ErrPeerSelf, 400, "C’est la chaîne d’association de cette box elle-même", "That is this box&#39;s own pairing string"},
		{ErrPairUnreachable, 502, "L’autre box ne répond pas.", "The other box does not answer."},
		{ErrPairNoCode, 409, "L’autre box n’a pas de code d’association", "The other box has no pairing code"},
		{ErrPairExpired, 409, "Ce code a expiré", "This code expired"},
		{ErrPairUsed, 409, "Ce code a déjà servi à une autre box", "This code was already used by another box"},
		{ErrPairBurned, 409, "Ce code a été annulé après trop d’essais erronés", "This code was cancelled after too many wrong attempts"},
		{ErrPairWrongCode, 409, "Le code ne correspond pas", "The code does not match"},
		{ErrPairWait, 429, "L’autre box demande de patienter", "The other box asks to wait"},
		{ErrPairRefused, 502, "L’autre box a refusé l’association", "The other box refused the pairing"},
		{ErrPairImpostor, 502, "La box qui a répondu n’a pas prouvé qu’elle est celle de la chaîne", "The box that answered did not prove it is the one in the pairing string"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			fp.mu.Lock()
			fp.pairErr = fmt.Errorf("pairing: %w", tt.err)
			fp.mu.Unlock()
			for lang, want := range map[string]string{"fr": tt.fr, "en": tt.en} {
				res, body := b.do(req{method: "POST", target: "/admin/peers/pair", cookies: langCookies(c, lang), form: url.Values{"invite": {"tiersbox-pair://x<y>"}}})
				if res.StatusCode != tt.status {
					t.Errorf("%s: %d, want %d", lang, res.StatusCode, tt.status)
				}
				if !strings.Contains(body, `<p class="error" id="invite-error" role="alert">`+want) {
					t.Errorf("%s: no message %q", lang, want)
				}
				field := regexp.MustCompile(`<input id="invite"[^>]*>`).FindString(body)
				if !strings.Contains(field, `value="tiersbox-pair://x&lt;y&gt;"`) || !strings.Contains(field, `aria-invalid="true"`) || !strings.Contains(field, "invite-error") {
					t.Errorf("%s: the field %s", lang, field)
				}
			}
		})
	}

	// The box's own failure is not explained in detail.
	fp.mu.Lock()
	fp.pairErr = errors.New("disk full")
	fp.mu.Unlock()
	res, body = b.do(req{method: "POST", target: "/admin/peers/pair", cookies: []*http.Cookie{c}, form: url.Values{"invite": {invite}}})
	if res.StatusCode != 500 || strings.Contains(body, "disk full") {
		t.Errorf("an internal error: %d", res.StatusCode)
	}
}

// TestPairEndpoint is POST /pair at box A, as box B calls it.
func TestPairEndpoint(t *testing.T) {
	b, fp, _, clock := newPeersBox(t)
	post := func(client string) (*http.Response, string) {
		return b.do(req{method: "POST", target: "/pair", client: client, body: `{"device":"x"}`, header: map[string]string{"Content-Type": "application/json"}})
	}
	fp.answer = []byte(`{"device":"` + selfID + `"}`)
	res, body := post("192.168.1.21")
	if res.StatusCode != 200 || body != string(fp.answer) || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("answer: %d %q %v", res.StatusCode, body, res.Header)
	}
	if string(fp.body) != `{"device":"x"}` || fp.from != netip.MustParseAddr("192.168.1.21") {
		t.Errorf("AnswerPairing got %q from %v", fp.body, fp.from)
	}
	if res, _ := b.do(req{target: "/pair"}); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /pair: %d", res.StatusCode)
	}

	refusals := []struct {
		err    error
		status int
	}{
		{ErrPairRequest, 400}, {ErrPeerName, 400}, {ErrPeerAddress, 400}, {ErrPeerSelf, 400},
		{ErrPairNoCode, 404}, {ErrPairExpired, 410}, {ErrPairBurned, 410}, {ErrPairUsed, 409}, {ErrPairWrongCode, 403},
	}
	for i, tt := range refusals {
		client := fmt.Sprintf("192.168.1.%d", 100+i)
		fp.mu.Lock()
		fp.answer, fp.answerErr = []byte(`{"error":"x"}`), fmt.Errorf("link: %w", tt.err)
		fp.mu.Unlock()
		res, body := post(client)
		if res.StatusCode != tt.status || body != `{"error":"x"}` {
			t.Errorf("%v: %d %q, want %d", tt.err, res.StatusCode, body, tt.status)
		}
	}

	// A refused client must wait, longer after each failure; the
	// request is not even read meanwhile.
	fp.mu.Lock()
	fp.answer, fp.answerErr = []byte(`{"error":"wrong_code"}`), ErrPairWrongCode
	fp.mu.Unlock()
	const guesser = "192.168.1.66"
	for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if res, _ := post(guesser); res.StatusCode != http.StatusForbidden {
			t.Fatalf("a wrong proof: %d", res.StatusCode)
		}
		before := len(fp.Calls())
		res, body := post(guesser)
		if res.StatusCode != http.StatusTooManyRequests || body != `{"error":"wait"}` || res.Header.Get("Retry-After") != fmt.Sprint(int(wait.Seconds())) {
			t.Errorf("right after a failure: %d %q, Retry-After %q, want %v", res.StatusCode, body, res.Header.Get("Retry-After"), wait)
		}
		if len(fp.Calls()) != before {
			t.Error("a request was read while its sender must wait")
		}
		clock.Add(wait)
	}
	// Others are not slowed down by one guesser.
	fp.mu.Lock()
	fp.answer, fp.answerErr = []byte(`{}`), nil
	fp.mu.Unlock()
	if res, _ := post("192.168.1.21"); res.StatusCode != 200 {
		t.Errorf("another client: %d", res.StatusCode)
	}

	// The box's own failure: 500, without details.
	fp.mu.Lock()
	fp.answer, fp.answerErr = nil, errors.New("disk full")
	fp.mu.Unlock()
	if res, body := post("192.168.1.22"); res.StatusCode != 500 || body != `{"error":"internal"}` {
		t.Errorf("an internal error: %d %q", res.StatusCode, body)
	}
	if res, _ := post("192.168.1.22"); res.StatusCode != 500 {
		t.Errorf("the box's failure slowed the client down: %d", res.StatusCode)
	}

	// Too large a body.
	res, body = b.do(req{method: "POST", target: "/pair", client: "192.168.1.23", body: strings.Repeat("x", maxPairBody+1)})
	if res.StatusCode != http.StatusBadRequest || body != `{"error":"request"}` {
		t.Errorf("a large body: %d %q", res.StatusCode, body)
	}
}

func TestPairLimiter(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	l := pairLimiter{now: clock.Now}
	wants := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i, want := range wants {
		if n := l.failed("a"); n != i+1 {
			t.Fatalf("count %d, want %d", n, i+1)
		}
		if got := l.wait("a"); got != want*time.Second {
			t.Errorf("after %d failures: wait %v, want %v", i+1, got, want*time.Second)
		}
		clock.Add(time.Minute)
	}
	if l.wait("b") != 0 {
		t.Error("another client waits")
	}
	l.succeeded("a")
	if l.failed("a"); l.wait("a") != time.Second {
		t.Error("success did not forget the failures")
	}
	clock.Add(pairForget)
	if l.failed("a"); l.wait("a") != time.Second {
		t.Error("failures long ago still count")
	}
	if pairClient(netip.MustParseAddr("2001:db8::1")) != pairClient(netip.MustParseAddr("2001:db8::2:3")) {
		t.Error("one IPv6 /64 counts as several clients")
	}
	if pairClient(netip.MustParseAddr("::ffff:192.0.2.1")) != "192.0.2.1" {
		t.Error("an IPv4-mapped address")
	}
}

// TestQRSVG: the SVG draws exactly the modules of the library's QR code
// of the string, quiet zone included.
func TestQRSVG(t *testing.T) {
	s := "tiersbox-pair://192.168.1.20:80/" + selfID + "/ABCD-EFGH-JKMN"
	svg := string(qrSVG(s))
	q, err := qrcode.New(s, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	n := len(want)
	if !strings.Contains(svg, fmt.Sprintf(`viewBox="0 0 %d %d"`, n, n)) {
		t.Fatalf("viewBox: %s", svg[:100])
	}
	got := make([][]bool, n)
	for i := range got {
		got[i] = make([]bool, n)
	}
	d := regexp.MustCompile(`d="([^"]*)"`).FindStringSubmatch(svg)[1]
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(d, -1) {
		var x, y, w, w2 int
		fmt.Sscan(m[1], &x)
		fmt.Sscan(m[2], &y)
		fmt.Sscan(m[3], &w)
		fmt.Sscan(m[4], &w2)
		if w != w2 {
			t.Fatalf("a run that is not a rectangle: %s", m[0])
		}
		for i := x; i < x+w; i++ {
			got[y][i] = true
		}
	}
	for y := range n {
		for x := range n {
			if got[y][x] != want[y][x] {
				t.Fatalf("module %d,%d differs", x, y)
			}
		}
	}
	// The quiet zone is white.
	for _, row := range got[:4] {
		for _, dark := range row {
			if dark {
				t.Fatal("a dark module in the quiet zone")
			}
		}
	}
	if qrSVG(strings.Repeat("x", 5000)) != "" {
		t.Error("a string too long for a QR code")
	}
}
