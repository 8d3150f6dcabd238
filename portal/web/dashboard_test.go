package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPresence(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.Local)}
	p := &presence{now: clock.Now}
	check := func(wantNow, wantToday int) {
		t.Helper()
		if now, today := p.counts(); now != wantNow || today != wantToday {
			t.Errorf("at %s: now %d, today %d; want %d, %d", clock.Now().Format(time.TimeOnly), now, today, wantNow, wantToday)
		}
	}
	check(0, 0)
	p.seen("ana")
	p.seen("ana")
	p.seen("") // someone who has not entered
	gone := p.connected("bob")
	check(2, 2)

	// Ana's last request is old; Bob's pad is still open.
	clock.Add(presentFor + time.Second)
	check(1, 2)
	gone()
	gone() // twice is once
	check(1, 2)
	clock.Add(presentFor + time.Second)
	check(0, 2)

	// A new day starts at local midnight.
	clock.Add(15 * time.Hour)
	check(0, 0)
	p.seen("ana")
	check(1, 1)

	// Only counts: no pseudonym is kept.
	for h := range p.today {
		if h == 0 {
			t.Error("a zero hash")
		}
	}
}

// TestDashboard: the staff home's figures follow what visitors do.
func TestDashboard(t *testing.T) {
	b, c, _ := settingsBox(t, func(o *Options) {
		o.DiskFree = func() (int64, bool) { return 3_500_000_000, true }
	})
	home := func() string {
		t.Helper()
		res, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("staff home: %d", res.StatusCode)
		}
		return body
	}
	body := home()
	for _, want := range []string{`<dd id="dash-now">0</dd>`, `<dd id="dash-today">0</dd>`, `<dd id="dash-sessions">0</dd>`,
		`<dd id="dash-free">3,5 Go</dd>`, `<dd id="dash-uptime">0 min</dd>`, `<dd id="dash-version">test</dd>`,
		// Still the links.
		`<a href="/admin/settings">`, `<a href="/admin/poster">`} {
		if !strings.Contains(body, want) {
			t.Errorf("staff home lacks %q", want)
		}
	}
	// Parts the box does not run are left out.
	for _, not := range []string{"dash-pads", "dash-channels", "dash-drive", "dash-peers"} {
		if strings.Contains(body, not) {
			t.Errorf("staff home shows %s, which this box does not run", not)
		}
	}

	// Two visitors enter, from two devices; one comes back.
	for _, v := range []struct{ nick, addr string }{{"Ana", "10.42.0.50"}, {"Bob", "10.42.0.51"}} {
		res, _ := b.do(req{method: "POST", target: "/enter", client: v.addr, form: url.Values{"nickname": {v.nick}}})
		b.do(req{target: "/", client: v.addr, cookies: res.Cookies()})
		b.do(req{target: "/", client: v.addr, cookies: res.Cookies()})
	}
	body = home()
	for _, want := range []string{`<dd id="dash-now">2</dd>`, `<dd id="dash-today">2</dd>`, `<dd id="dash-sessions">2</dd>`} {
		if !strings.Contains(body, want) {
			t.Errorf("after two visitors, staff home lacks %q", want)
		}
	}
	if _, body := b.do(req{target: "/admin", cookies: []*http.Cookie{c, {Name: langCookie, Value: "en"}}}); !strings.Contains(body, `<dd id="dash-free">3.5 GB</dd>`) {
		t.Error("English figures")
	}
}

func TestFormatUptime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                             "0 min",
		59 * time.Second:              "0 min",
		42 * time.Minute:              "42 min",
		3*time.Hour + 5*time.Minute:   "3 h 5 min",
		50*time.Hour + 59*time.Minute: "2 j 2 h",
	} {
		if got := formatUptime(d, "fr"); got != want {
			t.Errorf("formatUptime(%v) = %q, want %q", d, got, want)
		}
	}
	if got := formatUptime(50*time.Hour, "en"); got != "2 d 2 h" {
		t.Errorf("English: %q", got)
	}
}
