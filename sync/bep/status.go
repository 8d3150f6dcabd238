package bep

import (
	"time"

	"github.com/syncthing/syncthing/lib/protocol"
)

// FolderState says how far a linked device and this box are in step in
// one folder.
type FolderState struct {
	ID string `json:"id"`
	// Need is what this box still has to fetch from the device.
	NeedFiles int   `json:"need_files"`
	NeedBytes int64 `json:"need_bytes"`
	// TheyNeed is what the device still lacks of this box's.
	TheyNeedFiles int   `json:"they_need_files"`
	TheyNeedBytes int64 `json:"they_need_bytes"`
}

// InSync reports whether nothing is left to transfer either way.
func (f FolderState) InSync() bool { return f.NeedFiles == 0 && f.TheyNeedFiles == 0 }

// PeerStatus is what staff see of a linked device.
type PeerStatus struct {
	ID        protocol.DeviceID `json:"id"`
	Name      string            `json:"name"`
	Connected bool              `json:"connected"`
	Address   string            `json:"address,omitempty"`
	Client    string            `json:"client,omitempty"`
	Since     time.Time         `json:"since,omitzero"`
	LastSeen  time.Time         `json:"last_seen,omitzero"`
	// InBytes and OutBytes count every connection with the device,
	// the current one included.
	InBytes  int64         `json:"in_bytes"`
	OutBytes int64         `json:"out_bytes"`
	Folders  []FolderState `json:"folders,omitempty"`
}

// Status describes every linked device.
func (n *Node) Status() ([]PeerStatus, error) {
	devs, err := n.opts.Links.List()
	if err != nil {
		return nil, err
	}
	out := make([]PeerStatus, 0, len(devs))
	for _, d := range devs {
		n.mu.Lock()
		p := n.peers[d.ID]
		s := PeerStatus{ID: d.ID, Name: d.Name, LastSeen: d.LastSeen, InBytes: d.InBytes, OutBytes: d.OutBytes}
		n.mu.Unlock()
		if p != nil {
			s.Connected = true
			s.Address = p.mc.RemoteAddr().String()
			s.Client = p.hello.ClientName + " " + p.hello.ClientVersion
			s.Since = p.since
			s.LastSeen = time.Now()
			s.InBytes += p.mc.in.Load()
			s.OutBytes += p.mc.out.Load()
			if s.Name == "" {
				s.Name = p.hello.DeviceName
			}
			for _, f := range []string{FolderJournal, FolderDrive} {
				s.Folders = append(s.Folders, n.folderState(p, f))
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (n *Node) folderState(p *peer, folder string) FolderState {
	p.mu.Lock()
	shared, ri := p.shares[folder], p.remote[folder]
	p.mu.Unlock()
	if !shared {
		return FolderState{ID: folder}
	}
	return n.index(folder).state(ri)
}

// FolderSummary is what this box holds in a folder.
type FolderSummary struct {
	ID    string `json:"id"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Sequence goes up by one for every change the box announces.
	Sequence int64 `json:"sequence"`
}

// Folders sums up both folders as this box announces them.
func (n *Node) Folders() []FolderSummary {
	var out []FolderSummary
	for _, li := range []*localIndex{n.jIdx, n.dIdx} {
		li.mu.Lock()
		s := FolderSummary{ID: li.folder, Sequence: li.seq, Files: li.heldFiles, Bytes: li.heldBytes}
		li.mu.Unlock()
		out = append(out, s)
	}
	return out
}
