package bep

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// peer is one connected device. It is the lib/protocol Model of its
// connection: the callbacks run one after another on the connection's
// reader goroutine and must never call conn.Request (it would wait for a
// response that goroutine delivers), so they only record and signal.
type peer struct {
	node     *Node
	id       protocol.DeviceID
	hello    protocol.Hello
	mc       *meteredConn
	outgoing bool
	conn     protocol.Connection
	ctx      context.Context
	cancel   context.CancelFunc
	since    time.Time

	mu      sync.Mutex
	remote  map[string]*remoteIndex
	shares  map[string]bool // folders the peer's ClusterConfig lists
	senders map[string]bool
}

// dialer is the device that dialled this connection.
func (p *peer) dialer() protocol.DeviceID {
	if p.outgoing {
		return p.node.me
	}
	return p.id
}

func (p *peer) local(folder string) *localIndex { return p.node.index(folder) }

// ClusterConfig learns which folders the peer shares and where to resume
// in each direction, and starts sending this box's index.
func (p *peer) ClusterConfig(_ protocol.Connection, cc *protocol.ClusterConfig) error {
	if cc.Secondary {
		return nil
	}
	for _, f := range cc.Folders {
		if f.ID != FolderJournal && f.ID != FolderDrive {
			continue
		}
		var mine, theirs *protocol.Device
		for i := range f.Devices {
			switch f.Devices[i].ID {
			case p.node.me:
				mine = &f.Devices[i]
			case p.id:
				theirs = &f.Devices[i]
			}
		}
		if mine == nil || theirs == nil {
			return fmt.Errorf("folder %s: the cluster config does not list both devices", f.ID)
		}
		if f.Paused {
			continue
		}
		p.mu.Lock()
		ri := p.remote[f.ID]
		if theirs.IndexID != ri.IndexID {
			// A new index from the peer (first contact, or it lost its
			// database): forget what it said before; it sends all again.
			p.node.logger.Info("sync: peer has a new index", "device", p.id.Short(), "folder", f.ID)
			ri.IndexID, ri.MaxSeq = theirs.IndexID, 0
			p.local(f.ID).takeRemote(ri, nil, true)
			if err := saveRemote(p.node.opts.Store, p.id, f.ID, ri, nil, true); err != nil {
				p.mu.Unlock()
				return err
			}
		}
		p.shares[f.ID] = true
		start := p.senders == nil || !p.senders[f.ID]
		if p.senders == nil {
			p.senders = map[string]bool{}
		}
		p.senders[f.ID] = true
		p.mu.Unlock()
		if start {
			li := p.local(f.ID)
			id, seq := li.head()
			after := int64(0)
			if mine.IndexID == id && mine.MaxSequence <= seq {
				after = mine.MaxSequence
			}
			go p.sendIndex(f.ID, li, after)
		}
	}
	// What the peer announced before (kept from the last connection) is
	// worth a look again: it may have what this box still lacks.
	for _, f := range []string{FolderJournal, FolderDrive} {
		p.mu.Lock()
		var names []string
		if p.shares[f] {
			for name := range p.remote[f].files {
				names = append(names, name)
			}
		}
		p.mu.Unlock()
		p.node.consider(f, names...)
	}
	return nil
}

// indexBatch bounds the files of one Index message.
const indexBatch = 1000

// sendIndex sends the peer what changed in a folder after sequence after,
// then every later change, until the connection closes.
func (p *peer) sendIndex(folder string, li *localIndex, after int64) {
	initial := after == 0
	// after is how far the index was listed; sent is the last sequence
	// number the peer was told of. They differ when a file listed was
	// committed again before it was read (whole leaves it out, to be
	// sent with its later number): the peer expects an update's first
	// sequence to follow the previous update's last, as Syncthing
	// checks.
	sent := after
	for {
		names, changed := li.since(after)
		for len(names) > 0 || initial {
			batch := names[:min(len(names), indexBatch)]
			names = names[len(batch):]
			// Read a batch at a time: the index's whole descriptions
			// are never all in memory at once.
			files, err := li.whole(batch)
			if err != nil {
				// The database cannot be read: the peer learns it, and
				// the next connection starts again from what it has.
				p.node.logger.Error("sync: cannot announce the index", "device", p.id.Short(), "folder", folder, "error", err)
				p.conn.Close(err)
				return
			}
			if len(batch) > 0 {
				after = batch[len(batch)-1].seq
			}
			if len(files) == 0 && !initial {
				continue
			}
			last := sent
			if len(files) > 0 {
				last = files[len(files)-1].Sequence
			}
			if initial {
				err = p.conn.Index(p.ctx, &protocol.Index{Folder: folder, Files: files, LastSequence: last})
				initial = false
			} else {
				err = p.conn.IndexUpdate(p.ctx, &protocol.IndexUpdate{Folder: folder, Files: files, PrevSequence: sent, LastSequence: last})
			}
			if err != nil {
				return
			}
			sent = last
		}
		select {
		case <-p.ctx.Done():
			return
		case <-changed:
		}
	}
}

// Index replaces what the peer announced in a folder.
func (p *peer) Index(_ protocol.Connection, idx *protocol.Index) error {
	return p.takeIndex(idx.Folder, idx.Files, true)
}

// IndexUpdate adds to what the peer announced.
func (p *peer) IndexUpdate(_ protocol.Connection, u *protocol.IndexUpdate) error {
	return p.takeIndex(u.Folder, u.Files, false)
}

func (p *peer) takeIndex(folder string, files []protocol.FileInfo, replace bool) error {
	p.mu.Lock()
	ri, ok := p.remote[folder]
	shared := p.shares[folder]
	p.mu.Unlock()
	if !ok || !shared {
		return fmt.Errorf("index for folder %q, which is not shared", folder)
	}
	good := files[:0]
	maxSeq := int64(0)
	for _, f := range files {
		maxSeq = max(maxSeq, f.Sequence)
		if err := checkFile(folder, f); err != nil {
			p.node.logger.Warn("sync: refused a file a peer announced", "device", p.id.Short(), "folder", folder, "error", err)
			continue
		}
		good = append(good, f)
	}
	p.mu.Lock()
	// The database first: what the index holds in memory is always there
	// whole (withBlocks).
	seqBefore := ri.MaxSeq
	if replace {
		ri.MaxSeq = 0
	}
	ri.MaxSeq = max(ri.MaxSeq, maxSeq)
	if err := saveRemote(p.node.opts.Store, p.id, folder, ri, good, replace); err != nil {
		ri.MaxSeq = seqBefore
		p.mu.Unlock()
		return err
	}
	p.local(folder).takeRemote(ri, good, replace)
	p.mu.Unlock()
	names := make([]string, len(good))
	for i, f := range good {
		names[i] = f.Name
	}
	p.node.consider(folder, names...)
	return nil
}

// Request serves a block of a file this box announces.
func (p *peer) Request(_ protocol.Connection, req *protocol.Request) (protocol.RequestResponse, error) {
	if req.FromTemporary || req.Size < 0 || req.Size > protocol.MaxBlockSize || req.Offset < 0 {
		return nil, protocol.ErrNoSuchFile
	}
	p.mu.Lock()
	shared := p.shares[req.Folder]
	p.mu.Unlock()
	if !shared {
		return nil, protocol.ErrGeneric
	}
	f, ok := p.local(req.Folder).get(req.Name)
	if !ok || f.IsDeleted() || f.Type != protocol.FileInfoTypeFile || req.Offset+int64(req.Size) > f.Size {
		return nil, protocol.ErrNoSuchFile
	}
	var res protocol.RequestResponse
	if req.Folder == FolderJournal {
		data, err := p.node.jf.readAt(req.Name, req.Offset, req.Size)
		if err != nil {
			return nil, protocol.ErrNoSuchFile
		}
		res = response(data)
	} else {
		data, err := readDriveBlock(p.node.opts.DriveDir, req.Name, req.Offset, req.Size)
		if err != nil {
			return nil, protocol.ErrNoSuchFile
		}
		res = pooledResponse(data)
	}
	if len(req.Hash) > 0 {
		if h := sha256.Sum256(res.Data()); string(h[:]) != string(req.Hash) {
			// The file changed since it was announced: the next scan
			// announces what it is now.
			res.Close()
			signal(p.node.scanNow)
			return nil, protocol.ErrNoSuchFile
		}
	}
	return res, nil
}

// readDriveBlock reads a block into a buffer of lib/protocol's pool,
// which the response gives back once sent: blocks are up to 16 MiB, and
// a fresh buffer for each would keep a Pi's memory busy.
func readDriveBlock(root, name string, off int64, size int) ([]byte, error) {
	fd, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	buf := protocol.BufferPool.Get(size)
	if _, err := fd.ReadAt(buf, off); err != nil {
		recycle(buf)
		return nil, err
	}
	return buf, nil
}

// recycle gives a block buffer back to lib/protocol's pool. The pool
// takes only buffers of exactly a block size (it panics on others), such
// as the ones it handed out; a received block is an allocation of its
// own, of any size.
func recycle(b []byte) {
	if slices.Contains(protocol.BlockSizes, cap(b)) {
		protocol.BufferPool.Put(b)
	}
}

// response is a RequestResponse over a byte slice of its own.
type response []byte

func (r response) Data() []byte { return r }
func (r response) Close()       {}
func (r response) Wait()        {}

// pooledResponse is a response whose buffer goes back to the pool once
// sent.
type pooledResponse []byte

func (r pooledResponse) Data() []byte { return r }
func (r pooledResponse) Close()       { recycle(r) }
func (r pooledResponse) Wait()        {}

// DownloadProgress is not used: the box publishes no temporary files.
func (p *peer) DownloadProgress(protocol.Connection, *protocol.DownloadProgress) error { return nil }

// Closed is called once when the connection ends.
func (p *peer) Closed(_ protocol.Connection, err error) {
	defer p.node.conns.Done()
	p.cancel()
	p.node.removePeer(p)
	p.untrack()
	p.node.logger.Info("sync: disconnected", "device", p.id.Short(), "reason", fmt.Sprint(err), "in", p.mc.in.Load(), "out", p.mc.out.Load())
	signal(p.node.wake)
}

// untrack stops the tallies of what the peer and this box need of each
// other following this box's commits.
func (p *peer) untrack() {
	for f, ri := range p.remote {
		p.node.index(f).untrack(ri)
	}
}

// request asks the peer for one block and checks what comes back.
func (p *peer) request(ctx context.Context, folder, name string, b protocol.BlockInfo, blockNo int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	data, err := p.conn.Request(ctx, &protocol.Request{Folder: folder, Name: name, Offset: b.Offset, Size: b.Size, Hash: b.Hash, BlockNo: blockNo})
	if err != nil {
		return nil, err
	}
	if len(data) != b.Size {
		return nil, fmt.Errorf("%w: %s block %d: %d bytes, want %d", errBadBlock, name, blockNo, len(data), b.Size)
	}
	if h := sha256.Sum256(data); string(h[:]) != string(b.Hash) {
		return nil, fmt.Errorf("%w: %s block %d does not match its hash", errBadBlock, name, blockNo)
	}
	// A received block is protobuf's allocation: it is not given to the
	// pool, which nothing on this side would take it from (a pool that
	// is only fed grows until the next collections).
	return data, nil
}

// errBadBlock is a block whose data is not what its hash says.
var errBadBlock = errors.New("bep: bad block")
