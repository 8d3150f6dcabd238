//go:build !linux

package web

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// readPoller is, away from Linux (where the box runs), one reader
// goroutine per connection; wspoll_linux.go explains the Linux one.
type readPoller struct{ idle atomic.Int64 }

type polled struct {
	conn net.Conn
	idle time.Duration
	h    frameHandler
	fr   frameReader

	mu      sync.Mutex
	removed bool
	paused  bool
	resumed *sync.Cond
}

var poller = func() *readPoller {
	p := new(readPoller)
	p.idle.Store(int64(readWait))
	return p
}()

func sharedPoller() (*readPoller, error) { return poller, nil }

func (p *readPoller) prepare(conn net.Conn, limit int, h frameHandler) *polled {
	c := &polled{conn: conn, h: h, fr: frameReader{limit: limit}, idle: time.Duration(p.idle.Load())}
	c.resumed = sync.NewCond(&c.mu)
	return c
}

func (c *polled) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.removed {
		go c.read(c.idle)
	}
	return nil
}

func (c *polled) read(idle time.Duration) {
	buf := make([]byte, 4096)
	for {
		c.mu.Lock()
		for c.paused && !c.removed {
			c.resumed.Wait()
		}
		removed := c.removed
		c.mu.Unlock()
		if removed {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(idle))
		n, err := c.conn.Read(buf)
		if n > 0 {
			if ferr := c.fr.feed(buf[:n], c.h.frame); ferr != nil {
				c.end(ferr)
				return
			}
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = errIdle
		}
		if err != nil {
			c.end(err)
			return
		}
	}
}

func (c *polled) remove() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return false
	}
	c.removed = true
	c.resumed.Broadcast()
	return true
}

func (c *polled) pause() {
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
}

func (c *polled) resume() {
	c.mu.Lock()
	c.paused = false
	c.mu.Unlock()
	c.resumed.Broadcast()
}
