package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/chat"
	"tiersbox/box/visitor"
)

func newChatServer(t *testing.T) (*httptest.Server, *chat.Service) {
	t.Helper()
	st, j := openVenue(t, t.TempDir())
	chats, err := chat.New(st, j, chat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Visitors: visitor.New(st, visitor.Options{}), Addresses: []string{"x"}, Chat: chats})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Wrap(srv.Pages()))
	t.Cleanup(func() { srv.CloseWebsockets(); hs.Close() })
	return hs, chats
}

// person is a browser without JavaScript: its own cookies, no redirects
// followed, an Origin header on its forms as browsers send.
type person struct {
	t      *testing.T
	hs     *httptest.Server
	client *http.Client
	dial   *net.Dialer
}

// people counts the persons made, so that each comes from an address of
// its own (127.0.0.2, .3, …): the box recognises a device by its address.
var people atomic.Int32

func newPerson(t *testing.T, hs *httptest.Server, nick string) *person {
	jar, _ := cookiejar.New(nil)
	from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+people.Add(1)%250))}}
	p := &person{t: t, hs: hs, dial: from, client: &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: from.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if nick != "" {
		if res, _ := p.post("/enter", url.Values{"nickname": {nick}}, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s enters: %d", nick, res.StatusCode)
		}
	}
	return p
}

func (p *person) get(path string) (*http.Response, string) {
	p.t.Helper()
	res, err := p.client.Get(p.hs.URL + path)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (p *person) post(path string, form url.Values, header map[string]string) (*http.Response, string) {
	p.t.Helper()
	return p.send(path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), header)
}

// send posts a body from the box's own page: with an Origin header, as
// browsers send with a form.
func (p *person) send(path, contentType string, body io.Reader, header map[string]string) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.hs.URL+path, body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", p.hs.URL)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (p *person) visitorID() string {
	u, _ := url.Parse(p.hs.URL)
	for _, c := range p.client.Jar.Cookies(u) {
		if c.Name == visitorCookie {
			return c.Value
		}
	}
	p.t.Fatal("no visitor cookie")
	return ""
}

const generalPath = "/chat/g%C3%A9n%C3%A9ral"

func TestChatWithoutJavaScript(t *testing.T) {
	hs, chats := newChatServer(t)
	ana, bob, anon := newPerson(t, hs, "Ana"), newPerson(t, hs, "Bob"), newPerson(t, hs, "")

	if res, body := anon.get("/chat"); res.StatusCode != 200 || !strings.Contains(body, `href="/chat/g%c3%a9n%c3%a9ral"`) {
		t.Fatalf("channel list: %d\n%s", res.StatusCode, body)
	}
	res, body := anon.get(generalPath)
	if res.StatusCode != 200 || !strings.Contains(body, "Pas encore de message") || strings.Contains(body, `id="chat-form"`) {
		t.Fatalf("empty channel for someone without a nickname: %d\n%s", res.StatusCode, body)
	}
	if res, _ := anon.post(generalPath, url.Values{"text": {"coucou"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("posting without a nickname: %d", res.StatusCode)
	}

	hostile := `<script>alert(1)</script> <img src=x onerror=alert(2)> javascript:alert(3) voir https://tiers.box/pads?x=1&y=2.`
	if res, _ := ana.post(generalPath, url.Values{"text": {hostile}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("posting: %d", res.StatusCode)
	}
	if res, _ := bob.post(generalPath, url.Values{"text": {"Bonjour Ana"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("posting: %d", res.StatusCode)
	}
	_, body = bob.get(generalPath)
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;img src=x onerror=alert(2)&gt;",
		"javascript:alert(3)",
		`<a href="https://tiers.box/pads?x=1&amp;y=2" rel="noopener noreferrer nofollow">https://tiers.box/pads?x=1&amp;y=2</a>.`,
		"Bonjour Ana",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript`} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q as markup", bad)
		}
	}
	if strings.Index(body, "Bonjour Ana") < strings.Index(body, "alert(1)") {
		t.Error("the newest message is not last, next to the form")
	}
	// Bob sees a delete button on his message only.
	if strings.Count(body, `action="/chat/g%c3%a9n%c3%a9ral/delete"`) != 1 {
		t.Errorf("Bob should have one delete button:\n%s", body)
	}

	// JSON, most recent first, without anyone's session ID.
	res, body = anon.get(generalPath + ".json")
	var page struct {
		Channel  string
		Messages []chatMessage
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || res.StatusCode != 200 {
		t.Fatalf("json: %d %v\n%s", res.StatusCode, err, body)
	}
	if len(page.Messages) != 2 || page.Messages[0].Nick != "Bob" || page.Messages[1].Text != hostile {
		t.Fatalf("json messages: %+v", page.Messages)
	}
	for _, id := range []string{ana.visitorID(), bob.visitorID()} {
		if strings.Contains(body, id) || strings.Contains(body, visitor.Pseudonym(id)) {
			t.Fatal("the JSON history shows a visitor's session ID or pseudonym")
		}
	}
	// The journal, which other boxes copy, has pseudonyms, never the
	// session IDs that the visitors' cookies hold.
	stored, _ := chats.History(chat.Default, "", 10)
	if a := stored.Messages[1].Author; a == ana.visitorID() || a != visitor.Pseudonym(ana.visitorID()) {
		t.Fatalf("Ana's message is signed %q", a)
	}
	res, body = anon.get(generalPath + ".txt")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, "] Ana: <script>") || !strings.Contains(body, "] Bob: Bonjour Ana\n") {
		t.Fatalf("transcript: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	// Refusals, each with a clear page.
	tests := []struct {
		name   string
		who    *person
		path   string
		form   url.Values
		header map[string]string
		status int
		says   string
	}{
		{"empty", ana, generalPath, url.Values{"text": {"   "}}, nil, 400, "Le message est vide"},
		{"too long", ana, generalPath, url.Values{"text": {strings.Repeat("a", chat.MaxText+1)}}, nil, 413, "trop long"},
		{"unknown channel", ana, "/chat/nulle-part", url.Values{"text": {"x"}}, nil, 404, "Ce salon n’existe pas"},
		{"bad name", ana, "/chat/..%2Fetc", url.Values{"text": {"x"}}, nil, 400, "nom de salon"},
		{"cross-origin", ana, generalPath, url.Values{"text": {"x"}}, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, ""},
		{"someone else's message", ana, generalPath + "/delete", url.Values{"id": {page.Messages[0].ID}}, nil, 403, "vos propres messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := tt.who.post(tt.path, tt.form, tt.header)
			if res.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Fatalf("got %d, want %d saying %q:\n%s", res.StatusCode, tt.status, tt.says, body)
			}
		})
	}
	// The refused text is kept in the form.
	_, body = ana.post(generalPath, url.Values{"text": {strings.Repeat("b", chat.MaxText+1)}}, nil)
	if !strings.Contains(body, strings.Repeat("b", 100)) || !strings.Contains(body, `aria-invalid="true"`) {
		t.Error("a refused message is not kept in the form")
	}
	// Bob deletes his own message.
	if res, _ := bob.post(generalPath+"/delete", url.Values{"id": {page.Messages[0].ID}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("deleting: %d", res.StatusCode)
	}
	if _, body := anon.get(generalPath); strings.Contains(body, "Bonjour Ana") {
		t.Fatal("a deleted message is still shown")
	}
}

func TestChatJSONPost(t *testing.T) {
	hs, _ := newChatServer(t)
	ana := newPerson(t, hs, "Ana")
	res, body := ana.post(generalPath, url.Values{"text": {"par le script"}}, map[string]string{"Accept": "application/json"})
	var m chatMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil || res.StatusCode != 200 || m.Text != "par le script" || !m.Mine || m.ID == "" {
		t.Fatalf("%d %+v %v", res.StatusCode, m, err)
	}
	res, body = ana.post(generalPath, url.Values{"text": {""}}, map[string]string{"Accept": "application/json"})
	if res.StatusCode != 400 || !strings.Contains(body, `"error":"Le message est vide."`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}

func TestChatPaging(t *testing.T) {
	hs, chats := newChatServer(t)
	for i := range 120 {
		if _, err := chats.Post(chat.Default, fmt.Sprint("id", i), "Ana", fmt.Sprint("message ", i)); err != nil {
			t.Fatal(err)
		}
	}
	anon := newPerson(t, hs, "")
	seen := 0
	path := generalPath + ".json?limit=50"
	for pages := 0; ; pages++ {
		_, body := anon.get(path)
		var page struct {
			Messages []chatMessage
			Older    string
		}
		json.Unmarshal([]byte(body), &page)
		seen += len(page.Messages)
		if page.Older == "" {
			break
		}
		path = generalPath + ".json?limit=50&before=" + url.QueryEscape(page.Older)
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	var all int
	chats.All(chat.Default, func(chat.Message) error { all++; return nil })
	if seen != all || all == 0 {
		t.Fatalf("paged through %d of %d", seen, all)
	}
	_, body := anon.get(generalPath)
	if !strings.Contains(body, "Messages plus anciens") {
		t.Error("the page has no link to older messages")
	}
}

// TestChatWebsocket: a message posted by one visitor reaches the open
// pages of the channel at once, marked as theirs only on their own.
func TestChatWebsocket(t *testing.T) {
	hs, _ := newChatServer(t)
	ana, bob := newPerson(t, hs, "Ana"), newPerson(t, hs, "Bob")
	dial := func(p *person) *websocket.Conn {
		u, _ := url.Parse(hs.URL)
		d := websocket.Dialer{Jar: p.client.Jar, NetDialContext: p.dial.DialContext}
		ws, _, err := d.Dial("ws://"+u.Host+generalWS, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	wsAna, wsBob := dial(ana), dial(bob)
	time.Sleep(50 * time.Millisecond) // both joined before the post
	ana.post(generalPath, url.Values{"text": {"en direct"}}, nil)
	for _, c := range []struct {
		ws   *websocket.Conn
		mine bool
	}{{wsAna, true}, {wsBob, false}} {
		c.ws.SetReadDeadline(time.Now().Add(time.Second))
		var ev chatEvent
		if err := c.ws.ReadJSON(&ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "post" || ev.Message == nil || ev.Message.Text != "en direct" || ev.Message.Nick != "Ana" || ev.Message.Mine != c.mine {
			t.Fatalf("event %+v %+v", ev, ev.Message)
		}
	}
	var ev chatEvent
	_, body := ana.get(generalPath + ".json")
	var page struct{ Messages []chatMessage }
	json.Unmarshal([]byte(body), &page)
	ana.post(generalPath+"/delete", url.Values{"id": {page.Messages[0].ID}}, nil)
	wsBob.SetReadDeadline(time.Now().Add(time.Second))
	if err := wsBob.ReadJSON(&ev); err != nil || ev.Type != "remove" || ev.ID != page.Messages[0].ID {
		t.Fatalf("removal event %+v %v", ev, err)
	}
}

const generalWS = "/ws/chat/g%C3%A9n%C3%A9ral"

// TestPadSideChannel: every pad has a channel of its own, which links back
// to the pad.
func TestPadSideChannel(t *testing.T) {
	hs, _ := newChatServer(t)
	ana := newPerson(t, hs, "Ana")
	if res, _ := ana.post("/chat/pad-Atelier_1", url.Values{"text": {"sur le pad"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("posting in a pad's channel: %d", res.StatusCode)
	}
	res, body := ana.get("/chat/pad-Atelier_1")
	if res.StatusCode != 200 || !strings.Contains(body, `href="/pads/Atelier_1"`) || !strings.Contains(body, "sur le pad") {
		t.Fatalf("%d\n%s", res.StatusCode, body)
	}
	if res, _ := ana.get("/chat/pad-no%20pad"); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a pad channel with a bad pad name: %d", res.StatusCode)
	}
}

// TestChatModeration: staff create, archive and reopen channels, remove
// any message, mute a nickname and clear a channel; visitors can do none
// of it.
func TestChatModeration(t *testing.T) {
	hs, chats := newChatServer(t)
	ana, bob := newPerson(t, hs, "Ana"), newPerson(t, hs, "Bob")
	staff := newPerson(t, hs, "")
	if res, _ := staff.post("/admin/login", url.Values{"password": {staffPassword}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("staff login: %d", res.StatusCode)
	}
	ana.post(generalPath, url.Values{"text": {"un message gênant"}}, nil)
	bob.post(generalPath, url.Values{"text": {"un message correct"}}, nil)
	page, _ := chats.History(chat.Default, "", 10)
	gênant := page.Messages[1].ID

	// Visitors cannot moderate.
	for _, tt := range []struct{ path, field, value string }{
		{"/chat", "name", "atelier"},
		{generalPath + "/remove", "id", gênant},
		{generalPath + "/clear", "", ""},
		{generalPath + "/mute", "nick", "Ana"},
	} {
		if res, _ := bob.post(tt.path, url.Values{tt.field: {tt.value}}, nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("a visitor posts to %s: %d", tt.path, res.StatusCode)
		}
	}
	if _, body := bob.get(generalPath); strings.Contains(body, "/remove") || strings.Contains(body, "/clear") {
		t.Error("a visitor's page has moderation buttons")
	}
	if _, body := staff.get(generalPath); !strings.Contains(body, "Retirer ce message") || !strings.Contains(body, "Mettre Ana en pause") {
		t.Errorf("the staff page lacks moderation buttons:\n%s", body)
	}

	steps := []struct {
		what, path string
		form       url.Values
	}{
		{"remove", generalPath + "/remove", url.Values{"id": {gênant}}},
		{"mute", generalPath + "/mute", url.Values{"nick": {"ana"}, "minutes": {"15"}}},
		{"create", "/chat", url.Values{"name": {"Atelier Vélo"}}},
	}
	for _, st := range steps {
		if res, body := staff.post(st.path, st.form, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", st.what, res.StatusCode, body)
		}
	}
	if _, body := bob.get(generalPath); strings.Contains(body, "gênant") || !strings.Contains(body, "correct") {
		t.Error("the removed message is still shown, or the other one is gone")
	}
	if res, body := ana.post(generalPath, url.Values{"text": {"encore"}}, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "en pause") {
		t.Errorf("a muted visitor posts: %d", res.StatusCode)
	}
	if res, _ := staff.post(generalPath+"/mute", url.Values{"nick": {"Ana"}, "minutes": {"0"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("lifting a pause: %d", res.StatusCode)
	}
	if res, _ := ana.post(generalPath, url.Values{"text": {"merci"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a visitor whose pause was lifted cannot post: %d", res.StatusCode)
	}
	if res, _ := bob.post("/chat/atelier-vélo", url.Values{"text": {"premier"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("posting in the new channel: %d", res.StatusCode)
	}
	if res, _ := staff.post("/chat/atelier-vélo/archive", url.Values{}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("archive: %d", res.StatusCode)
	}
	if _, body := bob.get("/chat"); strings.Contains(body, "atelier-v") {
		t.Error("an archived channel is listed for visitors")
	}
	if res, _ := bob.post("/chat/atelier-vélo", url.Values{"text": {"trop tard"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("posting in an archived channel: %d", res.StatusCode)
	}
	if res, _ := staff.post("/chat/atelier-vélo/archive", url.Values{"reopen": {"1"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reopen: %d", res.StatusCode)
	}
	if res, _ := staff.post(generalPath+"/clear", url.Values{}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("clear: %d", res.StatusCode)
	}
	if _, body := bob.get(generalPath); strings.Contains(body, "correct") {
		t.Error("a cleared channel still shows its messages")
	}
	if _, body := bob.get("/chat/atelier-v%C3%A9lo"); !strings.Contains(body, "premier") {
		t.Error("clearing one channel touched another")
	}

	// Staff close the chat for the venue: it reads, it takes no post.
	if res, _ := staff.post("/chat/switch", url.Values{"off": {"1"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("turning the chat off: %d", res.StatusCode)
	}
	if res, body := bob.post(generalPath, url.Values{"text": {"fermé ?"}}, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "fermée") {
		t.Errorf("posting while the chat is off: %d", res.StatusCode)
	}
	if _, body := bob.get("/chat/atelier-v%C3%A9lo"); !strings.Contains(body, "premier") || strings.Contains(body, `id="chat-form"`) {
		t.Error("a closed chat should read without a form")
	}
	staff.post("/chat/switch", url.Values{}, nil)
	if res, _ := bob.post(generalPath, url.Values{"text": {"rouvert"}}, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("posting after the chat is on again: %d", res.StatusCode)
	}
}
