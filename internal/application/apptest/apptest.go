// Package apptest holds deterministic test doubles for the application's
// Clock and IDSource ports, shared by the tests, fuzz targets and benchmarks
// that drive application.Commands, and Orders, the one builder of orders and
// commits for the tests below the command handlers.
package apptest

import (
	"sync"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// StepClock advances by Step on every reading, so that successive orders get
// distinct, increasing creation times. Step 0 is a frozen clock.
type StepClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewStepClock starts at start.
func NewStepClock(start time.Time, step time.Duration) *StepClock {
	return &StepClock{now: start, step: step}
}

// Now implements application.Clock.
func (c *StepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// SeqIDs hands out distinct, well-formed (version 7, RFC 9562 variant) ids:
// the first byte is the source's prefix and the last bytes a counter, so
// sources with different prefixes never collide on one store.
type SeqIDs struct {
	mu     sync.Mutex
	prefix byte
	n      uint64
}

// NewSeqIDs returns an id source whose ids start with prefix.
func NewSeqIDs(prefix byte) *SeqIDs { return &SeqIDs{prefix: prefix} }

// NewID implements application.IDSource.
func (s *SeqIDs) NewID() order.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	var id order.ID
	id[0], id[6], id[8] = s.prefix, 0x70, 0x80
	for i := range 7 {
		id[15-i] = byte(s.n >> (8 * i))
	}
	return id
}
