// Package system provides the real clock and identifier source behind the
// application's Clock and IDSource ports.
package system

import (
	"time"

	"github.com/google/uuid"

	"github.com/acme/order-service/internal/domain/order"
)

// Clock reads the wall clock.
type Clock struct{}

// Now implements application.Clock.
func (Clock) Now() time.Time { return time.Now() }

// UUIDv7 makes time-ordered UUIDs (RFC 9562 version 7): new orders and events
// land at the right-hand end of their B-tree indexes instead of at random
// pages, which keeps inserts cheap.
type UUIDv7 struct{}

// NewID implements application.IDSource.
func (UUIDv7) NewID() order.ID {
	// uuid.NewV7 reads crypto/rand.Reader, which since Go 1.24 never returns
	// an error (the runtime aborts if the kernel cannot supply randomness),
	// so there is no error to handle here.
	id, _ := uuid.NewV7()
	return order.ID(id)
}
