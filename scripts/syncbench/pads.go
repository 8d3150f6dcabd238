package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"tiersbox/box/ydoc"
	"tiersbox/scripts/internal/latency"
)

// y-websocket messages: [0 (sync), kind, uvarint length, payload].
const (
	syncStep1  = 0
	syncStep2  = 1
	syncUpdate = 2
)

func syncMessage(kind byte, payload []byte) []byte {
	m := []byte{0, kind}
	m = binary.AppendUvarint(m, uint64(len(payload)))
	return append(m, payload...)
}

// syncPayload returns the kind and payload of a sync message.
func syncPayload(msg []byte) (byte, []byte, bool) {
	if len(msg) < 3 || msg[0] != 0 {
		return 0, nil, false
	}
	n, k := binary.Uvarint(msg[2:])
	if k <= 0 || uint64(len(msg)-2-k) < n {
		return 0, nil, false
	}
	return msg[1], msg[2+k : 2+k+int(n)], true
}

func dialPad(httpAddr, pad string) *websocket.Conn {
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws/pads/"+pad, nil)
	if err != nil {
		die("pad %s at %s: %v", pad, httpAddr, err)
	}
	return ws
}

// typePad types text at the end of a pad in chunks, one every interval,
// and returns once the box has taken every chunk: a sync step 1 sent
// after them is answered only once they are applied.
func typePad(httpAddr, pad, text string, chunk int, every time.Duration) error {
	ws := dialPad(httpAddr, pad)
	defer ws.Close()
	answered := make(chan struct{})
	go func() {
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if kind, _, ok := syncPayload(msg); ok && kind == syncStep2 {
				close(answered)
				return
			}
		}
	}()
	doc := ydoc.NewDoc(ydoc.Options{ClientID: uint64(rand.Uint32()) + 1})
	content := doc.Text("content")
	for off := 0; off < len(text); {
		end := min(off+chunk, len(text))
		for end < len(text) && !utf8.RuneStart(text[end]) {
			end--
		}
		part := text[off:end]
		off = end
		update := doc.Transact(func(*ydoc.Transaction) { content.Insert(content.Len(), part) })
		if err := ws.WriteMessage(websocket.BinaryMessage, syncMessage(syncUpdate, update)); err != nil {
			return fmt.Errorf("pad %s: %w", pad, err)
		}
		time.Sleep(every)
	}
	if err := ws.WriteMessage(websocket.BinaryMessage, syncMessage(syncStep1, doc.EncodeStateVector())); err != nil {
		return fmt.Errorf("pad %s: %w", pad, err)
	}
	select {
	case <-answered:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("pad %s: the box did not answer a sync step 1 within 30 s", pad)
	}
}

// readPad returns a pad's text as a visitor opening it sees it.
func readPad(httpAddr, pad string) (string, error) {
	ws := dialPad(httpAddr, pad)
	defer ws.Close()
	doc := ydoc.NewDoc(ydoc.Options{ClientID: uint64(rand.Uint32()) + 1})
	if err := ws.WriteMessage(websocket.BinaryMessage, syncMessage(syncStep1, doc.EncodeStateVector())); err != nil {
		return "", err
	}
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return "", err
		}
		if kind, payload, ok := syncPayload(msg); ok && kind == syncStep2 {
			if err := doc.ApplyUpdate(payload); err != nil {
				return "", err
			}
			return doc.Text("content").String(), nil
		}
	}
}

type delayResult struct {
	Sent, Arrived  int
	P50, P99, Max  float64 // milliseconds
	Interval, Span time.Duration
}

// measureDelay types one character every interval for span into a pad at
// one box, and times its arrival in the same pad at the other box; both
// clients run here, on one clock.
func measureDelay(fromHTTP, toHTTP, pad string, interval, span time.Duration) (delayResult, error) {
	res := delayResult{Interval: interval, Span: span}
	var (
		mu      sync.Mutex
		sentAt  []time.Time
		arrived int
		lats    latency.Recorder
		readErr error
	)
	reader := dialPad(toHTTP, pad)
	defer reader.Close()
	seen := ydoc.NewDoc(ydoc.Options{ClientID: 2})
	if err := reader.WriteMessage(websocket.BinaryMessage, syncMessage(syncStep1, seen.EncodeStateVector())); err != nil {
		return res, err
	}
	go func() {
		for {
			_, msg, err := reader.ReadMessage()
			if err != nil {
				mu.Lock()
				readErr = err
				mu.Unlock()
				return
			}
			kind, payload, ok := syncPayload(msg)
			if !ok || kind == syncStep1 {
				continue
			}
			now := time.Now()
			if err := seen.ApplyUpdate(payload); err != nil {
				mu.Lock()
				readErr = err
				mu.Unlock()
				return
			}
			n := seen.Text("content").Len()
			mu.Lock()
			for arrived < n && arrived < len(sentAt) {
				lats.Add(now.Sub(sentAt[arrived]))
				arrived++
			}
			mu.Unlock()
		}
	}()

	writer := dialPad(fromHTTP, pad)
	defer writer.Close()
	go func() {
		for {
			if _, _, err := writer.ReadMessage(); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second) // let both first syncs settle
	doc := ydoc.NewDoc(ydoc.Options{ClientID: 1})
	content := doc.Text("content")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	stop := time.Now().Add(span)
	for i := 0; time.Now().Before(stop); i++ {
		<-tick.C
		ch := string(rune('a' + i%26))
		update := doc.Transact(func(*ydoc.Transaction) { content.Insert(content.Len(), ch) })
		mu.Lock()
		sentAt = append(sentAt, time.Now())
		mu.Unlock()
		if err := writer.WriteMessage(websocket.BinaryMessage, syncMessage(syncUpdate, update)); err != nil {
			return res, fmt.Errorf("typing at %s: %w", fromHTTP, err)
		}
	}
	// Wait for the last characters, up to 10 s.
	waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return arrived == len(sentAt) || readErr != nil
	})
	mu.Lock()
	res.Sent, res.Arrived = len(sentAt), arrived
	err := readErr
	mu.Unlock()
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return res, fmt.Errorf("reading at %s: %w", toHTTP, err)
	}
	res.P50, res.P99 = lats.Percentiles()
	res.Max = lats.Max()
	return res, nil
}
