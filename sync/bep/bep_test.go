package bep

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersbox/box/drive"
	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/box/store"
	"tiersbox/sync/link"
)

// testBox is a box's sync side in a test: its store, journal, drive folder
// and node, listening on loopback.
type testBox struct {
	dir    string
	id     *identity.Identity
	st     *store.Store
	j      *journal.Journal
	links  *link.Links
	node   *Node
	drive  string
	cancel context.CancelFunc
	done   chan struct{}
	hooks  *recordHooks
	listen string // kept across a restart, so linked boxes find it again
	logs   *logBuffer
}

// logBuffer keeps a box's log lines for tests to search.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.b.String(), s)
}

type recordHooks struct {
	arrived, departed chan string
	sums              sync.Map // path → the SHA-256 sync told with it
}

func (h *recordHooks) Received(files ...drive.Arrival) error {
	for _, f := range files {
		h.sums.Store(f.Path, f.SHA256)
		tell(h.arrived, f.Path)
	}
	return nil
}

func (h *recordHooks) Departed(p string) error { tell(h.departed, p); return nil }

// tell passes p on unless nobody listens (a full channel): tests that
// wait for names read them; others must not block the box.
func tell(c chan string, p string) {
	select {
	case c <- p:
	default:
	}
}

func newTestBox(t *testing.T, name string) *testBox {
	t.Helper()
	dir := t.TempDir()
	id, err := identity.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBox{dir: dir, id: id, drive: filepath.Join(dir, "drive"),
		hooks: &recordHooks{arrived: make(chan string, 100), departed: make(chan string, 100)}, logs: &logBuffer{}}
	b.start(t, name)
	return b
}

func (b *testBox) start(t *testing.T, name string) {
	t.Helper()
	var err error
	if b.st, err = store.Open(b.dir, store.Options{}); err != nil {
		t.Fatal(err)
	}
	if b.j, err = journal.Open(b.st, journal.Origin(b.id.DeviceID), journal.Options{Erasable: []journal.Kind{"chat.post"}}); err != nil {
		t.Fatal(err)
	}
	b.links = link.New(b.st, b.id.DeviceID)
	logger := slog.New(slog.NewTextHandler(testWriter{t, name, b.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b.node, err = New(Options{Identity: b.id, Store: b.st, Journal: b.j, Links: b.links, DriveDir: b.drive, Drive: b.hooks,
		Listen: cmp.Or(b.listen, "127.0.0.1:0"), Name: name, Version: "test", Logger: logger, ScanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.node.Listen(); err != nil {
		t.Fatal(err)
	}
	b.listen = b.node.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel, b.done = cancel, make(chan struct{})
	go func() { defer close(b.done); b.node.Run(ctx) }()
	t.Cleanup(b.stop)
}

func (b *testBox) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	<-b.done
	b.cancel = nil
	b.st.Close()
}

type testWriter struct {
	t    *testing.T
	name string
	logs *logBuffer
}

func (w testWriter) Write(p []byte) (int, error) {
	w.logs.mu.Lock()
	w.logs.b.Write(p)
	w.logs.mu.Unlock()
	w.t.Logf("%s: %s", w.name, bytes.TrimSpace(p))
	return len(p), nil
}

// link makes a and b trust each other; a dials b.
func linkBoxes(t *testing.T, a, b *testBox) {
	t.Helper()
	if _, err := a.links.Add(link.Device{ID: b.id.DeviceID, Name: "b", Addresses: []string{"tcp://" + b.node.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.links.Add(link.Device{ID: a.id.DeviceID, Name: "a"}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func journalDraft(text string) journal.Draft {
	return journal.Draft{Kind: "chat.post", Target: "chat/général", Payload: fmt.Appendf(nil, `{"text":%q}`, text)}
}

func heads(t *testing.T, b *testBox) map[journal.Origin]uint64 {
	h, err := b.j.Heads()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTwoBoxesSyncJournalAndDrive(t *testing.T) {
	a, b := newTestBox(t, "a"), newTestBox(t, "b")
	for i := range 50 {
		if _, err := a.j.Append(journal.Draft{Kind: "chat.post", Target: "chat/général", Payload: fmt.Appendf(nil, `{"text":"message %d"}`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(a.drive, "photos"), 0o755)
	big := make([]byte, 1_600_000) // several blocks, each different
	rand.NewChaCha8([32]byte{'b', 'e', 'p'}).Read(big)
	os.WriteFile(filepath.Join(a.drive, "photos", "atelier.bin"), big, 0o644)
	a.node.DriveChanged()
	linkBoxes(t, a, b)

	origin := a.j.Origin()
	waitFor(t, "b to hold a's 50 entries", 10*time.Second, func() bool { return heads(t, b)[origin] == 50 })
	select {
	case p := <-b.hooks.arrived:
		if p != "photos/atelier.bin" {
			t.Fatalf("arrived %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the drive file did not arrive")
	}
	got, err := os.ReadFile(filepath.Join(b.drive, "photos", "atelier.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("b's copy differs (%d bytes, %v)", len(got), err)
	}
	// The drive is told the file's SHA-256, computed as its blocks were
	// written, so that it need not read the file again.
	if sum, _ := b.hooks.sums.Load("photos/atelier.bin"); sum != fmt.Sprintf("%x", sha256.Sum256(big)) {
		t.Fatalf("the drive was told the sum %q", sum)
	}

	// More entries flow live while connected.
	a.j.Append(journal.Draft{Kind: "chat.post", Target: "chat/général", Payload: []byte(`{"text":"live"}`)})
	waitFor(t, "the live entry", 5*time.Second, func() bool { return heads(t, b)[origin] == 51 })

	// b's own entries reach a too.
	b.j.Append(journal.Draft{Kind: "chat.post", Target: "chat/général", Payload: []byte(`{"text":"from b"}`)})
	waitFor(t, "b's entry at a", 5*time.Second, func() bool { return heads(t, a)[b.j.Origin()] == 1 })

	// A removal at a removes b's copy.
	os.Remove(filepath.Join(a.drive, "photos", "atelier.bin"))
	a.node.DriveChanged()
	select {
	case p := <-b.hooks.departed:
		if p != "photos/atelier.bin" {
			t.Fatalf("departed %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the removal did not arrive")
	}
	if _, err := os.Stat(filepath.Join(b.drive, "photos", "atelier.bin")); !os.IsNotExist(err) {
		t.Fatalf("b still has the file: %v", err)
	}
}

// What a connection carried is kept in the link when the box stops: Run
// returns only once the ends of its connections are recorded, before
// the store closes.
func TestStopKeepsLinkCounts(t *testing.T) {
	for i := range 5 {
		a, b := newTestBox(t, "a"), newTestBox(t, "b")
		if _, err := a.j.Append(journalDraft(fmt.Sprint("bonjour ", i))); err != nil {
			t.Fatal(err)
		}
		linkBoxes(t, a, b)
		waitFor(t, "b to hold a's entry", 10*time.Second, func() bool { return heads(t, b)[a.j.Origin()] == 1 })
		b.stop()
		st, err := store.Open(b.dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d, ok, err := link.New(st, b.id.DeviceID).Get(a.id.DeviceID)
		st.Close()
		if err != nil || !ok {
			t.Fatalf("link to a: %v, %v", ok, err)
		}
		if d.InBytes == 0 || d.OutBytes == 0 || d.LastSeen.IsZero() {
			t.Fatalf("stop %d: the link keeps in %d, out %d bytes, last seen %v", i, d.InBytes, d.OutBytes, d.LastSeen)
		}
	}
}
