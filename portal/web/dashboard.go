package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"tiersbox/box/drive"
)

// The staff home's dashboard: visitors connected now and today, what the
// box holds, linked boxes, uptime and version.
//
// Counting visitors keeps no list of who came. presence holds, in memory
// only, a keyed hash of each pseudonym (the key is random, drawn when the
// daemon starts and never written down), with the last time it was seen
// and its open websockets; the set of today's hashes is emptied at local
// midnight. Nothing of it reaches the disk, and a restart starts the day's
// count again.

// presentFor is how long after their last request a visitor still counts
// as connected when no websocket of theirs is open.
const presentFor = 5 * time.Minute

// presence counts visitors. Its zero value is ready to use. It is safe
// for concurrent use.
type presence struct {
	mu       sync.Mutex
	now      func() time.Time // nil means time.Now
	key      []byte
	day      string               // the local date today's set is for
	lastSeen map[uint64]time.Time // hash → last request
	sockets  map[uint64]int       // hash → open websockets
	today    map[uint64]struct{}  // hashes seen since local midnight
}

// hashLocked returns the keyed hash of a pseudonym, and empties today's
// set when the local date changed.
func (p *presence) hashLocked(pseudonym string) (uint64, time.Time) {
	now := time.Now()
	if p.now != nil {
		now = p.now()
	}
	if p.key == nil {
		p.key = make([]byte, 32)
		rand.Read(p.key)
		p.lastSeen = make(map[uint64]time.Time)
		p.sockets = make(map[uint64]int)
	}
	if d := now.Format(time.DateOnly); d != p.day {
		p.day, p.today = d, make(map[uint64]struct{})
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(pseudonym))
	return binary.BigEndian.Uint64(m.Sum(nil)), now
}

// seen records a request from the visitor with this pseudonym.
func (p *presence) seen(pseudonym string) {
	if pseudonym == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h, now := p.hashLocked(pseudonym)
	p.lastSeen[h] = now
	p.today[h] = struct{}{}
}

// connected records an open websocket of the visitor with this pseudonym
// ("" for someone who has not entered, who is not counted); the function
// it returns records its end.
func (p *presence) connected(pseudonym string) (gone func()) {
	if pseudonym == "" {
		return func() {}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h, now := p.hashLocked(pseudonym)
	p.sockets[h]++
	p.lastSeen[h] = now
	p.today[h] = struct{}{}
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.sockets[h]--; p.sockets[h] <= 0 {
				delete(p.sockets, h)
			}
			p.lastSeen[h] = time.Now()
			if p.now != nil {
				p.lastSeen[h] = p.now()
			}
		})
	}
}

// counts returns the visitors connected now (an open websocket, or a
// request in the last presentFor) and those seen since local midnight,
// and forgets those gone for longer.
func (p *presence) counts() (now, today int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, t := p.hashLocked("")
	for h, last := range p.lastSeen {
		switch {
		case p.sockets[h] > 0 || t.Sub(last) < presentFor:
			now++
		default:
			delete(p.lastSeen, h)
		}
	}
	return now, len(p.today)
}

// dashboardView is what the staff home shows; a part the box does not
// run (pads, chat, drive, linked boxes) is left out.
type dashboardView struct {
	VisitorsNow, VisitorsToday int
	// Sessions are the visitors whose session is still current.
	Sessions int
	HasPads  bool
	Pads     int
	HasChat  bool
	Channels int
	HasDrive bool
	Files    int
	// FilesText says how many files, as a phrase.
	FilesText string
	// Used is what the drive holds; Free what the disk has left ("" when
	// unknown).
	Used, Free string
	HasPeers   bool
	Peers      []peerLinkedRow
	Uptime     string
	Version    string
}

// dashboard gathers the figures. A figure that cannot be read is logged
// and shown as zero: the staff home must open even when a part fails.
func (s *Server) dashboard(lang string) *dashboardView {
	d := &dashboardView{Version: s.opts.Version, Uptime: formatUptime(time.Since(s.started), lang)}
	d.VisitorsNow, d.VisitorsToday = s.presence.counts()
	warn := func(what string, err error) { s.logger.Warn("dashboard: reading "+what, "error", err) }
	if n, err := s.opts.Visitors.Count(); err != nil {
		warn("sessions", err)
	} else {
		d.Sessions = n
	}
	if s.opts.Pads != nil {
		d.HasPads = true
		if l, err := s.opts.Pads.List(); err != nil {
			warn("pads", err)
		} else {
			d.Pads = len(l)
		}
	}
	if s.opts.Chat != nil {
		d.HasChat = true
		if l, err := s.opts.Chat.Channels(false); err != nil {
			warn("channels", err)
		} else {
			d.Channels = len(l)
		}
	}
	if s.opts.Drive != nil {
		d.HasDrive = true
		if l, err := s.opts.Drive.ListAll(drive.ListOptions{Hidden: true}); err != nil {
			warn("drive files", err)
		} else {
			d.Files = len(l)
		}
		d.FilesText = filesText(d.Files, lang)
		if used, err := s.opts.Drive.Usage(); err != nil {
			warn("drive usage", err)
		} else {
			d.Used = formatSize(used, lang)
		}
	}
	if s.opts.DiskFree != nil {
		if free, ok := s.opts.DiskFree(); ok {
			d.Free = formatSize(free, lang)
		}
	}
	if s.opts.Peers != nil {
		d.HasPeers = true
		if l, err := s.opts.Peers.Linked(); err != nil {
			warn("linked boxes", err)
		} else {
			for _, p := range l {
				d.Peers = append(d.Peers, linkedRow(p, lang))
			}
		}
	}
	return d
}

// formatUptime writes how long the box has been running, to the minute.
func formatUptime(d time.Duration, lang string) string {
	m := int(d / time.Minute)
	days, hours, mins := m/(24*60), m/60%24, m%60
	switch {
	case days > 0:
		return translate(lang, "dash.uptime.days", days, hours)
	case hours > 0:
		return translate(lang, "dash.uptime.hours", hours, mins)
	}
	return translate(lang, "dash.uptime.minutes", mins)
}
