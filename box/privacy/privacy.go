// Package privacy gives visitors what the box holds of them and erases it
// on request, and purges old chat messages when staff choose a retention.
//
// A visitor is known only by the random pseudonym in their cookie: it is
// the Author of every journal entry they made (a chat message, a file, a
// pad edit). Collect reads every journal the box holds (its own and its
// copies of other boxes') for that pseudonym; Erase writes one erasure
// request (box/journal) naming the visitor's messages and files, which
// hides them on every box and makes each origin box blank them in its own
// journal, and removes their files from the drive. Pad edits are not
// erased: they are woven into text others wrote on (the visitor can still
// rewrite their words in the pad, which history keeps as a new edit).
//
// Only portal and cmd import this package.
package privacy

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"tiersbox/box/chat"
	"tiersbox/box/drive"
	"tiersbox/box/journal"
	"tiersbox/box/pad"
)

// Service collects and erases a visitor's contributions.
type Service struct {
	j      *journal.Journal
	chat   *chat.Service
	drive  *drive.Service
	logger *slog.Logger

	// expiredMu guards expiredSeq: this box's entries up to it were
	// written before the last retention limit, so later passes start
	// after it instead of reading them again.
	expiredMu  sync.Mutex
	expiredSeq uint64
}

// New returns a Service; chat and drive may be nil when the box does not
// serve them.
func New(j *journal.Journal, chats *chat.Service, files *drive.Service, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{j: j, chat: chats, drive: files, logger: logger}
}

// Contributions is what a visitor made, as the JSON download gives it.
type Contributions struct {
	Pseudonym string     `json:"pseudonym"`
	Generated time.Time  `json:"generated"`
	Messages  []Message  `json:"chat_messages"`
	Files     []File     `json:"drive_files"`
	PadEdits  []PadEdit  `json:"pad_edits"`
	Erasures  []Erasure  `json:"erasure_requests,omitempty"`
	Boxes     []BoxCount `json:"boxes"`
}

// Message is one chat message the visitor posted.
type Message struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	Time     time.Time `json:"time"`
	Nickname string    `json:"nickname"`
	Text     string    `json:"text"`
	Shown    bool      `json:"shown"` // false once deleted, removed or erased
}

// File is one file the visitor added to the drive.
type File struct {
	Path        string    `json:"path"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	ContentType string    `json:"content_type"`
	Licence     string    `json:"licence,omitempty"`
	Description string    `json:"description,omitempty"`
	Nickname    string    `json:"nickname,omitempty"`
	Time        time.Time `json:"time"`
	InDrive     bool      `json:"in_drive"` // still in the drive as this upload
}

// PadEdit is about one second of the visitor's edits to a pad: the
// version it made, which the pad's history shows.
type PadEdit struct {
	Pad     string    `json:"pad"`
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	Bytes   int       `json:"update_bytes"`
}

// Erasure is an erasure the visitor asked for.
type Erasure struct {
	Time    time.Time `json:"time"`
	Entries int       `json:"entries"`
}

// BoxCount says how many of the entries come from which box (its origin
// in hex: the first 8 characters of its device ID).
type BoxCount struct {
	Box     string `json:"box"`
	Entries int    `json:"entries"`
}

// Collect gathers everything the box holds that the visitor pseudonym
// made, oldest first.
func (s *Service) Collect(pseudonym string) (Contributions, error) {
	c := Contributions{Pseudonym: pseudonym, Generated: time.Now().UTC()}
	if pseudonym == "" {
		return c, nil
	}
	counts := map[string]int{}
	err := s.each(func(e journal.Entry) error {
		if e.Erased || e.Author != pseudonym {
			return nil
		}
		t := e.Time.Wall().UTC()
		switch e.Kind {
		case chat.KindPost:
			m, err := s.message(e)
			if err != nil {
				return nil // not a message this box can read
			}
			c.Messages = append(c.Messages, m)
		case drive.KindFile:
			f, ok := s.file(e)
			if !ok {
				return nil
			}
			c.Files = append(c.Files, f)
		case pad.KindUpdate:
			name, ok := strings.CutPrefix(e.Target, pad.TargetPrefix)
			if !ok {
				return nil
			}
			c.PadEdits = append(c.PadEdits, PadEdit{Pad: name, Time: t, Version: pad.VersionID(e), Bytes: len(e.Payload)})
		case journal.KindErase:
			refs, _ := journal.ParseErase(e)
			c.Erasures = append(c.Erasures, Erasure{Time: t, Entries: len(refs)})
		default:
			return nil
		}
		counts[fmt.Sprintf("%x", e.Origin[:4])]++
		return nil
	})
	if err != nil {
		return Contributions{}, err
	}
	sort.SliceStable(c.Messages, func(i, k int) bool { return c.Messages[i].Time.Before(c.Messages[k].Time) })
	sort.SliceStable(c.Files, func(i, k int) bool { return c.Files[i].Time.Before(c.Files[k].Time) })
	sort.SliceStable(c.PadEdits, func(i, k int) bool { return c.PadEdits[i].Time.Before(c.PadEdits[k].Time) })
	for box, n := range counts {
		c.Boxes = append(c.Boxes, BoxCount{Box: box, Entries: n})
	}
	sort.Slice(c.Boxes, func(i, k int) bool { return c.Boxes[i].Box < c.Boxes[k].Box })
	return c, nil
}

// each calls f for every entry of every journal the box holds.
func (s *Service) each(f func(journal.Entry) error) error {
	heads, err := s.j.Heads()
	if err != nil {
		return fmt.Errorf("privacy: %w", err)
	}
	for o := range heads {
		if err := s.j.Since(o, 0, f); err != nil {
			return fmt.Errorf("privacy: reading the journal: %w", err)
		}
	}
	return nil
}

func (s *Service) message(e journal.Entry) (Message, error) {
	p, err := chat.ParsePost(e)
	if err != nil {
		return Message{}, err
	}
	m := Message{ID: chat.MessageID(e.Origin, e.Seq), Channel: p.Channel, Time: e.Time.Wall().UTC(), Nickname: p.Nick, Text: p.Text}
	if s.chat != nil {
		if _, err := s.chat.Get(m.ID); err == nil {
			m.Shown = true
		}
	}
	return m, nil
}

func (s *Service) file(e journal.Entry) (File, bool) {
	p, err := drive.ParseFile(e)
	if err != nil {
		return File{}, false
	}
	f := File{Path: p.Path, Size: p.Size, SHA256: p.SHA256, ContentType: p.ContentType, Licence: p.Licence,
		Description: p.Description, Nickname: p.Nickname, Time: e.Time.Wall().UTC()}
	if s.drive != nil {
		if cur, err := s.drive.Stat(p.Path); err == nil && cur.Author == e.Author && cur.SHA256 == p.SHA256 {
			f.InDrive = true
		}
	}
	return f, true
}

// Erased says what Erase did.
type Erased struct {
	Messages int // messages named in the request
	Files    int // files removed from the drive
}

// Erase removes the visitor's files from the drive and asks every box to
// erase their messages and files: one request naming them, applied at
// once here.
func (s *Service) Erase(pseudonym string) (Erased, error) {
	var out Erased
	if pseudonym == "" {
		return out, nil
	}
	var refs []journal.Ref
	var paths []string
	err := s.each(func(e journal.Entry) error {
		if e.Erased || e.Author != pseudonym {
			return nil
		}
		switch e.Kind {
		case chat.KindPost:
			out.Messages++
		case drive.KindFile:
			if p, err := drive.ParseFile(e); err == nil {
				paths = append(paths, p.Path)
			}
		default:
			return nil
		}
		refs = append(refs, journal.Ref{Origin: e.Origin, Seq: e.Seq})
		return nil
	})
	if err != nil {
		return Erased{}, err
	}
	if s.drive != nil {
		for _, p := range paths {
			err := s.drive.RemoveOwn(p, pseudonym)
			switch {
			case err == nil:
				out.Files++
			case errors.Is(err, drive.ErrNotYours), errors.Is(err, drive.ErrNotFound):
				// Someone else's file took the name since, or it is gone.
			default:
				return out, fmt.Errorf("privacy: remove %s: %w", p, err)
			}
		}
	}
	if len(refs) == 0 {
		return out, nil
	}
	return out, s.request(pseudonym, refs)
}

// request appends the erasure requests and applies them to the chat at
// once (other boxes apply them as they arrive).
func (s *Service) request(author string, refs []journal.Ref) error {
	entries, err := s.j.Append(journal.EraseDrafts(author, refs)...)
	if err != nil {
		return fmt.Errorf("privacy: erase: %w", err)
	}
	if s.chat != nil {
		if err := s.chat.Apply(entries...); err != nil {
			return fmt.Errorf("privacy: erase: %w", err)
		}
	}
	return nil
}

// Expire erases this box's own chat messages written before before: the
// retention staff chose. Other boxes' messages follow their own staff's
// choice. It returns how many messages it erased.
func (s *Service) Expire(before time.Time) (int, error) {
	s.expiredMu.Lock()
	defer s.expiredMu.Unlock()
	own := s.j.Origin()
	var refs []journal.Ref
	stop := errors.New("stop")
	last := s.expiredSeq
	err := s.j.Since(own, s.expiredSeq, func(e journal.Entry) error {
		if !e.Time.Wall().Before(before) {
			return stop // the journal's times grow with its sequence
		}
		last = e.Seq
		if e.Kind == chat.KindPost && !e.Erased {
			refs = append(refs, journal.Ref{Origin: e.Origin, Seq: e.Seq})
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return 0, fmt.Errorf("privacy: retention: %w", err)
	}
	if len(refs) > 0 {
		if err := s.request("", refs); err != nil {
			return 0, err
		}
	}
	// A longer limit later finds nothing more before this point: what
	// was there is erased.
	s.expiredSeq = last
	if len(refs) == 0 {
		return 0, nil
	}
	s.logger.Info("chat retention: erased old messages", "messages", len(refs), "before", before.Format(time.RFC3339))
	return len(refs), nil
}
