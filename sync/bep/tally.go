package bep

import "github.com/syncthing/syncthing/lib/protocol"

// A connected peer's remote index keeps, in a FolderState, what the peer
// and this box still need of each other in its folder (its tally). It is
// kept up to date name by name, as either index changes, so that a
// status (staff poll it) costs nothing however many files the folder
// holds, and holds no lock for long.

// count adds (sign 1) or takes away (sign -1) what name counts for in t,
// given this box's entry le (if have) and the peer's re (if theirs).
// wants says whether this box would fetch the peer's version.
func count(t *FolderState, sign int, name string, le fileEntry, have bool, re fileEntry, theirs bool, wants wantFunc) {
	if theirs && !re.deleted && wants(name, le, have, re) {
		t.NeedFiles += sign
		t.NeedBytes += int64(sign) * re.size
	}
	if have && !le.deleted && le.typ != protocol.FileInfoTypeDirectory &&
		(!theirs || le.version.Compare(re.version) == protocol.Greater) {
		t.TheyNeedFiles += sign
		t.TheyNeedBytes += int64(sign) * le.size
	}
}

// wantFunc says whether this box wants the peer's version re of name,
// given its own le (if have).
type wantFunc func(name string, le fileEntry, have bool, re fileEntry) bool

// recount computes ri's tally from both indexes whole; the caller holds
// li.mu.
func (li *localIndex) recount(ri *remoteIndex) {
	ri.tally = FolderState{}
	for name, re := range ri.files {
		le, have := li.files[name]
		count(&ri.tally, 1, name, le, have, re, true, li.wants)
	}
	for name, le := range li.files {
		if _, theirs := ri.files[name]; !theirs {
			count(&ri.tally, 1, name, le, true, fileEntry{}, false, li.wants)
		}
	}
}

// track makes ri's tally follow this index's commits, from a count of
// both now, while its peer is connected.
func (li *localIndex) track(ri *remoteIndex) {
	li.mu.Lock()
	defer li.mu.Unlock()
	if li.remotes == nil {
		li.remotes = map[*remoteIndex]bool{}
	}
	li.remotes[ri] = true
	li.recount(ri)
}

// untrack stops it, once the peer is gone.
func (li *localIndex) untrack(ri *remoteIndex) {
	li.mu.Lock()
	defer li.mu.Unlock()
	delete(li.remotes, ri)
}

// setLocal records this box's new entry for name and updates the
// tallies and the sums of what it holds; the caller holds li.mu.
func (li *localIndex) setLocal(name string, e fileEntry) {
	old, had := li.files[name]
	if had && old.held() {
		li.heldFiles--
		li.heldBytes -= old.size
	}
	if e.held() {
		li.heldFiles++
		li.heldBytes += e.size
	}
	for ri := range li.remotes {
		re, theirs := ri.files[name]
		count(&ri.tally, -1, name, old, had, re, theirs, li.wants)
		count(&ri.tally, 1, name, e, true, re, theirs, li.wants)
	}
	li.files[name] = e
}

// takeRemote records what a peer announced in ri (replacing what it
// announced before if replace) and updates its tally. The caller holds
// the peer's mu, which guards ri's files too; li.mu is taken here, so
// that a commit never reads ri's files while they change.
func (li *localIndex) takeRemote(ri *remoteIndex, files []protocol.FileInfo, replace bool) {
	li.mu.Lock()
	defer li.mu.Unlock()
	if replace {
		ri.files = make(map[string]fileEntry, len(files))
		for _, f := range files {
			ri.files[f.Name] = entryOf(f)
		}
		li.recount(ri)
		return
	}
	for _, f := range files {
		le, have := li.files[f.Name]
		old, theirs := ri.files[f.Name]
		count(&ri.tally, -1, f.Name, le, have, old, theirs, li.wants)
		e := entryOf(f)
		ri.files[f.Name] = e
		count(&ri.tally, 1, f.Name, le, have, e, true, li.wants)
	}
}

// state returns ri's tally.
func (li *localIndex) state(ri *remoteIndex) FolderState {
	li.mu.Lock()
	defer li.mu.Unlock()
	st := ri.tally
	st.ID = li.folder
	return st
}

// held says whether an entry is a file this box holds (for the sums of
// Folders).
func (e fileEntry) held() bool { return !e.deleted && e.typ == protocol.FileInfoTypeFile }
