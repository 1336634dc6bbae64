package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// The read side of group commit: concurrent GetOrder calls share one round
// trip (one snapshot, two statements for the lot instead of four each), and
// so do concurrent FindRequest calls (one statement). A call that finds a
// flusher free runs alone through the single-call statements, so batching
// adds no latency at low load; under load it removes most of the round
// trips, which on a busy machine cost more CPU (a socket write and a
// process wake-up on each side) than the statements themselves.
//
// Every call of a batch gets exactly what its own query would have
// returned at some moment between its start and its end: the shared query
// starts after every member's call did. A row that fails to decode fails
// only the call that asked for it.

// GroupReadConfig tunes how concurrent reads share round trips.
type GroupReadConfig struct {
	// MaxBatch bounds the calls one round trip answers; 1 turns it off.
	MaxBatch int
	// Flushers bounds the shared round trips in flight at once, per kind.
	Flushers int
}

// DefaultGroupReadConfig is what NewStore uses unless told otherwise: up to
// 64 calls per round trip, 2 round trips in flight per kind.
func DefaultGroupReadConfig() GroupReadConfig {
	return GroupReadConfig{MaxBatch: 64, Flushers: 2}
}

// MaxGroupRead bounds GroupReadConfig.MaxBatch: far above any useful batch
// (the default is 64), it catches a misplaced digit.
const MaxGroupRead = 1000

// Validate refuses settings no deployment means: negative sizes, batches
// above MaxGroupRead. Zero fields keep the defaults.
func (c GroupReadConfig) Validate() error {
	if err := errors.Join(batching(c.MaxBatch, MaxGroupRead, c.Flushers)...); err != nil {
		return fmt.Errorf("group read config: %w", err)
	}
	return nil
}

// WithGroupReads sets how concurrent reads share round trips. Fields left
// zero keep the defaults (DefaultGroupReadConfig); MaxBatch 1 turns it off.
// cfg should pass Validate: NewStore cannot fail, so out-of-range values
// are clamped to the nearest valid one.
func WithGroupReads(cfg GroupReadConfig) Option {
	return func(o *storeOptions) {
		if cfg.MaxBatch != 0 {
			o.reads.MaxBatch = cfg.MaxBatch
		}
		if cfg.Flushers != 0 {
			o.reads.Flushers = cfg.Flushers
		}
	}
}

// WithoutGroupReads makes every read take a round trip of its own.
func WithoutGroupReads() Option {
	return func(o *storeOptions) { o.reads.MaxBatch = 1 }
}

// GroupReadStats counts what read batching did since the store was made.
type GroupReadStats struct {
	Batches int64 // round trips made for queued reads
	Reads   int64 // calls they answered
	Largest int64 // the most calls one round trip answered
}

// GroupReadStats reports the counters; zero when read batching is off.
func (s *OrderStore) GroupReadStats() GroupReadStats {
	if s.reads == nil {
		return GroupReadStats{}
	}
	return GroupReadStats{Batches: s.reads.batches.Load(), Reads: s.reads.calls.Load(), Largest: s.reads.largest.Load()}
}

// getOrdersSQL and getItemsOfOrdersSQL are getOrderSQL and getItemsSQL for
// a set of ids: primary-key and order_items index probes, one per id.
const (
	getOrdersSQL        = `SELECT ` + orderColumnsSQL + ` FROM orders o WHERE o.id = ANY($1::uuid[])`
	getItemsOfOrdersSQL = `SELECT ` + itemColumnsSQL + ` FROM order_items i WHERE i.order_id = ANY($1::uuid[]) ORDER BY i.order_id, i.line_no`
)

// findRequestsSQL is findRequestSQL for a set of (scope, request id) pairs.
// The LIMIT keeps the lateral subquery from being flattened, so the plan
// stays one primary-key probe per pair whatever the statistics say.
const findRequestsSQL = `
SELECT q.scope, q.request_id, k.fingerprint, k.order_id, k.version, k.created_at
FROM unnest($1::text[], $2::text[]) AS q(scope, request_id),
LATERAL (SELECT fingerprint, order_id, version, created_at FROM idempotency_keys
  WHERE scope = q.scope AND request_id = q.request_id LIMIT 1) k`

type groupReads struct {
	store    *OrderStore
	orders   *batchQueue[*orderCall]
	requests *batchQueue[*requestCall]

	batches, calls, largest atomic.Int64
}

type orderCall struct {
	ctx  context.Context
	id   order.ID
	snap order.State
	err  error
	done chan struct{}
}

type requestCall struct {
	ctx              context.Context
	scope, requestID string
	rec              application.IdempotencyRecord
	found            bool
	err              error
	done             chan struct{}
}

func newGroupReads(s *OrderStore, cfg GroupReadConfig) *groupReads {
	if cfg.MaxBatch <= 1 {
		return nil
	}
	cfg.MaxBatch = min(cfg.MaxBatch, MaxGroupRead)
	r := &groupReads{store: s}
	r.orders = newBatchQueue(cfg.MaxBatch, cfg.Flushers, 0, r.flushOrders, func(c *orderCall) bool {
		return c.ctx.Err() != nil // its caller has returned already
	})
	r.requests = newBatchQueue(cfg.MaxBatch, cfg.Flushers, 0, r.flushRequests, func(c *requestCall) bool {
		return c.ctx.Err() != nil
	})
	return r
}

func (r *groupReads) count(n int) {
	r.batches.Add(1)
	r.calls.Add(int64(n))
	for l := r.largest.Load(); int64(n) > l && !r.largest.CompareAndSwap(l, int64(n)); l = r.largest.Load() {
	}
}

func (r *groupReads) getOrder(ctx context.Context, id order.ID) (order.State, error) {
	if err := ctx.Err(); err != nil {
		return order.State{}, dbError(fmt.Sprintf("get order %s", id), err)
	}
	c := &orderCall{ctx: ctx, id: id, done: make(chan struct{})}
	r.orders.push(c)
	select {
	case <-c.done:
		return c.snap, c.err
	case <-ctx.Done():
		return order.State{}, dbError(fmt.Sprintf("get order %s", id), ctx.Err())
	}
}

func (r *groupReads) flushOrders(batch []*orderCall) {
	r.count(len(batch))
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	if len(batch) == 1 {
		c := batch[0]
		c.snap, c.err = r.store.getOrderOne(c.ctx, c.id)
		return
	}
	ctx, cancel := sharedContext(batch, func(c *orderCall) context.Context { return c.ctx })
	defer cancel()
	ids := make([][16]byte, len(batch))
	for i, c := range batch {
		ids[i] = c.id
	}
	rows, err := r.store.readOrderRows(ctx, getOrdersSQL, getItemsOfOrdersSQL, ids)
	byID := make(map[order.ID]*orderRow, len(rows))
	for _, row := range rows {
		byID[row.id] = row
	}
	for _, c := range batch {
		row := byID[c.id]
		switch {
		case err != nil:
			c.err = dbError(fmt.Sprintf("get order %s", c.id), err)
		case row == nil:
			c.err = order.ErrNotFound
		default:
			if c.snap, _, c.err = row.snapshot(); c.err != nil {
				c.err = dbError(fmt.Sprintf("get order %s", c.id), c.err)
			}
		}
	}
}

func (r *groupReads) findRequest(ctx context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return application.IdempotencyRecord{}, false, dbError(fmt.Sprintf("find request %q", requestID), err)
	}
	c := &requestCall{ctx: ctx, scope: scope, requestID: requestID, done: make(chan struct{})}
	r.requests.push(c)
	select {
	case <-c.done:
		return c.rec, c.found, c.err
	case <-ctx.Done():
		return application.IdempotencyRecord{}, false, dbError(fmt.Sprintf("find request %q", requestID), ctx.Err())
	}
}

type requestKey struct{ scope, requestID string }

func (r *groupReads) flushRequests(batch []*requestCall) {
	r.count(len(batch))
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	if len(batch) == 1 {
		c := batch[0]
		c.rec, c.found, c.err = r.store.findRequestOne(c.ctx, c.scope, c.requestID)
		return
	}
	ctx, cancel := sharedContext(batch, func(c *requestCall) context.Context { return c.ctx })
	defer cancel()
	scopes, ids := make([]string, len(batch)), make([]string, len(batch))
	for i, c := range batch {
		scopes[i], ids[i] = c.scope, c.requestID
	}
	type found struct {
		fingerprint []byte
		orderID     order.ID
		version     int
		createdAt   time.Time
	}
	records := map[requestKey]found{}
	var key requestKey
	var f found
	rows, err := r.store.pool.Query(ctx, findRequestsSQL, scopes, ids)
	if err == nil {
		_, err = pgx.ForEachRow(rows, []any{&key.scope, &key.requestID, &f.fingerprint, &f.orderID, &f.version, &f.createdAt}, func() error {
			f.fingerprint = bytes.Clone(f.fingerprint) // the scan may reuse the buffer
			records[key] = f
			return nil
		})
	}
	for _, c := range batch {
		if err != nil {
			c.err = dbError(fmt.Sprintf("find request %q", c.requestID), err)
			continue
		}
		rec, ok := records[requestKey{c.scope, c.requestID}]
		if !ok {
			continue
		}
		if len(rec.fingerprint) != len(c.rec.Fingerprint) {
			c.err = fmt.Errorf("find request %q: stored fingerprint has %d bytes, want %d", c.requestID, len(rec.fingerprint), len(c.rec.Fingerprint))
			continue
		}
		c.rec = application.IdempotencyRecord{
			Scope: c.scope, RequestID: c.requestID, OrderID: rec.orderID, Version: rec.version, CreatedAt: rec.createdAt.UTC(),
		}
		copy(c.rec.Fingerprint[:], rec.fingerprint)
		c.found = true
	}
}

// sharedContext bounds a shared round trip by the latest deadline among the
// calls in it, and by none if one of them has none. No caller cancels it:
// one caller giving up must not fail the others.
func sharedContext[T any](batch []T, ctxOf func(T) context.Context) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, item := range batch {
		d, ok := ctxOf(item).Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
