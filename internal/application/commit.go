package application

import (
	"errors"
	"fmt"

	"github.com/acme/order-service/internal/domain/order"
)

// ErrInvalidCommit marks a commit whose parts disagree (no events, versions
// that do not follow ExpectedVersion, a state or request record of another
// order or version, a payload schema this code does not write).
// Writing it would corrupt the log or the projection, so no EventStore does:
// it is a bug of the caller, never a lost race.
var ErrInvalidCommit = errors.New("invalid commit")

// CommitPlan is a Commit checked against the contract every EventStore.Append
// keeps, with what it changes worked out once for all adapters. Append writes
// a plan in one transaction, all of it or nothing, in this order: the
// idempotency record first, so that a concurrent duplicate of the request
// waits on its key and fails with ErrDuplicateRequest (its command then
// replays the original result) rather than with a version conflict; then the
// events, each (order, version) new or the commit lost a race; then the
// orders row, inserted for a NewOrder and otherwise updated only from
// ExpectedVersion, so that a commit decided on a version the order is not at
// is refused as *order.ConcurrencyError even where no event version clashes;
// last the order's lines, rewritten from State only when ItemsChanged and
// otherwise left exactly as they are.
type CommitPlan struct {
	Commit
	// NewOrder reports that the commit creates the order (ExpectedVersion 0).
	NewOrder bool
	// ItemsChanged reports that an event of the commit creates, adds, removes
	// or re-counts lines.
	ItemsChanged bool
}

// Plan checks the commit and returns what to write. Its error wraps
// ErrInvalidCommit.
func (c Commit) Plan() (CommitPlan, error) {
	if err := c.check(); err != nil {
		return CommitPlan{}, fmt.Errorf("commit for order %s: %w: %w", c.OrderID, ErrInvalidCommit, err)
	}
	return CommitPlan{Commit: c, NewOrder: c.ExpectedVersion == 0, ItemsChanged: changesItems(c.Events)}, nil
}

func (c Commit) check() error {
	if len(c.Events) == 0 {
		return errors.New("no events")
	}
	if c.ExpectedVersion < 0 {
		return fmt.Errorf("expected version %d", c.ExpectedVersion)
	}
	for i, e := range c.Events {
		if e.Event == nil {
			return fmt.Errorf("event %d is missing", i)
		}
		if e.Metadata.SchemaVersion != CurrentEventSchemaVersion {
			return fmt.Errorf("event %d claims schema version %d; this code writes %d", i, e.Metadata.SchemaVersion, CurrentEventSchemaVersion)
		}
		h := e.Event.Header()
		if want := c.ExpectedVersion + i + 1; h.OrderID != c.OrderID || h.Version != want {
			return fmt.Errorf("event %d is order %s version %d, want version %d", i, h.OrderID, h.Version, want)
		}
	}
	if c.State.ID != c.OrderID || c.State.Version != c.LastVersion() {
		return fmt.Errorf("state is order %s version %d, want version %d", c.State.ID, c.State.Version, c.LastVersion())
	}
	if r := c.Idempotency; r != nil && (r.OrderID != c.OrderID || r.Version != c.LastVersion()) {
		return fmt.Errorf("request %q refers to order %s version %d, want version %d", r.RequestID, r.OrderID, r.Version, c.LastVersion())
	}
	return nil
}

// changesItems reports whether any event touches the order's lines.
func changesItems(events []RecordedEvent) bool {
	for _, e := range events {
		switch e.Event.(type) {
		case order.OrderCreated, order.OrderItemAdded, order.OrderItemRemoved, order.OrderItemQuantityChanged:
			return true
		}
	}
	return false
}
