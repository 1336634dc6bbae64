//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/infrastructure/system"
)

// newTestStore gives a test a store on a fresh, migrated database of its own.
func newTestStore(t *testing.T) (*postgres.OrderStore, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.NewMigratedPool(t)
	return postgres.NewOrderStore(pool), pool
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Ports {
		store, _ := newTestStore(t)
		return porttest.Ports{Store: store, Read: store, Requests: store}
	})
}

// storeOrder builds a new order with two lines, in memory only.
func storeOrder(t *testing.T, user string, itemIDs ...order.ID) *order.Order {
	t.Helper()
	ids := system.UUIDv7{}
	for len(itemIDs) < 2 {
		itemIDs = append(itemIDs, ids.NewID())
	}
	price, err := order.ParseMoney("unit_price", "12.50", "EUR")
	storeMust(t, err)
	a, err := order.NewLineItem(itemIDs[0], "sku-a", "Anvil", 2, price)
	storeMust(t, err)
	b, err := order.NewLineItem(itemIDs[1], "sku-b", "Bucket", 1, price)
	storeMust(t, err)
	o, err := order.Create(ids.NewID(), order.UserID(user), "EUR", apptest.Address(t, "1 Main St"), []order.LineItem{a, b}, time.Now().UTC().Truncate(time.Microsecond))
	storeMust(t, err)
	return o
}

// storeCommit is the commit of the order's pending events decided at `from`.
func storeCommit(o *order.Order, from int, requestID string) application.Commit {
	return apptest.NewCommit(o, from, requestID, system.UUIDv7{}, time.Now())
}

// Append must wake the outbox relay, and only once the events are visible.
func TestAppendNotifiesRelay(t *testing.T) {
	t.Parallel()
	store, pool := newTestStore(t)
	ctx := t.Context()
	conn, err := pool.Acquire(ctx)
	storeMust(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{postgres.NotifyChannel}.Sanitize())
	storeMust(t, err)

	o := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(o, 0, "")))

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(waitCtx)
	if err != nil {
		t.Fatalf("no notification on %q after Append: %v", postgres.NotifyChannel, err)
	}
	var events int
	storeMust(t, pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE aggregate_id = $1`, o.ID()).Scan(&events))
	if n.Channel != postgres.NotifyChannel || events != 1 {
		t.Fatalf("notification on %q with %d events visible, want %q and 1", n.Channel, events, postgres.NotifyChannel)
	}
}

// A commit that fails after its events were inserted leaves no trace in any
// table: not the events, not the projection, not the idempotency record.
func TestAppendFailureLeavesNoTrace(t *testing.T) {
	t.Parallel()
	store, pool := newTestStore(t)
	ctx := t.Context()
	existing := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(existing, 0, "req-existing")))

	t.Run("projection not at the expected version", func(t *testing.T) {
		// A writer that believes the order is at version 2 although the log
		// stops at 1: its event (version 3) inserts without a key conflict,
		// then the guarded UPDATE of orders matches no row.
		history, err := store.Load(ctx, existing.ID())
		storeMust(t, err)
		ahead := storeRehydrate(t, history)
		storeMust(t, ahead.Confirm(time.Now()))
		storeMust(t, ahead.Cancel("never stored", time.Now()))
		before := storeDigest(t, pool)
		err = store.Append(ctx, storeCommit(ahead, 2, "req-ahead"))
		var conflict *order.ConcurrencyError
		if !errors.As(err, &conflict) || conflict.ExpectedVersion != 2 {
			t.Fatalf("Append = %v, want *order.ConcurrencyError at expected version 2", err)
		}
		storeSameDigest(t, before, storeDigest(t, pool))
	})

	t.Run("line id already taken", func(t *testing.T) {
		// A new order whose line id collides with one already stored: the
		// idempotency record, the event and the orders row are written
		// before order_items rejects the line.
		taken := existing.State().Items[0].ID()
		collide := storeOrder(t, "user-2", system.UUIDv7{}.NewID(), taken)
		before := storeDigest(t, pool)
		err := store.Append(ctx, storeCommit(collide, 0, "req-collide"))
		var conflict *order.ConcurrencyError
		if err == nil || errors.As(err, &conflict) || errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("Append = %v, want a plain failure", err)
		}
		storeSameDigest(t, before, storeDigest(t, pool))
	})
}

// Expired idempotency records go in batches until none is left; fresh ones
// stay.
func TestDeleteRequestsBeforeRemovesAllExpired(t *testing.T) {
	t.Parallel()
	store, pool := newTestStore(t)
	ctx := t.Context()
	cutoff := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_, err := pool.Exec(ctx, `
		INSERT INTO idempotency_keys (scope, request_id, fingerprint, order_id, version, created_at)
		SELECT 'user-1', 'req-' || n, '\x00', gen_random_uuid(), 1, $1::timestamptz + (n - 2600) * interval '1 second'
		FROM generate_series(1, 2600) AS n`, cutoff)
	storeMust(t, err)

	removed, err := store.DeleteRequestsBefore(ctx, cutoff)
	storeMust(t, err)
	var left int
	storeMust(t, pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&left))
	if removed != 2599 || left != 1 {
		t.Fatalf("removed %d, left %d; want 2599 removed and the record at the cut-off left", removed, left)
	}
}

// storeDigest fingerprints every table an Append writes.
func storeDigest(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	digest := map[string]string{}
	for _, table := range []string{"orders", "order_items", "order_events", "idempotency_keys"} {
		var sum string
		err := pool.QueryRow(t.Context(),
			`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+table+` t`).Scan(&sum)
		storeMust(t, err)
		digest[table] = sum
	}
	return digest
}

func storeSameDigest(t *testing.T, before, after map[string]string) {
	t.Helper()
	for table, sum := range before {
		if after[table] != sum {
			t.Errorf("table %s changed: %s, was %s", table, after[table], sum)
		}
	}
}

func storeMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func storeRehydrate(t *testing.T, history []order.Event) *order.Order {
	t.Helper()
	o, err := order.Rehydrate(history)
	storeMust(t, err)
	return o
}
