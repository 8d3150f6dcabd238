package drive

import (
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"tiersbox/box/journal"
)

// Remove removes the file at path (staff, or the box): a KindRemove entry,
// then the file's content and thumbnail leave the disk. author is who
// removed it, for the journal. A file sync placed without details
// (File.Arrived) has no entry to answer: it is deleted from the disk, and
// sync passes the deletion on.
func (s *Service) Remove(path, author string) error {
	placed, err := s.removeArrived(path)
	if err != nil {
		return err
	}
	if placed {
		s.logger.Info("file from sync deleted by staff", "path", path)
	}
	err = s.act(KindRemove, path, author, nil)
	if placed && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// RemoveOwn removes the file at path for the visitor author, who must
// have added it: otherwise ErrNotYours.
func (s *Service) RemoveOwn(path, author string) error {
	return s.act(KindRemove, path, author, func(r record) error {
		if author == "" || r.File.Author != author {
			return fmt.Errorf("%w: %s", ErrNotYours, path)
		}
		return nil
	})
}

// Hide hides the file at path from visitors without deleting it; staff
// still see it (ListOptions.Hidden). Hiding a hidden file does nothing.
func (s *Service) Hide(path, author string) error {
	return s.act(KindHide, path, author, func(r record) error {
		if r.hidden() {
			return errNoop
		}
		return nil
	})
}

// Show shows again a file staff hid. Showing a shown file does nothing.
func (s *Service) Show(path, author string) error {
	return s.act(KindShow, path, author, func(r record) error {
		if !r.hidden() {
			return errNoop
		}
		return nil
	})
}

// errNoop cancels an action that would change nothing.
var errNoop = errors.New("drive: nothing to change")

// act appends an entry of kind about the listed file at path, if check
// (run in the same transaction, so that nothing changes in between)
// allows it, and applies it.
func (s *Service) act(kind journal.Kind, path, author string, check func(r record) error) error {
	p, err := json.Marshal(PathPayload{Path: path})
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	var eff effect
	var refused error
	_, err = s.j.AppendWith(func(tx *bolt.Tx, entries []journal.Entry) error {
		eff = effect{}
		r, _, err := getRecord(tx, path)
		if err != nil {
			return err
		}
		if !r.live() {
			refused = fmt.Errorf("%w: %s", ErrNotFound, path)
			return refused
		}
		if check != nil {
			if refused = check(r); refused != nil {
				return refused
			}
		}
		return applyOwn(tx, entries[0], &eff)
	}, journal.Draft{Kind: kind, Target: TargetPrefix + path, Author: author, Payload: p})
	if err == nil {
		s.afterCommit(eff)
	}
	s.writeMu.Unlock()
	switch {
	case errors.Is(refused, errNoop):
		return nil
	case refused != nil:
		return refused
	case err != nil:
		return fmt.Errorf("drive: %s %s: %w", kind, path, err)
	}
	s.deleteGone(eff)
	s.logger.Info("drive file changed by staff or its author", "kind", string(kind), "path", path)
	return nil
}
