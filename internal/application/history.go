package application

import (
	"context"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// history is an order's events in version order, as the event store keeps
// them: the one source of an order's past. Idempotent replays rebuild the
// original response from it, and time-travel queries the order as it was;
// the read model knows only the present.
type history struct {
	id     order.ID
	events []order.Event
}

// loadHistory reads an order's events; a missing order is order.ErrNotFound.
func loadHistory(ctx context.Context, store EventStore, id order.ID) (history, error) {
	events, err := store.Load(ctx, id)
	if err != nil {
		return history{}, fmt.Errorf("load history of order %s: %w", id, err)
	}
	if len(events) == 0 {
		return history{}, order.ErrNotFound
	}
	return history{id: id, events: events}, nil
}

// current is the order's latest version.
func (h history) current() int { return len(h.events) }

// at rebuilds the order as it stood at a version, from 1 to h.current():
// its first version events replayed.
func (h history) at(version int) (order.State, error) {
	if version < 1 || version > h.current() {
		return order.State{}, fmt.Errorf("rebuild order %s at version %d: its history holds versions 1 to %d", h.id, version, h.current())
	}
	o, err := order.Rehydrate(h.events[:version])
	if err != nil {
		return order.State{}, fmt.Errorf("rebuild order %s at version %d: %w", h.id, version, err)
	}
	return o.State(), nil
}

// versionAt is the version the order had at instant t: that of the last
// event that occurred at or before t, or 0 when t is before the order was
// created. Times are the writer's clock; a clock that stepped back between
// two events does not reorder them: the version says what came first.
func (h history) versionAt(t time.Time) int {
	for i := len(h.events) - 1; i >= 0; i-- {
		if !h.events[i].Header().OccurredAt.After(t) {
			return i + 1
		}
	}
	return 0
}
