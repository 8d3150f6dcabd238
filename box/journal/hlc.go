package journal

import (
	"fmt"
	"time"
)

// Time is a hybrid logical clock reading: milliseconds since the Unix
// epoch in the high 48 bits, a counter in the low 16. It orders entries of
// all boxes consistently with causality (an entry written after seeing
// another has a later time) while staying close to wall-clock time, so
// that chat messages from another box interleave where people expect.
type Time uint64

const counterBits = 16

// Wall returns the physical part as a time.Time.
func (t Time) Wall() time.Time { return time.UnixMilli(int64(t >> counterBits)) }

func (t Time) String() string {
	return fmt.Sprintf("%s+%d", t.Wall().UTC().Format(time.RFC3339Nano), uint64(t)&(1<<counterBits-1))
}

// clock issues Times. It is not safe for concurrent use; the Journal
// serialises it.
type clock struct {
	last Time
	now  func() time.Time
}

// next returns a Time later than every Time issued or observed.
func (c *clock) next() Time {
	phys := Time(c.now().UnixMilli()) << counterBits
	if phys > c.last {
		c.last = phys
	} else {
		c.last++
	}
	return c.last
}

// maxAhead bounds how far a Time from another box may pull this clock
// ahead of the wall clock: a box whose own clock is wrong by days must not
// drag every box it syncs with into its future.
const maxAhead = time.Hour

// observe takes in a Time from another box, so that later local Times
// come after it.
func (c *clock) observe(t Time) {
	limit := Time(c.now().Add(maxAhead).UnixMilli()) << counterBits
	if t > c.last && t <= limit {
		c.last = t
	}
}
