package main

import (
	"context"
	"sync"

	"tiersbox/box/journal"
)

// maxQueuedBytes bounds the payloads of entries waiting to be applied:
// beyond it, sync waits for the application to catch up rather than
// hold a long absence's journal in memory.
const maxQueuedBytes = 8 << 20

// applier applies the entries that sync takes in from other boxes to the
// pads, the chat and the drive, on its own goroutine. Sync's puller goes
// on to the next segment meanwhile: the entries are in the journal
// already, which the services read again at their next start should the
// box stop first. The entries that arrive while an application runs are
// applied together in the next one, so that catching up on many segments
// brings each pad touched up to date once, not once per segment. Order is
// kept.
type applier struct {
	apply func([]journal.Entry)

	mu      sync.Mutex
	cond    *sync.Cond // signalled when the queue empties or run stops
	queued  []journal.Entry
	bytes   int
	stopped bool
	wake    chan struct{}
}

func newApplier(apply func([]journal.Entry)) *applier {
	a := &applier{apply: apply, wake: make(chan struct{}, 1)}
	a.cond = sync.NewCond(&a.mu)
	return a
}

// add queues entries for the next application. It waits while the queue
// is full. Once run has stopped, it leaves them to the services' next
// start.
func (a *applier) add(entries []journal.Entry) {
	a.mu.Lock()
	for a.bytes >= maxQueuedBytes && !a.stopped {
		a.cond.Wait()
	}
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.queued = append(a.queued, entries...)
	for _, e := range entries {
		a.bytes += len(e.Payload)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run applies what is queued until ctx is done, then what is left.
func (a *applier) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			a.stopped = true
			a.cond.Broadcast()
			a.mu.Unlock()
			a.applyQueued()
			return nil
		case <-a.wake:
			a.applyQueued()
		}
	}
}

func (a *applier) applyQueued() {
	a.mu.Lock()
	entries := a.queued
	a.queued, a.bytes = nil, 0
	a.cond.Broadcast()
	a.mu.Unlock()
	if len(entries) > 0 {
		a.apply(entries)
	}
}
