//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/infrastructure/system"
)

// GetOrder calls that share a round trip each get exactly what a call of
// their own gets: the order, ErrNotFound, a decoding error for a corrupt
// row that fails only its own call, and the context's error for a caller
// that gave up while it waited.
func TestGroupReadsGetOrderMatchesSingleReads(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	store := postgres.NewOrderStore(pool, postgres.WithGroupReads(postgres.GroupReadConfig{MaxBatch: 64, Flushers: 1}))
	single := postgres.NewOrderStore(pool, postgres.WithoutGroupReads())
	ctx := t.Context()
	var ids []order.ID
	for i := range 5 {
		o := storeOrder(t, "user-1")
		storeMust(t, store.Append(ctx, storeCommit(o, 0, "")))
		if i%2 == 0 {
			storeMust(t, o.Confirm(o.State().UpdatedAt))
			storeMust(t, store.Append(ctx, storeCommit(o, 1, "")))
		}
		ids = append(ids, o.ID())
	}
	corrupt := storeOrder(t, "user-2")
	storeMust(t, store.Append(ctx, storeCommit(corrupt, 0, "")))
	_, err := pool.Exec(ctx, `UPDATE orders SET status = 'BOGUS' WHERE id = $1`, corrupt.ID())
	storeMust(t, err)
	missing := system.UUIDv7{}.NewID()

	type call struct {
		id     order.ID
		cancel bool
		snap   order.State
		err    error
	}
	calls := []*call{{id: missing}, {id: corrupt.ID()}, {id: ids[0], cancel: true}}
	for _, id := range append(ids, ids[1]) { // ids[1] twice
		calls = append(calls, &call{id: id})
	}

	release := blockReads(t, pool, "orders", func() error { _, err := store.GetOrder(ctx, ids[0]); return err })
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, len(calls))
	for i, c := range calls {
		cctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		wg.Go(func() { c.snap, c.err = store.GetOrder(cctx, c.id) })
	}
	waitFor(t, "the reads to queue", func() bool { return store.QueuedReads() == len(calls) })
	for i, c := range calls {
		if c.cancel {
			cancels[i]()
		}
	}
	release()
	wg.Wait()
	for _, cancel := range cancels {
		cancel()
	}

	for _, c := range calls {
		want, wantErr := single.GetOrder(ctx, c.id)
		switch {
		case c.cancel:
			if !errors.Is(c.err, context.Canceled) {
				t.Errorf("GetOrder %s after its caller gave up = %v, want context.Canceled", c.id, c.err)
			}
		case c.id == missing:
			if !errors.Is(c.err, order.ErrNotFound) {
				t.Errorf("GetOrder of a missing order = %v, want ErrNotFound", c.err)
			}
		case c.id == corrupt.ID():
			if c.err == nil || wantErr == nil || errors.Is(c.err, order.ErrNotFound) {
				t.Errorf("GetOrder of a corrupt row = %v (alone: %v), want a decoding error", c.err, wantErr)
			}
		case c.err != nil || wantErr != nil || !reflect.DeepEqual(c.snap, want):
			t.Errorf("GetOrder %s in a batch = %+v, %v; alone = %+v, %v", c.id, c.snap, c.err, want, wantErr)
		}
	}
	if got := store.GroupReadStats().Largest; got != int64(len(calls)-1) {
		t.Errorf("largest read batch %d, want the %d calls still waiting in one", got, len(calls)-1)
	}
}

// FindRequest calls that share a round trip each find their own record,
// scoped by caller, or nothing.
func TestGroupReadsFindRequestMatchesSingleReads(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	store := postgres.NewOrderStore(pool, postgres.WithGroupReads(postgres.GroupReadConfig{MaxBatch: 64, Flushers: 1}))
	single := postgres.NewOrderStore(pool, postgres.WithoutGroupReads())
	ctx := t.Context()
	for _, user := range []string{"user-1", "user-2"} {
		for _, req := range []string{"req-a", "req-b"} {
			if user == "user-2" && req == "req-b" {
				continue
			}
			storeMust(t, store.Append(ctx, storeCommit(storeOrder(t, user), 0, req)))
		}
	}
	type call struct {
		scope, req string
		rec        application.IdempotencyRecord
		found      bool
		err        error
	}
	calls := []*call{
		{scope: "user-1", req: "req-a"}, {scope: "user-1", req: "req-b"}, {scope: "user-2", req: "req-a"},
		{scope: "user-2", req: "req-b"}, {scope: "user-3", req: "req-a"}, {scope: "user-1", req: "req-a"},
	}
	release := blockReads(t, pool, "idempotency_keys", func() error { _, _, err := store.FindRequest(ctx, "user-1", "req-a"); return err })
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.rec, c.found, c.err = store.FindRequest(ctx, c.scope, c.req) })
	}
	waitFor(t, "the lookups to queue", func() bool { return store.QueuedReads() == len(calls) })
	release()
	wg.Wait()
	for _, c := range calls {
		want, wantFound, wantErr := single.FindRequest(ctx, c.scope, c.req)
		if c.err != nil || wantErr != nil || c.found != wantFound || !reflect.DeepEqual(c.rec, want) {
			t.Errorf("FindRequest(%s, %s) in a batch = %+v, %v, %v; alone = %+v, %v, %v", c.scope, c.req, c.rec, c.found, c.err, want, wantFound, wantErr)
		}
	}
	if got := store.GroupReadStats().Largest; got != int64(len(calls)) {
		t.Errorf("largest read batch %d, want all %d lookups in one", got, len(calls))
	}
}

// blockReads occupies the only read flusher: a transaction locks table,
// then read (run in the background) waits on that lock. release rolls the
// lock back and checks that the blocked read succeeded.
func blockReads(t *testing.T, pool *pgxpool.Pool, table string, read func() error) (release func()) {
	t.Helper()
	ctx := t.Context()
	holder, err := pool.Begin(ctx)
	storeMust(t, err)
	_, err = holder.Exec(ctx, `LOCK TABLE `+table+` IN ACCESS EXCLUSIVE MODE`)
	storeMust(t, err)
	blocked := make(chan error, 1)
	go func() { blocked <- read() }()
	waitFor(t, "the flusher to wait on the table lock", func() bool {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting > 0
	})
	return func() {
		storeMust(t, holder.Rollback(ctx))
		if err := <-blocked; err != nil {
			t.Errorf("the blocked read failed: %v", err)
		}
	}
}
