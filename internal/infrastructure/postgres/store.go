package postgres

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
)

// NotifyChannel is the LISTEN/NOTIFY channel every Append notifies right
// after its commit, so the outbox relay wakes as soon as the events are
// visible instead of waiting for its poll.
const NotifyChannel = "order_events"

// OrderStore is the PostgreSQL adapter of the application's storage ports: the
// event store (order_events), the inline read model (orders, order_items) and
// the idempotency records (idempotency_keys). One type serves all three
// because Append writes them in one transaction. It is safe for concurrent use.
type OrderStore struct {
	pool  *pgxpool.Pool
	group *groupCommitter // nil: every Append commits alone
	reads *groupReads     // nil: every read takes its own round trip
}

// NewOrderStore returns a store on the pool. The pool stays the caller's to close.
// Concurrent Appends share transactions (DefaultGroupCommitConfig) and
// concurrent reads share round trips (DefaultGroupReadConfig) unless options
// say otherwise.
func NewOrderStore(pool *pgxpool.Pool, opts ...Option) *OrderStore {
	o := storeOptions{commits: DefaultGroupCommitConfig(), reads: DefaultGroupReadConfig()}
	for _, opt := range opts {
		opt(&o)
	}
	s := &OrderStore{pool: pool}
	s.group = newGroupCommitter(s, o.commits)
	s.reads = newGroupReads(s, o.reads)
	return s
}

// The store must keep satisfying every port it is wired as.
var (
	_ application.EventStore       = (*OrderStore)(nil)
	_ application.ReadModel        = (*OrderStore)(nil)
	_ application.IdempotencyStore = (*OrderStore)(nil)
)

// dbTime is how a time goes into a TIMESTAMP (without time zone) column: pgx
// writes the wall clock of whatever location the value carries, so it must
// be UTC; PostgreSQL keeps microseconds and would round the rest, so it is
// truncated here the way the application truncates its clock.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// optTime is a nullable timestamp argument: the zero time is NULL.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := dbTime(t)
	return &u
}

// fromOptTime reads a nullable timestamp back: NULL is the zero time.
func fromOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// deref reads a nullable text column back: NULL is "".
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
