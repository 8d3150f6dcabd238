package bep

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
	"golang.org/x/sync/errgroup"

	"tiersbox/box/drive"
)

// want is a file version this box does not have yet, and the peers that
// announced exactly that version.
type want struct {
	f        protocol.FileInfo
	from     []*peer
	conflict bool // this box's own version must first be kept aside
}

// Pulling is bounded so that a Pi keeps serving visitors meanwhile.
const (
	parallelFiles  = 32
	parallelBlocks = 8
	retryAfter     = 10 * time.Second
	wantsAtOnce    = 1000 // files needs hands out at a time
	// inflightBytes bounds the blocks requested and not yet written, so
	// that pulling many files at once stays within a Pi's memory. The
	// peer holds as much in its answers. 2 MiB is many times what a LAN
	// or WiFi link carries in a round trip; on loopback 8 MiB was no
	// faster.
	inflightBytes = 2 << 20
)

// pullLoop fetches what peers have and this box lacks, whenever an index
// changes, and again a while after a failure.
func (n *Node) pullLoop(ctx context.Context, folder string) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	refused := map[string]bool{} // versions that will never be taken in
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.pullNow[folder]:
		case <-retry.C:
		}
		if n.pullOnce(ctx, folder, refused) {
			retry.Reset(retryAfter)
		}
	}
}

// pullOnce fetches everything wanted now; it reports whether something
// failed and should be tried again later.
func (n *Node) pullOnce(ctx context.Context, folder string, refused map[string]bool) (again bool) {
	// What failed is considered again at the next try, not in this one.
	var retry []string
	defer func() { n.consider(folder, retry...) }()
	for ctx.Err() == nil {
		wants := n.needs(folder, refused)
		if len(wants) == 0 {
			return len(retry) > 0
		}
		var mu sync.Mutex
		busy := map[string]bool{} // names being fetched, under mu
		var later []string        // names announced again while being fetched
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(parallelFiles)
		if folder == FolderJournal {
			g.SetLimit(1) // segments of an origin go in order
		}
		// Names announced while this round runs join it as soon as a
		// place is free, rather than after its slowest file: an index
		// comes in batches, and a large file in the first one would
		// otherwise leave the other places idle until it is done.
		for len(wants) > 0 {
			for _, w := range wants {
				mu.Lock()
				if busy[w.f.Name] {
					later = append(later, w.f.Name)
					mu.Unlock()
					continue
				}
				busy[w.f.Name] = true
				mu.Unlock()
				g.Go(func() error {
					defer func() {
						mu.Lock()
						delete(busy, w.f.Name)
						mu.Unlock()
					}()
					return n.pullReport(gctx, folder, w, &mu, refused, &retry)
				})
			}
			mu.Lock()
			seen := make(map[string]bool, len(refused)) // the running fetches add to refused
			for k, v := range refused {
				seen[k] = v
			}
			mu.Unlock()
			wants = n.needs(folder, seen)
		}
		g.Wait()
		n.consider(folder, later...)
	}
	return true
}

// pullReport fetches one file for pullOnce and sorts out a failure: a
// segment that does not parse is refused for good, anything else is
// tried again later. mu guards refused and retry.
func (n *Node) pullReport(ctx context.Context, folder string, w want, mu *sync.Mutex, refused map[string]bool, retry *[]string) error {
	err := n.pullOne(ctx, folder, w)
	if err == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	switch {
	case errors.Is(err, errSegment):
		n.logger.Warn("sync: quarantined a journal segment that does not parse", "file", w.f.Name, "error", err)
		refused[versionKey(w.f)] = true
		return nil
	case errors.Is(err, errGap) || errors.Is(err, errLocalChange):
	case errors.Is(err, errDiskFull):
		n.logger.Warn("sync: not fetching a file: the disk is nearly full", "file", w.f.Name, "error", err)
	default:
		n.logger.Info("sync: could not fetch a file yet", "folder", folder, "file", w.f.Name, "error", err)
	}
	*retry = append(*retry, w.f.Name)
	return nil
}

// consider marks names of a folder to be looked at by the next pull:
// names a peer announced, and names whose fetch failed. Looking only at
// those, rather than at every file of every peer, keeps a folder of many
// thousand files cheap to keep in step.
func (n *Node) consider(folder string, names ...string) {
	if len(names) == 0 {
		return
	}
	n.addCandidates(folder, names)
	signal(n.pullNow[folder])
}

// addCandidates adds names to those the next pull of folder looks at.
func (n *Node) addCandidates(folder string, names []string) {
	n.candMu.Lock()
	defer n.candMu.Unlock()
	set := n.cand[folder]
	if set == nil {
		set = map[string]bool{}
		n.cand[folder] = set
	}
	for _, name := range names {
		set[name] = true
	}
}

// A box keeps this much of its disk free, whatever its peers send: the
// journal, the database and visitors' uploads need room too.
const (
	minFreeBytes    = 256 << 20
	minFreeFraction = 0.05
)

// errDiskFull says a file was not fetched for lack of room.
var errDiskFull = errors.New("bep: the disk is nearly full")

// roomFor checks that a file of size bytes fits on the drive's disk with
// room to spare.
func roomFor(root string, size int64) error {
	free, total, ok := diskFree(root)
	if !ok {
		return nil
	}
	keep := max(int64(minFreeBytes), int64(float64(total)*minFreeFraction))
	if free-size < keep {
		return fmt.Errorf("%w: %d bytes free, a file of %d would leave less than %d", errDiskFull, free, size, keep)
	}
	return nil
}

func versionKey(f protocol.FileInfo) string {
	return f.Name + "\x00" + string(protocol.VectorHash(f.Version)) + string(f.BlocksHash)
}

// needs lists what connected peers announce, among the names to
// consider, that this box lacks: at most wantsAtOnce of them, in the order
// they should be fetched; the rest wait as names for the next call.
func (n *Node) needs(folder string, refused map[string]bool) []want {
	n.candMu.Lock()
	names := n.cand[folder]
	delete(n.cand, folder)
	n.candMu.Unlock()
	if len(names) == 0 {
		return nil
	}
	n.mu.Lock()
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.mu.Unlock()
	li := n.index(folder)
	// The order is settled on names alone, and only the files handed out
	// keep a want: a want holds a copy of its file's description, and a
	// first sync of 10,000 files kept 10,000 of them at every call.
	var picks []pick
	for name := range names {
		if w, ok := n.wantFrom(folder, name, peers, li, refused); ok {
			picks = append(picks, pick{name: name, rank: wantRank(w.f)})
		}
	}
	// Folders before what they hold; deletions last, deepest first.
	slices.SortFunc(picks, func(a, b pick) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if a.rank == 2 {
			return strings.Compare(b.name, a.name)
		}
		return strings.Compare(a.name, b.name)
	})
	picks = spreadFolders(picks)
	if len(picks) > wantsAtOnce {
		rest := make([]string, 0, len(picks)-wantsAtOnce)
		for _, pk := range picks[wantsAtOnce:] {
			rest = append(rest, pk.name)
		}
		n.addCandidates(folder, rest)
		picks = picks[:wantsAtOnce]
	}
	out := make([]want, 0, len(picks))
	for _, pk := range picks {
		if w, ok := n.wantFrom(folder, pk.name, peers, li, refused); ok {
			out = append(out, w)
		}
	}
	// Read with no lock held: a transaction open while waiting for one
	// could hold up a commit that must grow the database's map.
	out, err := withBlocks(n.opts.Store, folder, out)
	if err != nil {
		n.logger.Error("sync: read files peers announced", "folder", folder, "error", err)
		names := make([]string, len(picks))
		for i, pk := range picks {
			names[i] = pk.name
		}
		n.addCandidates(folder, names) // for the next pull
		return nil
	}
	return out
}

// pick is a name needs hands out, with its rank in the order.
type pick struct {
	name string
	rank int
}

// wantFrom says whether this box lacks the version of name that peers
// announce, and if so which version (the newest, without its blocks) and
// from whom.
func (n *Node) wantFrom(folder, name string, peers []*peer, li *localIndex, refused map[string]bool) (want, bool) {
	var best want
	found := false
	lf, have := li.get(name)
	for _, p := range peers {
		p.mu.Lock()
		if !p.shares[folder] {
			p.mu.Unlock()
			continue
		}
		e, ok := p.remote[folder].files[name]
		p.mu.Unlock()
		if !ok || e.invalid {
			continue
		}
		rf := e.info(name)
		if have && lf.Version.Equal(rf.Version) {
			continue
		}
		var ok2, conflict bool
		if folder == FolderJournal {
			ok2 = n.wantSegment(lf, rf)
		} else {
			ok2, conflict = wantDriveFile(lf, have, rf)
		}
		if !ok2 || len(refused) > 0 && refused[versionKey(rf)] {
			continue
		}
		switch {
		case !found:
			best, found = want{f: rf, from: []*peer{p}, conflict: conflict}, true
		case rf.Version.Equal(best.f.Version):
			best.from = append(best.from, p)
		case rf.Version.GreaterEqual(best.f.Version):
			best = want{f: rf, from: []*peer{p}, conflict: conflict}
		}
	}
	return best, found
}

// wantRank is the order in which needs hands out files: folders (0)
// before the files they hold (1), deletions (2) last.
func wantRank(f protocol.FileInfo) int {
	switch {
	case f.IsDeleted():
		return 2
	case f.IsDirectory():
		return 0
	}
	return 1
}

// spreadFolders reorders the files (rank 1) of a sorted list so that
// consecutive ones are in different folders, taking the folders in turn.
// Files pulled in parallel then land in different folders: creating many
// files at once in one folder makes them queue on that folder's lock in
// the kernel, which spins on the processor meanwhile (a box receiving
// 10,000 small files in 100 folders spent more time opening files than
// receiving them).
func spreadFolders(ws []pick) []pick {
	start := slices.IndexFunc(ws, func(w pick) bool { return w.rank == 1 })
	if start < 0 {
		return ws
	}
	end := start
	for end < len(ws) && ws[end].rank == 1 {
		end++
	}
	var dirs []string
	byDir := map[string][]pick{}
	for _, w := range ws[start:end] {
		d := path.Dir(w.name)
		if _, ok := byDir[d]; !ok {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], w)
	}
	files := ws[start:start:end]
	for len(files) < end-start {
		for _, d := range dirs {
			if q := byDir[d]; len(q) > 0 {
				files = append(files, q[0])
				byDir[d] = q[1:]
			}
		}
	}
	return ws
}

// wantSegment: a segment is wanted when it holds more of its origin's
// entries than this box has in it. This box's own journal is only ever
// written here.
func (n *Node) wantSegment(lf, rf protocol.FileInfo) bool {
	o, _, ok := parseSegmentName(rf.Name)
	if !ok || rf.IsDeleted() || o == n.opts.Journal.Origin() {
		return false
	}
	return rf.Version.Counter(shortOf(o)) > lf.Version.Counter(shortOf(o))
}

// wantDriveFile follows Syncthing: a newer version is wanted; of two
// concurrent versions the one that wins the conflict is kept everywhere,
// and the loser is kept aside as a conflict copy.
func wantDriveFile(lf protocol.FileInfo, have bool, rf protocol.FileInfo) (ok, conflict bool) {
	if !have {
		return !rf.IsDeleted(), false
	}
	switch rf.Version.Compare(lf.Version) {
	case protocol.Greater:
		return true, false
	case protocol.ConcurrentGreater, protocol.ConcurrentLesser:
		if rf.WinsConflict(lf) {
			return true, !lf.IsDeleted() && !lf.IsDirectory() && !rf.IsDeleted() && !rf.IsDirectory()
		}
	}
	return false, false
}

func (n *Node) pullOne(ctx context.Context, folder string, w want) error {
	if folder == FolderJournal {
		return n.pullSegment(ctx, w)
	}
	switch {
	case w.f.IsDeleted():
		if err := n.df.remove(w.f); err != nil {
			return err
		}
		n.logger.Info("sync: removed a file a peer deleted", "file", w.f.Name)
		if n.df.hooks != nil && w.f.Type == protocol.FileInfoTypeFile {
			return n.df.hooks.Departed(w.f.Name)
		}
		return nil
	case w.f.IsDirectory():
		return n.df.mkdir(w.f)
	}
	return n.pullDriveFile(ctx, w)
}

// fetchBlock gets block i of f from one of the peers that have it,
// trying the next on failure.
func fetchBlock(ctx context.Context, folder string, f protocol.FileInfo, i int, from []*peer) ([]byte, error) {
	var err error
	for k := range from {
		p := from[(i+k)%len(from)]
		var data []byte
		if data, err = p.request(ctx, folder, f.Name, f.Blocks[i], i); err == nil {
			return data, nil
		}
		if errors.Is(err, errBadBlock) {
			p.node.logger.Warn("sync: a peer sent a block that does not match its hash", "device", p.id.Short(), "file", f.Name, "block", i)
		}
	}
	return nil, err
}

// pullSegment fetches the blocks of a journal segment it lacks (reusing
// those it holds), then reads the segment into the journal.
func (n *Node) pullSegment(ctx context.Context, w want) error {
	o, first, _ := parseSegmentName(w.f.Name)
	var have []byte
	if lf, ok := n.jIdx.get(w.f.Name); ok && !lf.IsDeleted() {
		if seg, ok := n.jf.segment(o, first); ok {
			have, _ = n.jf.read(o, seg)
		}
	}
	data := make([]byte, w.f.Size)
	// The blocks it lacks are asked for together: one by one, each would
	// wait behind the drive's blocks already asked of the same peer, and
	// a segment carries what visitors wrote.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelBlocks)
	for i, b := range w.f.Blocks {
		end := b.Offset + int64(b.Size)
		if end <= int64(len(have)) {
			if h := sha256.Sum256(have[b.Offset:end]); string(h[:]) == string(b.Hash) {
				copy(data[b.Offset:], have[b.Offset:end])
				continue
			}
		}
		g.Go(func() error {
			block, err := fetchBlock(gctx, FolderJournal, w.f, i, w.from)
			if err != nil {
				return err
			}
			copy(data[b.Offset:], block)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err := n.jf.ingest(w.f.Name, data)
	return err
}

// pullDriveFile fetches a drive file into a temporary file beside it,
// reusing the blocks of the version this box has, checks every block,
// and renames it into place.
func (n *Node) pullDriveFile(ctx context.Context, w want) error {
	f := w.f
	root := n.opts.DriveDir
	if err := roomFor(root, f.Size); err != nil {
		return err
	}
	dst := filepath.Join(root, filepath.FromSlash(f.Name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("bep: make folder for %s: %w", f.Name, err)
	}
	tmp := filepath.Join(root, filepath.FromSlash(tempName(f.Name)))
	// Read and write: fileSum reads back blocks written out of order.
	fd, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("bep: temporary file for %s: %w", f.Name, err)
	}
	done := false
	defer func() {
		if !done {
			fd.Close()
			os.Remove(tmp)
		}
	}()
	// Blocks this box already has, in its own version of the file.
	reuse := map[string]int64{}
	var old *os.File
	lf, ok, err := n.dIdx.full(f.Name)
	if err != nil {
		// It only costs the reuse: every block is fetched.
		n.logger.Warn("sync: cannot read this box's description of a file", "file", f.Name, "error", err)
	}
	if ok && !lf.IsDeleted() && lf.Type == protocol.FileInfoTypeFile {
		if old, err = os.Open(dst); err == nil {
			defer old.Close()
			for _, b := range lf.Blocks {
				reuse[string(b.Hash)] = b.Offset
			}
		}
	}
	sum := newFileSum(f, fd)
	// write puts block i in the temporary file and tells sum.
	write := func(i int, data []byte) error {
		if _, err := fd.WriteAt(data, f.Blocks[i].Offset); err != nil {
			return err
		}
		if sum != nil {
			sum.written(i, data)
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelBlocks)
	for i, b := range f.Blocks {
		if b.Size == 0 {
			continue
		}
		g.Go(func() error {
			if off, ok := reuse[string(b.Hash)]; ok && old != nil {
				buf := protocol.BufferPool.Get(b.Size)
				defer recycle(buf)
				if _, err := old.ReadAt(buf, off); err == nil {
					if h := sha256.Sum256(buf); string(h[:]) == string(b.Hash) {
						return write(i, buf)
					}
				}
			}
			if err := n.inflight.Acquire(gctx, int64(b.Size)); err != nil {
				return err
			}
			defer n.inflight.Release(int64(b.Size))
			data, err := fetchBlock(gctx, FolderDrive, f, i, w.from)
			if err != nil {
				return err
			}
			return write(i, data)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := fd.Truncate(f.Size); err != nil {
		return err
	}
	// Not synced here: the files placed together are synced together
	// (placeBatch).
	if err := fd.Close(); err != nil {
		return err
	}
	done = true
	if err := os.Chtimes(tmp, f.ModTime(), f.ModTime()); err != nil {
		os.Remove(tmp)
		return err
	}
	copyName := ""
	if w.conflict {
		if copyName, err = n.df.moveForConflict(f.Name, time.Now()); err != nil {
			os.Remove(tmp)
			return err
		}
		signal(n.scanNow)
	}
	// What the drive is told with the file: its sum, and the file it is
	// the sum of, as it is before the rename (which keeps it).
	var told drive.Arrival
	if sum != nil {
		if told.SHA256 = sum.sum(); told.SHA256 == "" {
			n.logger.Debug("sync: a received file's blocks could not be read back; the drive will read it", "file", f.Name)
		} else if told.Placed, err = os.Lstat(tmp); err != nil {
			told.SHA256 = ""
		}
	}
	if err := n.df.place(tmp, f, told, w.conflict); err != nil {
		os.Remove(tmp)
		return err
	}
	n.logger.Debug("sync: received a file", "file", f.Name, "size", f.Size)
	if copyName != "" && n.df.hooks != nil {
		// This box's version, kept aside as Syncthing does, stays listed.
		n.logger.Info("sync: kept this box's version of a file changed on both sides", "file", f.Name, "copy", copyName)
		return n.df.hooks.Received(drive.Arrival{Path: copyName})
	}
	return nil
}
