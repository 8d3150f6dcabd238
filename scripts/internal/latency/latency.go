// Package latency gathers the delays the load generators of
// scripts/bench-* measure, from many goroutines, and reports percentiles.
package latency

import (
	"slices"
	"sync"
	"time"
)

// Recorder is safe for concurrent use; its zero value is ready.
type Recorder struct {
	mu sync.Mutex
	ms []float64
}

// Add records one delay.
func (r *Recorder) Add(d time.Duration) {
	r.mu.Lock()
	r.ms = append(r.ms, float64(d.Microseconds())/1000)
	r.mu.Unlock()
}

// Count returns how many delays were recorded.
func (r *Recorder) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.ms))
}

// Percentiles returns the median and the 99th percentile, in
// milliseconds (zeros when nothing was recorded).
func (r *Recorder) Percentiles() (p50, p99 float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ms) == 0 {
		return 0, 0
	}
	slices.Sort(r.ms)
	return r.ms[len(r.ms)/2], r.ms[len(r.ms)*99/100]
}

// Max returns the longest delay recorded, in milliseconds (0 when
// nothing was recorded).
func (r *Recorder) Max() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ms) == 0 {
		return 0
	}
	return slices.Max(r.ms)
}
