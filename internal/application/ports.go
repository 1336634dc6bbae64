package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// EventStore is the system of record: the append-only log of order events,
// written together with the read-model projection and the idempotency record.
type EventStore interface {
	// Load returns one order's events in version order, or order.ErrNotFound.
	Load(ctx context.Context, id order.ID) ([]order.Event, error)
	// Append writes a commit atomically, all of it or nothing, as its
	// CommitPlan lays down. When another writer got there first it returns
	// *order.ConcurrencyError; when the commit's request id was recorded by a
	// concurrent duplicate, it returns ErrDuplicateRequest (even if the
	// duplicate also moved the order); a commit whose parts disagree it
	// refuses with ErrInvalidCommit.
	Append(ctx context.Context, c Commit) error
}

// Commit is everything one command writes.
type Commit struct {
	OrderID order.ID
	// ExpectedVersion is the version the events were decided on: 0 for a new
	// order. The first event's version is ExpectedVersion+1.
	ExpectedVersion int
	Events          []RecordedEvent
	// State is the order after the events: the inline projection.
	State order.State
	// Idempotency is set when the command carried a request id.
	Idempotency *IdempotencyRecord
}

// LastVersion is the version the order has once the commit is appended.
func (c Commit) LastVersion() int { return c.ExpectedVersion + len(c.Events) }

// RecordedEvent is a domain event with the identity and metadata the log
// keeps beside it.
type RecordedEvent struct {
	ID       order.ID
	Event    order.Event
	Metadata EventMetadata
}

// EventMetadata says who caused an event, on whose behalf and where.
type EventMetadata struct {
	ActorID       string // the acting principal: the seed's order_events.user_id
	RequestID     string
	CorrelationID string
	CausationID   string
	TraceParent   string // W3C traceparent of the request that caused the event
	ServiceName   string
	CellID        string
	SchemaVersion int
}

// CurrentEventSchemaVersion is the version of the event payload schema this
// code writes: one version for the whole order.v1 event schema. Version 2
// gave OrderCreated and ShippingAddressChanged a structured postal_address;
// older rows are upcast when read (eventlog.Registered).
const CurrentEventSchemaVersion = 2

// ReadModel answers queries from the projection (orders, order_items) and the
// event log's history view. It never replays events.
type ReadModel interface {
	// GetOrder returns an order's current state, or order.ErrNotFound.
	GetOrder(ctx context.Context, id order.ID) (order.State, error)
	// ListOrders returns a user's orders newest first (created_at, then id,
	// both descending), after the cursor when one is given, at most Limit.
	ListOrders(ctx context.Context, f OrderFilter) ([]order.State, error)
	// ListOrderEvents returns an order's events with version > AfterVersion
	// in version order, at most limit, each brought to the current schema
	// version (the shape the relay publishes).
	ListOrderEvents(ctx context.Context, id order.ID, afterVersion, limit int) ([]EventRecord, error)
}

// OrderFilter selects a page of one user's orders.
type OrderFilter struct {
	UserID order.UserID
	Status order.Status // empty: any status
	After  *OrderCursor // nil: from the newest
	Limit  int
}

// OrderCursor is the keyset position of the last order of a page.
type OrderCursor struct {
	CreatedAt time.Time
	ID        order.ID
}

// EventRecord is one entry of an order's history as the log stores it.
type EventRecord struct {
	EventID    order.ID
	OrderID    order.ID
	Type       string
	Version    int
	OccurredAt time.Time
	// Data is the event payload, the protobuf JSON of the order.v1 event
	// message, at Metadata.SchemaVersion: as stored when written, at the
	// current version when read back (ListOrderEvents upcasts).
	Data     []byte
	Metadata EventMetadata
}

// IdempotencyStore finds the record a command with a request id left behind.
// Records are written by EventStore.Append inside the command's transaction.
type IdempotencyStore interface {
	// FindRequest returns the record for (scope, request id), or found=false.
	FindRequest(ctx context.Context, scope, requestID string) (rec IdempotencyRecord, found bool, err error)
	// DeleteRequestsBefore removes records created before the cut-off and
	// reports how many it removed.
	DeleteRequestsBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// IdempotencyRecord remembers a command's request id, a fingerprint of its
// payload and a reference to its response. Events are immutable, so the
// response, the order as it stood at Version, can be rebuilt exactly by
// replaying the log up to Version: no response body needs storing.
type IdempotencyRecord struct {
	Scope       string // the principal: request ids of different callers never collide
	RequestID   string
	Fingerprint Fingerprint
	OrderID     order.ID
	Version     int
	CreatedAt   time.Time
}

// Clock tells the time. Injected so that tests are deterministic.
type Clock interface {
	Now() time.Time
}

// IDSource makes new identifiers for orders, line items and events.
type IDSource interface {
	NewID() order.ID
}

// ErrDuplicateRequest reports that a concurrent command with the same scope
// and request id committed first.
var ErrDuplicateRequest = errors.New("request id already recorded")

// ErrUnavailable marks failures of a dependency that may succeed when retried
// later: a lost connection, a timeout, an overloaded database. Adapters wrap
// it: fmt.Errorf("append: %w: %w", ErrUnavailable, err).
var ErrUnavailable = errors.New("dependency unavailable")

// SnapshotStore keeps one rehydration point per order, its latest snapshot,
// and reads the events after it. Snapshots are an optimisation: the event
// log stays the system of record, and every answer of this port may be
// ignored in favour of a full replay.
type SnapshotStore interface {
	// LoadSnapshot returns the order's stored snapshot, or found=false. A
	// snapshot of another snapshot schema or one that does not decode is an
	// error wrapping *SnapshotUnusableError.
	LoadSnapshot(ctx context.Context, id order.ID) (s Snapshot, found bool, err error)
	// SaveSnapshot stores s as the order's snapshot, replacing whatever was
	// stored: the last write wins. Snapshots are written only from committed
	// states, so a write that lands after a later one's moves the snapshot
	// back (more events to replay), never makes it wrong; and one that
	// replaces an unusable snapshot (ahead, stale, corrupt, another schema)
	// heals it.
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// LoadAfter returns the order's events with version > afterVersion, in
	// version order (none when the log ends at or before afterVersion).
	LoadAfter(ctx context.Context, id order.ID, afterVersion int) ([]order.Event, error)
}

// Snapshot is an order's state at a version (State.Version), as a snapshot
// stores it.
type Snapshot struct {
	State     order.State
	CreatedAt time.Time
}

// SnapshotUnusableError reports a stored snapshot that cannot be used: of
// another snapshot schema, or corrupt. The order then loads by full replay.
type SnapshotUnusableError struct {
	OrderID order.ID
	Reason  string // SnapshotReasonSchema or SnapshotReasonCorrupt
	Err     error
}

func (e *SnapshotUnusableError) Error() string {
	return fmt.Sprintf("snapshot of order %s unusable (%s): %v", e.OrderID, e.Reason, e.Err)
}

func (e *SnapshotUnusableError) Unwrap() error { return e.Err }

// Why a load fell back from a snapshot to a full replay: the reason label of
// SnapshotObserver.SnapshotFallback.
const (
	SnapshotReasonMissing = "missing" // none stored though the order is long enough to have one
	SnapshotReasonSchema  = "schema"  // written by another snapshot schema
	SnapshotReasonCorrupt = "corrupt" // does not decode
	SnapshotReasonAhead   = "ahead"   // at a version the log does not have
	SnapshotReasonStale   = "stale"   // the log's event at its version is not the one it was taken after
	SnapshotReasonReplay  = "replay"  // the events after it do not apply to it
	SnapshotReasonError   = "error"   // the snapshot store failed
)
