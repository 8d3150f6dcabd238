package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"tiersbox/box/chat"
	"tiersbox/box/journal"
	"tiersbox/box/privacy"
	"tiersbox/box/store"
	"tiersbox/box/visitor"
)

func newMineServer(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	j, err := journal.Open(st, journal.Origin{1}, journal.Options{Erasable: []journal.Kind{chat.KindPost}})
	if err != nil {
		t.Fatal(err)
	}
	chats, err := chat.New(st, j, chat.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Visitors: visitor.New(st, visitor.Options{}), Addresses: []string{"x"},
		Chat: chats, Privacy: privacy.New(j, chats, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Wrap(srv.Pages()))
	t.Cleanup(func() { srv.CloseWebsockets(); hs.Close() })
	return hs
}

// A visitor downloads what they wrote and erases it with plain forms; the
// erasure asks for a confirmation, comes only from the box's own pages,
// and leaves other visitors' words.
func TestPrivacyMine(t *testing.T) {
	hs := newMineServer(t)
	ana, tom := newPerson(t, hs, "Ana"), newPerson(t, hs, "Tom")
	for _, m := range []struct {
		p    *person
		text string
	}{{ana, "mon numéro : 0612"}, {tom, "bonjour Ana"}, {ana, "à demain"}} {
		if res, _ := m.p.post("/chat/"+url.PathEscape(chat.Default), url.Values{"text": {m.text}}, nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %q: %d", m.text, res.StatusCode)
		}
	}

	_, page := ana.get("/privacy")
	if !strings.Contains(page, "messages : 2 ;") || !strings.Contains(page, `href="/privacy/mine.json"`) {
		t.Fatalf("the page does not show Ana's data:\n%s", page)
	}
	res, body := ana.get("/privacy/mine.json")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	var mine privacy.Contributions
	if err := json.Unmarshal([]byte(body), &mine); err != nil {
		t.Fatal(err)
	}
	if len(mine.Messages) != 2 || mine.Messages[0].Text != "mon numéro : 0612" || mine.Messages[1].Text != "à demain" {
		t.Fatalf("Ana's download: %+v", mine.Messages)
	}
	if strings.Contains(body, "bonjour Ana") {
		t.Fatal("Ana's download holds Tom's message")
	}
	stranger := newPerson(t, hs, "")
	if res, _ := stranger.get("/privacy/mine.json"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("download without a session: %d", res.StatusCode)
	}

	// Without the confirmation: nothing happens.
	res, body = ana.post("/privacy/erase", url.Values{}, nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Cochez la case") {
		t.Fatalf("unconfirmed: %d", res.StatusCode)
	}
	// From another site: refused.
	res, _ = ana.post("/privacy/erase", url.Values{"confirm": {"yes"}}, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site erase: %d", res.StatusCode)
	}
	if _, after := ana.get("/privacy/mine.json"); !strings.Contains(after, "0612") {
		t.Fatal("erased without a confirmation")
	}

	res, body = ana.post("/privacy/erase", url.Values{"confirm": {"yes"}}, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Messages effacés : 2 ; fichiers effacés : 0.") {
		t.Fatalf("erase: %d\n%s", res.StatusCode, body)
	}
	_, channel := tom.get("/chat/" + url.PathEscape(chat.Default) + ".json")
	if strings.Contains(channel, "0612") || strings.Contains(channel, "à demain") || !strings.Contains(channel, "bonjour Ana") {
		t.Fatalf("the channel after erasure: %s", channel)
	}
	_, after := ana.get("/privacy/mine.json")
	json.Unmarshal([]byte(after), &mine)
	if len(mine.Messages) != 0 || len(mine.Erasures) != 1 {
		t.Fatalf("Ana's data after erasure: %+v", mine)
	}
}
