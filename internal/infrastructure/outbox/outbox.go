// Package outbox publishes the event log: a relay reads committed events from
// the store in a gap-safe order and hands them to a publisher (Kafka), and
// moves its checkpoint only after the publisher acknowledged them.
//
// The event log is the outbox: there is no second table to keep in step.
// Stores implement Source, each held to the same contract suite
// (outbox/sourcetest); publishers implement Publisher.
package outbox

import (
	"context"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// Position is a place in the publish order of the log. PostgreSQL orders by
// (id of the transaction that wrote the event, global position), because
// positions are taken at insert, not at commit; SQLite, whose writers are
// serialised, needs only the position and leaves TxID at 0.
type Position struct {
	TxID uint64
	Seq  int64
}

// Less reports whether p comes before q in publish order.
func (p Position) Less(q Position) bool {
	if p.TxID != q.TxID {
		return p.TxID < q.TxID
	}
	return p.Seq < q.Seq
}

// Event is one committed event as the relay publishes it.
type Event struct {
	Position   Position
	EventID    order.ID
	OrderID    order.ID
	Type       string
	Version    int
	OccurredAt time.Time
	Data       []byte // the payload as stored: protobuf JSON of the order.v1 message
	Metadata   application.EventMetadata
}

// Source is the store side of the relay.
type Source interface {
	// ReadAfter returns up to limit events after the position, in publish
	// order. It must never return an event while an event that will sort
	// before it may still commit: a long transaction delays publishing, it
	// never makes the relay skip an event.
	ReadAfter(ctx context.Context, after Position, limit int) ([]Event, error)
	// Checkpoint returns the relay's saved position (the zero Position when
	// it never saved one).
	Checkpoint(ctx context.Context, relay string) (Position, error)
	// SaveCheckpoint records that everything up to and including the
	// position was acknowledged by the publisher.
	SaveCheckpoint(ctx context.Context, relay string, p Position) error
	// Park sets aside an event the publisher rejected for good, with the
	// reason, so that it is never dropped silently and can be inspected.
	Park(ctx context.Context, e Event, reason string) error
	// ParkedCount reports how many events are parked.
	ParkedCount(ctx context.Context) (int64, error)
	// Backlog reports how many committed events lie after the position and
	// when the oldest of them was written (zero when there are none).
	Backlog(ctx context.Context, after Position) (events int64, oldest time.Time, err error)
	// Notifications delivers a signal soon after events are committed. The
	// relay also polls, so a lost signal only delays publishing. The channel
	// closes when ctx ends.
	Notifications(ctx context.Context) <-chan struct{}
	// AcquireLease blocks until this process may relay (only one relay
	// publishes at a time) or ctx ends. The lease is lost when the returned
	// context ends (e.g. the connection holding it broke); release frees it.
	AcquireLease(ctx context.Context, relay string) (held context.Context, release func(), err error)
}

// Publisher is the broker side of the relay.
type Publisher interface {
	// Publish sends the events and returns once the broker acknowledged
	// them all. Per order, events must reach the broker in the given order.
	// A *RejectedError means the broker acknowledged every event but the ones
	// it names, which it refused for good (too large, invalid): the relay parks
	// those and carries on. Any other error is transient: the relay backs off
	// and retries from its checkpoint.
	Publish(ctx context.Context, events []Event) error
}

// Sleep waits d or until ctx ends, and reports whether the full wait passed:
// the pause between retries and polls of the relay and of its sources.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RejectedError reports events a broker refused permanently.
type RejectedError struct {
	Rejected map[order.ID]string // event id → reason
}

func (e *RejectedError) Error() string {
	return "broker rejected events permanently"
}
