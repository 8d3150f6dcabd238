// Package moderation reads the staff's moderation actions back from the
// journal, newest first, for the moderation log: chat messages removed,
// channels cleared, created or archived, nicknames muted and unmuted, pads
// locked and archived, drive files hidden, shown and removed.
//
// Every such action is a journal entry that its service (chat, pad, drive)
// wrote and applies; this package only describes them. It does not scan
// the journal per request: the journal keeps an index by time of the
// kinds listed in Kinds (journal.Options.Logged), written in the same
// transaction as each entry, whether it was made here or came from a
// linked box. The services' derived state could not serve instead: it
// keeps the latest decision (a mute, a lock), not the history.
//
// # Who may import it
//
// portal and cmd. It does no networking.
package moderation

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/journal"
	"tiersbox/box/pad"
)

// Kinds are the journal kinds of moderation actions: pass them as
// journal.Options.Logged.
var Kinds = []journal.Kind{
	chat.KindRemove, chat.KindClear, chat.KindMute, chat.KindChannel,
	pad.KindLock, pad.KindArchive,
	drive.KindHide, drive.KindShow, drive.KindRemove,
}

// Areas of the box an action is about.
const (
	AreaChat  = "chat"
	AreaPad   = "pad"
	AreaDrive = "drive"
)

// Action is one moderation action as the log shows it.
type Action struct {
	Pos    journal.LogPos
	Time   time.Time
	Origin journal.Origin // the box where it was decided
	// Verb names what was done: chat.remove, chat.clear, chat.mute,
	// chat.unmute, chat.archive, chat.open, pad.lock, pad.unlock,
	// pad.archive, pad.unarchive, drive.hide, drive.show, drive.remove,
	// drive.removeown (a visitor removing a file they added).
	Verb   string
	Area   string // AreaChat, AreaPad or AreaDrive
	Target string // the channel, pad name or file path; "" for mutes
	Nick   string // the nickname muted or unmuted
	Until  time.Time
	Note   string // the staff's reason, if they gave one
	Author string // "staff", or the visitor's pseudonym
}

// payload holds the fields of the services' payloads that the log shows
// (chat's mute and channel payloads, pad's LockPayload and
// ArchivePayload); the JSON names are theirs.
type payload struct {
	Nick     string `json:"nick"`
	Until    int64  `json:"until"`
	Archived *bool  `json:"archived"`
	Locked   *bool  `json:"locked"`
	Note     string `json:"note"`
}

// Verbs are every Verb an Action can have.
var Verbs = []string{
	"chat.remove", "chat.clear", "chat.mute", "chat.unmute", "chat.archive", "chat.open",
	"pad.lock", "pad.unlock", "pad.archive", "pad.unarchive",
	"drive.hide", "drive.show", "drive.remove", "drive.removeown",
}

// Describe turns a journal entry into an Action; ok is false for an entry
// that is not a moderation action (or that this box cannot read).
func Describe(e journal.Entry) (Action, bool) {
	a := Action{Pos: e.Pos(), Time: e.Time.Wall(), Origin: e.Origin, Author: e.Author}
	var p payload
	if len(e.Payload) > 0 && json.Unmarshal(e.Payload, &p) != nil {
		return Action{}, false
	}
	a.Note = p.Note
	switch e.Kind {
	case chat.KindRemove, chat.KindClear, chat.KindChannel:
		name, ok := strings.CutPrefix(e.Target, "chat/")
		if !ok {
			return Action{}, false
		}
		a.Area, a.Target = AreaChat, name
		switch {
		case e.Kind == chat.KindRemove:
			a.Verb = "chat.remove"
		case e.Kind == chat.KindClear:
			a.Verb = "chat.clear"
		case p.Archived != nil && *p.Archived:
			a.Verb = "chat.archive"
		default:
			a.Verb = "chat.open"
		}
	case chat.KindMute:
		if p.Nick == "" {
			return Action{}, false
		}
		a.Area, a.Nick, a.Until = AreaChat, p.Nick, time.UnixMilli(p.Until)
		a.Verb = "chat.mute"
		if !a.Until.After(a.Time) {
			a.Verb = "chat.unmute"
		}
	case pad.KindLock, pad.KindArchive:
		name, ok := strings.CutPrefix(e.Target, pad.TargetPrefix)
		if !ok {
			return Action{}, false
		}
		a.Area, a.Target = AreaPad, name
		switch {
		case e.Kind == pad.KindLock && p.Locked != nil && *p.Locked:
			a.Verb = "pad.lock"
		case e.Kind == pad.KindLock:
			a.Verb = "pad.unlock"
		case p.Archived != nil && *p.Archived:
			a.Verb = "pad.archive"
		default:
			a.Verb = "pad.unarchive"
		}
	case drive.KindHide, drive.KindShow, drive.KindRemove:
		path, ok := strings.CutPrefix(e.Target, drive.TargetPrefix)
		if !ok {
			return Action{}, false
		}
		a.Area, a.Target = AreaDrive, path
		a.Verb = map[journal.Kind]string{drive.KindHide: "drive.hide", drive.KindShow: "drive.show", drive.KindRemove: "drive.remove"}[e.Kind]
		if e.Kind == drive.KindRemove && e.Author != "staff" {
			a.Verb = "drive.removeown"
		}
	default:
		return Action{}, false
	}
	return a, true
}

// Log reads the moderation actions. It is safe for concurrent use.
type Log struct {
	j *journal.Journal
}

// New returns the log of the journal j, which must have been opened with
// Kinds as its Logged kinds.
func New(j *journal.Journal) *Log { return &Log{j: j} }

// Here returns this box's origin, to tell its actions from those of
// linked boxes.
func (l *Log) Here() journal.Origin { return l.j.Origin() }

// Page returns up to n actions before pos (the zero pos: the newest),
// newest first, and whether older ones remain.
func (l *Log) Page(before journal.LogPos, n int) ([]Action, bool, error) {
	var out []Action
	for {
		es, err := l.j.Log(before, n+1)
		if err != nil {
			return nil, false, fmt.Errorf("moderation: %w", err)
		}
		for _, e := range es {
			before = e.Pos()
			a, ok := Describe(e)
			if !ok {
				continue // unreadable here: perhaps from a newer box
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, a)
		}
		if len(es) < n+1 {
			return out, false, nil
		}
	}
}

// Cursor writes pos for a URL.
func Cursor(pos journal.LogPos) string {
	return fmt.Sprintf("%d-%s-%d", uint64(pos.Time), hex.EncodeToString(pos.Origin[:]), pos.Seq)
}

// ParseCursor reads what Cursor wrote; "" is the zero pos.
func ParseCursor(s string) (journal.LogPos, bool) {
	var pos journal.LogPos
	if s == "" {
		return pos, true
	}
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[1]) != 64 {
		return pos, false
	}
	t, err1 := strconv.ParseUint(parts[0], 10, 64)
	_, err2 := hex.Decode(pos.Origin[:], []byte(parts[1]))
	seq, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return journal.LogPos{}, false
	}
	pos.Time, pos.Seq = journal.Time(t), seq
	if Cursor(pos) != s {
		return journal.LogPos{}, false // one spelling per place: no leading zeros, lower-case hex
	}
	return pos, true
}
