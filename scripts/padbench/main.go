// Command padbench drives simulated y-websocket clients against a pad
// server (the box, or the reference Node server of the y-websocket
// package) and reports the latency from one client's edit to its arrival
// at the other clients of the same pad, what was lost, and the server's
// CPU time and memory. scripts/bench-pads runs it against both servers.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"tiersbox/box/ydoc"
	"tiersbox/scripts/internal/latency"
	"tiersbox/scripts/internal/proc"
)

type result struct {
	Server       string  `json:"server"`
	Clients      int     `json:"clients"`
	Pads         int     `json:"pads"`
	Rate         float64 `json:"rate"`
	Sent         int64   `json:"sent"`
	Expected     int64   `json:"expected"`
	Received     int64   `json:"received"`
	Lost         int64   `json:"lost"`
	P50ms        float64 `json:"p50ms"`
	P99ms        float64 `json:"p99ms"`
	CPUSeconds   float64 `json:"cpuSeconds"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
	Failed       int64   `json:"failedClients"`
}

func main() {
	url := flag.String("url", "", "websocket base URL, such as ws://127.0.0.1:8080/ws/pads")
	server := flag.String("server", "box", "a name for the report")
	pid := flag.Int("pid", 0, "the server's process ID, for CPU time and memory")
	clients := flag.Int("clients", 100, "simulated clients")
	perPad := flag.Int("per-pad", 20, "clients per pad")
	rate := flag.Float64("rate", 2, "edits per second per client")
	duration := flag.Duration("duration", 10*time.Second, "how long the clients type")
	flag.Parse()
	res, err := run(*url, *server, *pid, *clients, *perPad, *rate, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "padbench:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

type client struct {
	id   int
	pad  int
	ws   *websocket.Conn
	mu   sync.Mutex // guards writes
	doc  *ydoc.Doc
	seen map[string]bool
}

var (
	sentAt sync.Map // token → time.Time
	lats   latency.Recorder
)

func run(url, server string, pid, n, perPad int, rate float64, duration time.Duration) (result, error) {
	pads := (n + perPad - 1) / perPad
	res := result{Server: server, Clients: n, Pads: pads, Rate: rate}
	cpu0 := proc.CPUSeconds(pid)
	var cs []*client
	var failed atomic.Int64
	for i := range n {
		c := &client{id: i, pad: i % pads, doc: ydoc.NewDoc(ydoc.Options{ClientID: uint64(i + 1)}), seen: make(map[string]bool)}
		var err error
		for try := 0; try < 3; try++ {
			c.ws, _, err = websocket.DefaultDialer.Dial(url+"/bench-"+strconv.Itoa(c.pad), nil)
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			failed.Add(1)
			continue
		}
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.read() })
	}
	// Let the first syncs settle.
	time.Sleep(time.Second)
	var sent atomic.Int64
	stop := time.Now().Add(duration)
	var typers sync.WaitGroup
	for _, c := range cs {
		typers.Go(func() {
			// Start at a random moment so that clients do not type in
			// lockstep.
			time.Sleep(time.Duration(rand.Float64() * float64(time.Second) / rate))
			tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
			defer tick.Stop()
			for seq := 0; time.Now().Before(stop); seq++ {
				<-tick.C
				token := fmt.Sprintf("~%d.%d~", c.id, seq)
				update := c.doc.Transact(func(*ydoc.Transaction) {
					c.doc.Text("content").Insert(c.doc.Text("content").Len(), token)
				})
				msg := []byte{0, 2}
				msg = binary.AppendUvarint(msg, uint64(len(update)))
				msg = append(msg, update...)
				sentAt.Store(token, time.Now())
				c.mu.Lock()
				err := c.ws.WriteMessage(websocket.BinaryMessage, msg)
				c.mu.Unlock()
				if err != nil {
					failed.Add(1)
					return
				}
				sent.Add(1)
			}
		})
	}
	typers.Wait()
	// Give the last edits time to arrive.
	time.Sleep(2 * time.Second)
	for _, c := range cs {
		c.ws.Close()
	}
	wg.Wait()

	res.Sent = sent.Load()
	// Every edit should reach every other client of its pad.
	perPadClients := make(map[int]int)
	for _, c := range cs {
		perPadClients[c.pad]++
	}
	sentPerPad := make(map[int]int64)
	sentAt.Range(func(k, _ any) bool {
		var id, seq int
		fmt.Sscanf(strings.Trim(k.(string), "~"), "%d.%d", &id, &seq)
		sentPerPad[id%pads]++
		return true
	})
	for p, s := range sentPerPad {
		res.Expected += s * int64(perPadClients[p]-1)
	}
	res.Received = lats.Count()
	res.Lost = max(res.Expected-res.Received, 0)
	res.Failed = failed.Load()
	res.P50ms, res.P99ms = lats.Percentiles()
	res.CPUSeconds = proc.CPUSeconds(pid) - cpu0
	res.PeakRSSBytes = proc.PeakRSS(pid)
	return res, nil
}

// read takes the server's messages and times the tokens of others' edits.
func (c *client) read() {
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if len(msg) < 2 || msg[0] != 0 || msg[1] == 0 {
			continue
		}
		now := time.Now()
		for _, token := range tokens(msg) {
			if c.seen[token] {
				continue
			}
			c.seen[token] = true
			if t, ok := sentAt.Load(token); ok && !strings.HasPrefix(token, fmt.Sprintf("~%d.", c.id)) {
				lats.Add(now.Sub(t.(time.Time)))
			}
		}
	}
}

// tokens finds the "~ID.SEQ~" tokens in a message. A '~' byte may also
// occur in the binary parts of an update, so each candidate is checked.
func tokens(msg []byte) []string {
	var out []string
	for i := 0; i < len(msg); i++ {
		if msg[i] != '~' {
			continue
		}
		j, dot := i+1, false
		for j < len(msg) && (msg[j] >= '0' && msg[j] <= '9' || msg[j] == '.' && !dot) {
			if msg[j] == '.' {
				dot = true
			}
			j++
		}
		if j < len(msg) && msg[j] == '~' && dot && j > i+2 {
			out = append(out, string(msg[i:j+1]))
			i = j
		}
	}
	return out
}
