// Command chatbench drives visitors against the box's chat: each enters
// with a nickname, opens a channel's websocket, and together they post at
// a given rate over HTTP, as the page's script does. It reports the
// latency from a post to its arrival on every open page of the channel
// (p50, p99), what was lost, and the box's CPU time and memory.
// scripts/bench-chat runs it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/scripts/internal/latency"
	"tiersbox/scripts/internal/proc"
)

type result struct {
	Clients      int     `json:"clients"`
	Channels     int     `json:"channels"`
	Rate         float64 `json:"rate"`
	Sent         int64   `json:"sent"`
	Refused      int64   `json:"refused"`
	Expected     int64   `json:"expected"`
	Received     int64   `json:"received"`
	Lost         int64   `json:"lost"`
	P50ms        float64 `json:"p50ms"`
	P99ms        float64 `json:"p99ms"`
	CPUSeconds   float64 `json:"cpuSeconds"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
}

type client struct {
	id      int
	channel string
	http    *http.Client
	ws      *websocket.Conn
}

var (
	lats latency.Recorder
)

func main() {
	base := flag.String("url", "", "the box, such as http://127.0.0.1:8080")
	pid := flag.Int("pid", 0, "the box's process ID, for CPU time and memory")
	clients := flag.Int("clients", 1000, "visitors, each with a channel page open")
	channels := flag.Int("channels", 10, "channels the visitors share out")
	rate := flag.Float64("rate", 50, "messages per second, all channels together")
	duration := flag.Duration("duration", 10*time.Second, "how long the visitors post")
	flag.Parse()
	res, err := run(*base, *pid, *clients, *channels, *rate, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatbench:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

func run(base string, pid, n, channels int, rate float64, duration time.Duration) (result, error) {
	res := result{Clients: n, Channels: channels, Rate: rate}
	u, err := url.Parse(base)
	if err != nil {
		return res, err
	}
	// One transport for all: each visitor is a cookie jar, not a socket.
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	cs := make([]*client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32) // joins at a steady pace, as people arrive
	for i := range cs {
		jar, _ := cookiejar.New(nil)
		// Pads' side channels exist without staff: pad-bench-1, -2, …
		c := &client{id: i, channel: fmt.Sprintf("pad-bench-%d", i%channels), http: &http.Client{Jar: jar, Transport: transport}}
		cs[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := c.join(u); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return res, err
	default:
	}
	for _, c := range cs {
		go c.read()
	}
	perChannel := make(map[string][]*client)
	for _, c := range cs {
		perChannel[c.channel] = append(perChannel[c.channel], c)
	}
	time.Sleep(200 * time.Millisecond)

	cpu0 := proc.CPUSeconds(pid)
	var sent, refused, expected atomic.Int64
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	end := time.Now().Add(duration)
	var posts sync.WaitGroup
	for seq := 0; time.Now().Before(end); seq++ {
		<-tick.C
		c := cs[rand.IntN(n)]
		posts.Add(1)
		go func() {
			defer posts.Done()
			text := fmt.Sprintf("bench %d %d %d", c.id, seq, time.Now().UnixNano())
			form := url.Values{"text": {text}}
			req, _ := http.NewRequest("POST", base+"/chat/"+c.channel, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			r, err := c.http.Do(req)
			if err != nil {
				refused.Add(1)
				return
			}
			r.Body.Close()
			if r.StatusCode != http.StatusOK {
				refused.Add(1)
				return
			}
			sent.Add(1)
			expected.Add(int64(len(perChannel[c.channel])))
		}()
	}
	tick.Stop()
	posts.Wait()
	time.Sleep(2 * time.Second) // the last messages arrive
	res.Sent, res.Refused, res.Expected = sent.Load(), refused.Load(), expected.Load()
	res.Received = lats.Count()
	res.Lost = max(res.Expected-res.Received, 0)
	res.P50ms, res.P99ms = lats.Percentiles()
	res.CPUSeconds = proc.CPUSeconds(pid) - cpu0
	res.PeakRSSBytes = proc.PeakRSS(pid)
	for _, c := range cs {
		c.ws.Close()
	}
	return res, nil
}

// join enters with a nickname and opens the channel's websocket.
func (c *client) join(base *url.URL) error {
	form := url.Values{"nickname": {"visiteur" + strconv.Itoa(c.id)}}
	noRedirect := *c.http
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := noRedirect.PostForm(base.String()+"/enter", form)
	if err != nil {
		return err
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("entering: %s", r.Status)
	}
	d := websocket.Dialer{Jar: c.http.Jar}
	c.ws, _, err = d.Dial("ws://"+base.Host+"/ws/chat/"+c.channel, nil)
	if err != nil {
		return fmt.Errorf("client %d: %w", c.id, err)
	}
	return nil
}

// read takes the channel's events and times the bench's posts.
func (c *client) read() {
	for {
		var ev struct {
			Type    string
			Message struct{ Text string }
		}
		if err := c.ws.ReadJSON(&ev); err != nil {
			return
		}
		now := time.Now()
		f := strings.Fields(ev.Message.Text)
		if ev.Type != "post" || len(f) != 4 || f[0] != "bench" {
			continue
		}
		ns, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			continue
		}
		lats.Add(now.Sub(time.Unix(0, ns)))
	}
}
