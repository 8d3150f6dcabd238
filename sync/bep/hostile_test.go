package bep

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"

	"tiersbox/box/identity"
	"tiersbox/box/journal"
	"tiersbox/sync/link"
)

// fakePeer is a linked device that says what a test makes it say,
// speaking BEP through lib/protocol as any peer would.
type fakePeer struct {
	id    *identity.Identity
	conn  protocol.Connection
	data  map[string][]byte // what it serves, by name
	mu    sync.Mutex
	ready chan struct{}
}

func (f *fakePeer) Index(protocol.Connection, *protocol.Index) error             { return nil }
func (f *fakePeer) IndexUpdate(protocol.Connection, *protocol.IndexUpdate) error { return nil }
func (f *fakePeer) DownloadProgress(protocol.Connection, *protocol.DownloadProgress) error {
	return nil
}
func (f *fakePeer) Closed(protocol.Connection, error) {}
func (f *fakePeer) ClusterConfig(protocol.Connection, *protocol.ClusterConfig) error {
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
	return nil
}
func (f *fakePeer) Request(_ protocol.Connection, r *protocol.Request) (protocol.RequestResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.data[r.Name]
	if !ok || r.Offset+int64(r.Size) > int64(len(d)) {
		return nil, protocol.ErrNoSuchFile
	}
	return response(d[r.Offset : r.Offset+int64(r.Size)]), nil
}

func dialFake(t *testing.T, box *testBox, id *identity.Identity) (*fakePeer, error) {
	t.Helper()
	c, err := net.Dial("tcp", box.node.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(c, tlsConfig(id.Cert, func(protocol.DeviceID) bool { return true }))
	_, _, err = handshake(context.Background(), tc, protocol.Hello{DeviceName: "fake", ClientName: "fake", ClientVersion: "0"})
	if err != nil {
		tc.Close()
		return nil, err
	}
	f := &fakePeer{id: id, data: map[string][]byte{}, ready: make(chan struct{})}
	f.conn = protocol.NewConnection(box.id.DeviceID, tc, tc, tc, f, newConnInfo(tc, true), protocol.CompressionMetadata, protocol.NewKeyGenerator())
	f.conn.Start()
	var folders []protocol.Folder
	for _, fid := range []string{FolderJournal, FolderDrive} {
		folders = append(folders, protocol.Folder{ID: fid, Devices: []protocol.Device{{ID: id.DeviceID, IndexID: 1}, {ID: box.id.DeviceID}}})
	}
	f.conn.ClusterConfig(&protocol.ClusterConfig{Folders: folders}, nil)
	t.Cleanup(func() { f.conn.Close(errors.New("test over")) })
	select {
	case <-f.ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no cluster config from the box")
	}
	return f, nil
}

// file describes data as a peer announces it.
func (f *fakePeer) file(name string, data []byte, counter uint64) protocol.FileInfo {
	fi := protocol.FileInfo{Name: name, Type: protocol.FileInfoTypeFile, Size: int64(len(data)), Permissions: 0o644,
		ModifiedS: time.Now().Unix(), ModifiedBy: f.id.DeviceID.Short(),
		Version: protocol.Vector{Counters: []protocol.Counter{{ID: f.id.DeviceID.Short(), Value: counter}}}}
	fi.RawBlockSize = int32(protocol.BlockSize(fi.Size))
	fi.Blocks = blocksOf(data, int(fi.RawBlockSize))
	fi.BlocksHash = protocol.BlocksHash(fi.Blocks)
	f.mu.Lock()
	f.data[name] = data
	f.mu.Unlock()
	return fi
}

// TestHostilePeer: a linked peer announces files that would escape the
// folder, absurd sizes and block lists, a block whose data does not match
// its hash, and a journal segment that does not parse. Each is refused
// with a log line, nothing lands outside the folders, what the box holds
// is kept, and the connection carries on (a good file still arrives).
func TestHostilePeer(t *testing.T) {
	box := newTestBox(t, "box")
	box.j.Append(journalDraft("kept"))
	evil, err := identity.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	box.links.Add(link.Device{ID: evil.DeviceID, Name: "evil"})
	f, err := dialFake(t, box, evil)
	if err != nil {
		t.Fatal(err)
	}

	// Names that leave the folder break BEP's own rules: lib/protocol
	// closes the connection at once, cleanly, before the box sees them.
	for _, name := range []string{"../escape.txt", "/tmp/absolute.txt", "a/../../b.txt"} {
		bad := f.file(name, []byte("out"), 1)
		f.conn.Index(context.Background(), &protocol.Index{Folder: FolderDrive, Files: []protocol.FileInfo{bad}})
		waitFor(t, "the connection to close on "+name, 10*time.Second, func() bool {
			return box.logs.contains("protocol error on index") && !connected(box)
		})
		box.logs.reset()
		if f, err = dialFake(t, box, evil); err != nil {
			t.Fatal(err)
		}
	}

	// What BEP allows but the box cannot take is refused one by one, and
	// the connection carries on.
	long := f.file(strings.Repeat("long/", 300)+"x", []byte("out"), 1)
	huge := f.file("huge.bin", []byte("x"), 1)
	huge.Size = 1 << 50
	blocks := f.file("blocks.bin", []byte("abc"), 1)
	blocks.Blocks = append(blocks.Blocks, blocks.Blocks[0])
	badHash := f.file("badhash.txt", []byte("the real content"), 1)
	f.data["badhash.txt"] = []byte("something else!!")
	good := f.file("good.txt", []byte("bonjour"), 1)
	err = f.conn.Index(context.Background(), &protocol.Index{Folder: FolderDrive, Files: []protocol.FileInfo{long, huge, blocks, badHash, good}})
	if err != nil {
		t.Fatal(err)
	}

	// A journal segment of a made-up origin whose blocks match their
	// hashes but whose content is not journal frames, and a file that is
	// no segment at all.
	var o journal.Origin
	copy(o[:], evil.DeviceID[:])
	garbage := f.file(segmentName(o, 1), []byte("this is not a journal segment at all"), 5)
	garbage.Version = protocol.Vector{Counters: []protocol.Counter{{ID: shortOf(o), Value: 5}}}
	stray := f.file("notes.txt", []byte("x"), 1)
	err = f.conn.Index(context.Background(), &protocol.Index{Folder: FolderJournal, Files: []protocol.FileInfo{garbage, stray}})
	if err != nil {
		t.Fatal(err)
	}

	expect(t, box.hooks.arrived, "good.txt")
	waitFor(t, "the log lines", 10*time.Second, func() bool {
		return box.logs.contains("quarantined a journal segment") && box.logs.contains("does not match its hash")
	})
	for _, want := range []string{"long/long/", "huge.bin", "blocks.bin", "notes.txt"} {
		if !box.logs.contains("refused a file a peer announced") || !box.logs.contains(want) {
			t.Errorf("no refusal logged for %q", want)
		}
	}
	for _, p := range []string{filepath.Join(box.dir, "escape.txt"), "/tmp/absolute.txt", filepath.Join(box.dir, "b.txt"), filepath.Join(box.drive, "badhash.txt"), filepath.Join(box.drive, "huge.bin")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if h := heads(t, box); h[o] != 0 || h[box.j.Origin()] != 1 {
		t.Errorf("journal heads after the hostile peer: %v", h)
	}
	if !connected(box) {
		t.Fatal("the connection did not survive the refusals")
	}
	sum := sha256.Sum256([]byte("bonjour"))
	if got, _ := os.ReadFile(filepath.Join(box.drive, "good.txt")); sha256.Sum256(got) != sum {
		t.Fatal("good.txt differs")
	}
}

// TestUnlinkedDeviceRefused: a device that staff did not link gets no
// further than the TLS handshake.
func TestUnlinkedDeviceRefused(t *testing.T) {
	box := newTestBox(t, "box")
	stranger, err := identity.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialFake(t, box, stranger); err == nil {
		t.Fatal("an unlinked device got through the handshake")
	}
	waitFor(t, "the refusal in the log", 5*time.Second, func() bool { return box.logs.contains("device not linked") })
}

func connected(box *testBox) bool {
	st, _ := box.node.Status()
	return len(st) == 1 && st[0].Connected
}
