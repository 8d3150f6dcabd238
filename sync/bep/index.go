package bep

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/syncthing/syncthing/lib/protocol"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"tiersbox/box/store"
)

// Inside store.BucketBEP:
//
//	local/FOLDER/meta          {"index_id", "seq"}
//	local/FOLDER/files/NAME    FileInfo (protobuf, as Syncthing stores it)
//	remote/DEVICE/FOLDER/meta  {"index_id", "max_seq"}
//	remote/DEVICE/FOLDER/files/NAME
//
// BEP.md §3 says what must survive a restart: this box's index ID and
// sequence per folder, its files with their version vectors, and per peer
// the index ID and highest sequence received with the peer's files. A new
// index ID at every start would make every peer send everything again.
var (
	keyLocal  = []byte("local")
	keyRemote = []byte("remote")
	keyMeta   = []byte("meta")
	keyFiles  = []byte("files")
)

func marshalFile(f protocol.FileInfo) ([]byte, error) { return proto.Marshal(f.ToWire(true)) }

func unmarshalFile(b []byte) (protocol.FileInfo, error) {
	w := (&protocol.FileInfo{}).ToWire(true)
	if err := proto.Unmarshal(b, w); err != nil {
		return protocol.FileInfo{}, err
	}
	return protocol.FileInfoFromDB(w), nil
}

// bucketPath opens (creating when tx is writable) nested buckets.
func bucketPath(tx *bolt.Tx, names ...[]byte) (*bolt.Bucket, error) {
	b := tx.Bucket(store.BucketBEP)
	for _, n := range names {
		next := b.Bucket(n)
		if next == nil {
			if !tx.Writable() {
				return nil, nil
			}
			var err error
			if next, err = b.CreateBucket(n); err != nil {
				return nil, err
			}
		}
		b = next
	}
	return b, nil
}

// eachEntry calls fn with the short entry of every file in a files
// bucket (b may be nil).
func eachEntry(b *bolt.Bucket, fn func(name string, e fileEntry)) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		e, err := entryFromStored(v)
		if err != nil {
			return fmt.Errorf("file %q: %w", k, err)
		}
		fn(string(k), e)
		return nil
	})
}

// getFile reads the file stored under name in a files bucket (b may be
// nil).
func getFile(b *bolt.Bucket, name string) (protocol.FileInfo, bool, error) {
	if b == nil {
		return protocol.FileInfo{}, false, nil
	}
	v := b.Get([]byte(name))
	if v == nil {
		return protocol.FileInfo{}, false, nil
	}
	f, err := unmarshalFile(v)
	if err != nil {
		return protocol.FileInfo{}, false, fmt.Errorf("file %q: %w", name, err)
	}
	return f, true, nil
}

// localIndex is what this box announces in one folder: in memory a short
// entry per file (fileEntry), the whole descriptions in the database. It
// is safe for concurrent use.
type localIndex struct {
	st     *store.Store
	folder string

	mu      sync.Mutex
	id      protocol.IndexID
	seq     int64
	files   map[string]fileEntry
	order   []seqName     // names by sequence, with stale ones
	changed chan struct{} // closed and replaced at every commit

	wants   wantFunc              // whether a peer's version is fetched (tally.go)
	remotes map[*remoteIndex]bool // of connected peers, whose tallies follow commits

	heldFiles int   // files (not deleted, not folders) in files
	heldBytes int64 // and their size
}

// seqName is a name as of one sequence number: the file's current entry
// if files[name].sequence is still seq.
type seqName struct {
	seq  int64
	name string
}

type localMeta struct {
	IndexID protocol.IndexID `json:"index_id"`
	Seq     int64            `json:"seq"`
}

func openLocal(st *store.Store, folder string) (*localIndex, error) {
	li := &localIndex{st: st, folder: folder, changed: make(chan struct{})}
	err := st.Update(func(tx *bolt.Tx) error {
		b, err := bucketPath(tx, keyLocal, []byte(folder))
		if err != nil {
			return err
		}
		var m localMeta
		if v := b.Get(keyMeta); v != nil {
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
		} else {
			m.IndexID = protocol.NewIndexID()
			v, _ := json.Marshal(m)
			if err := b.Put(keyMeta, v); err != nil {
				return err
			}
		}
		li.id, li.seq = m.IndexID, m.Seq
		li.files = make(map[string]fileEntry)
		return eachEntry(b.Bucket(keyFiles), li.setLocal)
	})
	for name, e := range li.files {
		li.order = append(li.order, seqName{e.sequence, name})
	}
	slices.SortFunc(li.order, func(a, b seqName) int { return cmp.Compare(a.seq, b.seq) })
	if err != nil {
		return nil, fmt.Errorf("bep: open index of %s: %w", folder, err)
	}
	return li, nil
}

// get returns the file announced under name, without its blocks (see
// full).
func (li *localIndex) get(name string) (protocol.FileInfo, bool) {
	li.mu.Lock()
	defer li.mu.Unlock()
	e, ok := li.files[name]
	return e.info(name), ok
}

// full returns the file announced under name with its blocks, as the
// database holds it.
func (li *localIndex) full(name string) (f protocol.FileInfo, ok bool, err error) {
	li.mu.Lock()
	_, held := li.files[name]
	li.mu.Unlock()
	if !held {
		return protocol.FileInfo{}, false, nil // most files of a first sync
	}
	err = li.readFiles(func(b *bolt.Bucket) (err error) {
		f, ok, err = getFile(b, name)
		return err
	})
	if err != nil {
		return protocol.FileInfo{}, false, err
	}
	return f, ok, nil
}

// readFiles runs fn with the folder's files bucket (nil if there is none
// yet), in one read transaction.
func (li *localIndex) readFiles(fn func(b *bolt.Bucket) error) error {
	err := li.st.View(func(tx *bolt.Tx) error {
		b, err := bucketPath(tx, keyLocal, []byte(li.folder), keyFiles)
		if err != nil {
			return err
		}
		return fn(b)
	})
	if err != nil {
		return fmt.Errorf("bep: read index of %s: %w", li.folder, err)
	}
	return nil
}

// head returns the index ID and the last sequence number.
func (li *localIndex) head() (protocol.IndexID, int64) {
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.id, li.seq
}

// snapshot returns the index ID, the last sequence and a copy of the
// entries.
func (li *localIndex) snapshot() (protocol.IndexID, int64, map[string]fileEntry) {
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.id, li.seq, maps.Clone(li.files)
}

// since returns the names changed after sequence after, in sequence
// order, and a channel closed at the next commit; whole reads them.
func (li *localIndex) since(after int64) ([]seqName, <-chan struct{}) {
	li.mu.Lock()
	defer li.mu.Unlock()
	var out []seqName
	i, _ := slices.BinarySearchFunc(li.order, after+1, func(e seqName, t int64) int { return cmp.Compare(e.seq, t) })
	for _, e := range li.order[i:] {
		if li.files[e.name].sequence == e.seq {
			out = append(out, e)
		}
	}
	return out, li.changed
}

// whole reads the descriptions of names from the database, in one
// transaction. A name changed again since is left out: it has a later
// sequence number, and since lists it again.
func (li *localIndex) whole(names []seqName) ([]protocol.FileInfo, error) {
	out := make([]protocol.FileInfo, 0, len(names))
	err := li.readFiles(func(b *bolt.Bucket) error {
		for _, e := range names {
			f, ok, err := getFile(b, e.name)
			if err != nil {
				return err
			}
			if ok && f.Sequence == e.seq {
				out = append(out, f)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// commit records new versions of files, each with the next sequence
// number, in one transaction, and wakes whoever waits for changes.
func (li *localIndex) commit(files ...protocol.FileInfo) error {
	if len(files) == 0 {
		return nil
	}
	li.mu.Lock()
	defer li.mu.Unlock()
	seq := li.seq
	out := make([]protocol.FileInfo, len(files))
	err := li.st.Update(func(tx *bolt.Tx) error {
		b, err := bucketPath(tx, keyLocal, []byte(li.folder))
		if err != nil {
			return err
		}
		fb, err := b.CreateBucketIfNotExists(keyFiles)
		if err != nil {
			return err
		}
		fb.FillPercent = store.DenseFill
		seq = li.seq
		for i, f := range files {
			seq++
			f.Sequence = seq
			f.LocalFlags = 0
			v, err := marshalFile(f)
			if err != nil {
				return err
			}
			if err := fb.Put([]byte(f.Name), v); err != nil {
				return err
			}
			out[i] = f
		}
		m, _ := json.Marshal(localMeta{IndexID: li.id, Seq: seq})
		return b.Put(keyMeta, m)
	})
	if err != nil {
		return fmt.Errorf("bep: record index of %s: %w", li.folder, err)
	}
	li.seq = seq
	for _, f := range out {
		li.setLocal(f.Name, entryOf(f))
		li.order = append(li.order, seqName{f.Sequence, f.Name})
	}
	if len(li.order) > 2*len(li.files)+1024 {
		// Drop the stale names, which only cost memory.
		live := li.order[:0]
		for _, e := range li.order {
			if li.files[e.name].sequence == e.seq {
				live = append(live, e)
			}
		}
		li.order = live
	}
	close(li.changed)
	li.changed = make(chan struct{})
	return nil
}

// remoteIndex is what one peer announced in one folder.
type remoteIndex struct {
	IndexID protocol.IndexID     `json:"index_id"`
	MaxSeq  int64                `json:"max_seq"`
	files   map[string]fileEntry // changed under the peer's mu and the local index's
	tally   FolderState          // under the local index's mu (tally.go)
}

// fileEntry is what a box keeps in memory of a file in an index, its own
// or a peer's: what deciding whether a file is wanted, what is in sync,
// and what to announce next needs. The whole description, the block list
// above all, stays in the database and is read when it is needed: for
// the files being fetched (withBlocks), announced (localIndex.whole) or
// reused (localIndex.full). A first sync of 10,000 files held 4 MB of
// whole descriptions per index, most of what the receiving box had live.
type fileEntry struct {
	version    protocol.Vector
	size       int64
	modS       int64
	sequence   int64
	modifiedBy protocol.ShortID
	blocksHash []byte // with the version, what versionKey tells apart
	modNs      int32
	perms      uint32
	typ        protocol.FileInfoType
	deleted    bool
	invalid    bool
}

func entryOf(f protocol.FileInfo) fileEntry {
	return fileEntry{version: f.Version, size: f.Size, modS: f.ModifiedS, modNs: f.ModifiedNs, typ: f.Type,
		deleted: f.IsDeleted(), invalid: f.IsInvalid(), sequence: f.Sequence, blocksHash: f.BlocksHash,
		modifiedBy: f.ModifiedBy, perms: f.Permissions}
}

// info is the file as a FileInfo without its blocks: enough for
// wantDriveFile, wantSegment, a scan's comparisons and deletions, and the
// sums of what is in sync.
func (e fileEntry) info(name string) protocol.FileInfo {
	return protocol.FileInfo{Name: name, Version: e.version, Size: e.size, ModifiedS: e.modS, ModifiedNs: e.modNs,
		ModifiedBy: e.modifiedBy, Permissions: e.perms, Type: e.typ, Deleted: e.deleted, RawInvalid: e.invalid,
		Sequence: e.sequence, BlocksHash: e.blocksHash}
}

func remoteKeys(dev protocol.DeviceID, folder string) [][]byte {
	return [][]byte{keyRemote, dev[:], []byte(folder)}
}

func loadRemote(st *store.Store, dev protocol.DeviceID, folder string) (*remoteIndex, error) {
	ri := &remoteIndex{files: map[string]fileEntry{}}
	err := st.View(func(tx *bolt.Tx) error {
		b, err := bucketPath(tx, remoteKeys(dev, folder)...)
		if err != nil || b == nil {
			return err
		}
		if v := b.Get(keyMeta); v != nil {
			if err := json.Unmarshal(v, ri); err != nil {
				return err
			}
		}
		return eachEntry(b.Bucket(keyFiles), func(name string, e fileEntry) { ri.files[name] = e })
	})
	if err != nil {
		return nil, fmt.Errorf("bep: read index of %s from %s: %w", folder, dev.Short(), err)
	}
	return ri, nil
}

// withBlocks replaces the files of wants, as a peer's index holds them in
// memory, with their whole descriptions from the database, read in one
// transaction; a want whose file is no longer that version there is left
// out (the index update that changed it has it considered again).
func withBlocks(st *store.Store, folder string, wants []want) ([]want, error) {
	out := wants[:0]
	err := st.View(func(tx *bolt.Tx) error {
		for _, w := range wants {
			b, err := bucketPath(tx, append(remoteKeys(w.from[0].id, folder), keyFiles)...)
			if err != nil {
				return err
			}
			f, ok, err := getFile(b, w.f.Name)
			if err != nil {
				return fmt.Errorf("bep: read index of %s from %s: %w", folder, w.from[0].id.Short(), err)
			}
			if ok && f.Version.Equal(w.f.Version) {
				w.f = f
				out = append(out, w)
			}
		}
		return nil
	})
	return out, err
}

// saveRemote records files a peer announced; replace drops what it had
// announced before (a full Index, or a new index ID).
func saveRemote(st *store.Store, dev protocol.DeviceID, folder string, ri *remoteIndex, files []protocol.FileInfo, replace bool) error {
	err := st.Update(func(tx *bolt.Tx) error {
		b, err := bucketPath(tx, remoteKeys(dev, folder)...)
		if err != nil {
			return err
		}
		if replace && b.Bucket(keyFiles) != nil {
			if err := b.DeleteBucket(keyFiles); err != nil {
				return err
			}
		}
		fb, err := b.CreateBucketIfNotExists(keyFiles)
		if err != nil {
			return err
		}
		fb.FillPercent = store.DenseFill
		for _, f := range files {
			v, err := marshalFile(f)
			if err != nil {
				return err
			}
			if err := fb.Put([]byte(f.Name), v); err != nil {
				return err
			}
		}
		m, _ := json.Marshal(ri)
		return b.Put(keyMeta, m)
	})
	if err != nil {
		return fmt.Errorf("bep: record index of %s from %s: %w", folder, dev.Short(), err)
	}
	return nil
}

// dropRemote forgets everything a peer announced (it was unlinked).
func dropRemote(st *store.Store, dev protocol.DeviceID) error {
	return st.Update(func(tx *bolt.Tx) error {
		b, err := bucketPath(tx, keyRemote)
		if err != nil {
			return err
		}
		if b.Bucket(dev[:]) != nil {
			return b.DeleteBucket(dev[:])
		}
		return nil
	})
}
