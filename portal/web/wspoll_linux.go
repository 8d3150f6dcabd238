package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// readPoller reads the pad and chat websockets of the whole process from
// one goroutine, woken by epoll when a connection has bytes, instead of one
// blocked reader goroutine per connection. A reader's stack (4 to 8 KiB)
// was the largest cost of an idle phone: with 1,500 of them it was 9 MiB
// of stacks, and the garbage collector lets the heap grow by as much
// again. What a message then asks for runs on a short-lived goroutine
// (padConn.handle), so nothing here waits on the disk.
type readPoller struct {
	epfd int
	idle atomic.Int64 // a duration: how long a connection may stay silent

	mu     sync.Mutex
	conns  map[uint64]*polled
	nextID uint64
}

// polled is one connection in the poller.
type polled struct {
	p      *readPoller
	id     uint64
	raw    syscall.RawConn
	rawErr error
	h      frameHandler
	fr     frameReader  // used by the poller's goroutine only
	heard  atomic.Int64 // when bytes last came (UnixNano), for the idle limit

	mu      sync.Mutex // orders start, remove, pause and resume
	removed bool
	paused  bool
}

var (
	pollerOnce sync.Once
	poller     *readPoller
	pollerErr  error
)

// sharedPoller returns the process's poller, started on first use.
func sharedPoller() (*readPoller, error) {
	pollerOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			pollerErr = fmt.Errorf("web: epoll: %w", err)
			return
		}
		poller = &readPoller{epfd: fd, conns: make(map[uint64]*polled)}
		poller.idle.Store(int64(readWait))
		go poller.loop()
	})
	return poller, pollerErr
}

// prepare makes conn ready to be read, with messages of up to limit
// bytes, handed to h; start begins the reading. Two steps, so that the
// caller can keep the result before anything reaches h.
func (p *readPoller) prepare(conn net.Conn, limit int, h frameHandler) *polled {
	c := &polled{p: p, h: h, fr: frameReader{limit: limit}}
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, c.rawErr = sc.SyscallConn()
	} else {
		c.rawErr = fmt.Errorf("web: %T has no file descriptor to poll", conn)
	}
	return c
}

func (c *polled) start() error {
	if c.rawErr != nil {
		return c.rawErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil // closed before it started
	}
	p := c.p
	p.mu.Lock()
	p.nextID++
	c.id = p.nextID
	p.conns[c.id] = c
	p.mu.Unlock()
	c.heard.Store(time.Now().UnixNano())
	if err := c.ctl(unix.EPOLL_CTL_ADD, unix.EPOLLIN|unix.EPOLLRDHUP); err != nil {
		p.forget(c.id)
		c.removed = true
		return fmt.Errorf("web: poll connection: %w", err)
	}
	return nil
}

// ctl changes the connection's registration. The epoll data is the
// connection's ID rather than its descriptor, which the system reuses as
// soon as a connection closes.
func (c *polled) ctl(op int, events uint32) error {
	if c.raw == nil {
		return c.rawErr
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(uint32(c.id)), Pad: int32(uint32(c.id >> 32))}
	var err error
	cerr := c.raw.Control(func(fd uintptr) { err = unix.EpollCtl(c.p.epfd, op, int(fd), &ev) })
	if cerr != nil {
		return cerr
	}
	return err
}

// remove stops reading the connection, without calling ended. It reports
// whether this call removed it.
func (c *polled) remove() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return false
	}
	c.removed = true
	c.ctl(unix.EPOLL_CTL_DEL, 0) // fails only if closed, which unregisters too
	c.p.forget(c.id)
	return true
}

func (p *readPoller) forget(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, id)
}

// pause stops reading the connection until resume: the bytes wait in the
// network's buffers and the client slows down, as it did when a reader
// goroutine was busy.
func (c *polled) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused && !c.removed {
		c.paused = true
		c.ctl(unix.EPOLL_CTL_MOD, 0)
	}
}

func (c *polled) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused && !c.removed {
		c.paused = false
		c.ctl(unix.EPOLL_CTL_MOD, unix.EPOLLIN|unix.EPOLLRDHUP)
	}
}

func (c *polled) isPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

func (p *readPoller) loop() {
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	lastSweep := time.Now()
	for {
		n, err := unix.EpollWait(p.epfd, events, 1000)
		if err != nil && !errors.Is(err, unix.EINTR) {
			slog.Error("websocket poller", "error", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, ev := range events[:max(n, 0)] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				c.readable(buf)
			}
		}
		if now := time.Now(); now.Sub(lastSweep) >= time.Second {
			lastSweep = now
			p.sweep(now)
		}
	}
}

// sweep ends the connections nothing came from for the idle time (the
// box pings every connection well within it).
func (p *readPoller) sweep(now time.Time) {
	var idle []*polled
	limit := time.Duration(p.idle.Load())
	p.mu.Lock()
	for _, c := range p.conns {
		if now.Sub(time.Unix(0, c.heard.Load())) > limit {
			idle = append(idle, c)
		}
	}
	p.mu.Unlock()
	for _, c := range idle {
		// A paused connection is not read: its pongs wait unread. (Asked
		// outside p.mu: remove takes c.mu, then p.mu.)
		if !c.isPaused() {
			c.end(errIdle)
		}
	}
}

// readable reads what the connection has, using buf, a full buffer at a
// time, until it has no more or it had its share: what is left raises
// another event, after the other connections had theirs.
func (c *polled) readable(buf []byte) {
	for range 4 {
		var n int
		var rerr error
		if err := c.raw.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			return true // never wait: epoll said when
		}); err != nil {
			c.end(err) // closed meanwhile
			return
		}
		switch {
		case errors.Is(rerr, unix.EAGAIN):
			return
		case errors.Is(rerr, unix.EINTR):
			continue
		case rerr != nil:
			c.end(rerr)
			return
		case n == 0:
			c.end(io.EOF)
			return
		}
		c.heard.Store(time.Now().UnixNano())
		if err := c.fr.feed(buf[:n], c.h.frame); err != nil {
			c.end(err)
			return
		}
		if n < len(buf) || c.isPaused() {
			return
		}
	}
}
