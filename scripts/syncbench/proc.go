package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// child is a daemon this program started: a box, or a stock Syncthing
// monitor. Every child is stopped when the program ends, whichever way.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	out  *syncBuffer
	done chan struct{}
}

var (
	childrenMu sync.Mutex
	children   = map[*child]bool{}
)

// spawn starts bin with args; its output goes to the log file, and its
// standard output is also kept in memory.
func spawn(name, log string, env []string, bin string, args ...string) *child {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		die("%s: %v", name, err)
	}
	c := &child{name: name, log: log, out: new(syncBuffer), done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = io.MultiWriter(f, c.out)
	c.cmd.Stderr = f
	// Should this program die without cleaning up, the kernel stops its
	// children (scripts/bench-sync also stops the whole process group).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		f.Close()
		die("start %s: %v", name, err)
	}
	childrenMu.Lock()
	children[c] = true
	childrenMu.Unlock()
	go func() {
		c.cmd.Wait()
		f.Close()
		childrenMu.Lock()
		delete(children, c)
		childrenMu.Unlock()
		close(c.done)
	}()
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits; after the grace period, SIGKILL.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		fmt.Fprintf(os.Stderr, "syncbench: %s did not stop within %s after SIGTERM: killed\n", c.name, grace)
		c.cmd.Process.Kill()
		<-c.done
	}
}

// tail is the end of the child's log, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func stopAll() {
	childrenMu.Lock()
	cs := make([]*child, 0, len(children))
	for c := range children {
		cs = append(cs, c)
	}
	childrenMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.stop(20 * time.Second) })
	}
	wg.Wait()
}

// die reports a failure, stops every child and exits with status 1.
func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "syncbench: "+format+"\n", args...)
	stopAll()
	os.Exit(1)
}

func stopOnSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "syncbench: %v: stopping\n", s)
		stopAll()
		os.Exit(2)
	}()
}

// freePort finds a loopback TCP port nobody listens on.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor calls cond every interval until it holds or the timeout passes.
func waitFor(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
