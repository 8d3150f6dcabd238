package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"tiersbox/box/journal"
)

func entriesFrom(first, n int, payload int) []journal.Entry {
	var es []journal.Entry
	for i := range n {
		es = append(es, journal.Entry{Seq: uint64(first + i), Payload: make([]byte, payload)})
	}
	return es
}

func seqs(es []journal.Entry) []uint64 {
	var s []uint64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

// Entries that arrive while an application runs are applied together in
// the next one, in the order they came.
func TestApplierCoalescesInOrder(t *testing.T) {
	calls := make(chan []journal.Entry)
	release := make(chan struct{})
	a := newApplier(func(es []journal.Entry) {
		calls <- es
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.run(ctx) }()

	a.add(entriesFrom(1, 2, 10))
	if got := seqs(<-calls); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("first application: %v", got)
	}
	// The first application is still running: these wait, together.
	a.add(entriesFrom(3, 1, 10))
	a.add(entriesFrom(4, 2, 10))
	a.add(entriesFrom(6, 1, 10))
	release <- struct{}{}
	if got := seqs(<-calls); !slices.Equal(got, []uint64{3, 4, 5, 6}) {
		t.Fatalf("second application: %v, want 3 4 5 6 in one", got)
	}
	release <- struct{}{}
	cancel()
	<-done
}

// A full queue holds sync back until an application takes it; once the
// applier stops, what was queued is applied and later entries are left to
// the services' next start, without waiting.
func TestApplierBoundsItsQueueAndStops(t *testing.T) {
	var applied []journal.Entry
	calls := make(chan struct{})
	release := make(chan struct{})
	a := newApplier(func(es []journal.Entry) {
		applied = append(applied, es...)
		calls <- struct{}{}
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.run(ctx) }()

	a.add(entriesFrom(1, 1, 10))
	<-calls // applying entry 1, held
	a.add(entriesFrom(2, 1, maxQueuedBytes))
	added := make(chan struct{})
	go func() { a.add(entriesFrom(3, 1, 10)); close(added) }()
	select {
	case <-added:
		t.Fatal("add did not wait with a full queue")
	case <-time.After(100 * time.Millisecond):
	}
	release <- struct{}{}
	<-calls // applying 2, which freed the queue
	<-added
	cancel() // stops with 3 queued: the final application takes it
	release <- struct{}{}
	<-calls
	release <- struct{}{}
	<-done
	if got := seqs(applied); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("applied %v, want 1 2 3", got)
	}
	stopped := make(chan struct{})
	go func() {
		a.add(entriesFrom(4, 1, maxQueuedBytes))
		a.add(entriesFrom(5, 1, maxQueuedBytes))
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("add waited after the applier stopped")
	}
	if got := seqs(applied); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("applied %v after the stop", got)
	}
}
