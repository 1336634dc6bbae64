//go:build integration

package postgres_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/outbox/sourcetest"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

func TestOutboxSourceContract(t *testing.T) {
	t.Parallel()
	sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
		src, pool := newOutboxSource(t)
		return sourcetest.Harness{Source: src, Store: postgres.NewOrderStore(pool), Hold: func(t *testing.T, c application.Commit) func(bool) error {
			return holdAppend(t, pool, c)
		}}
	}, sourcetest.Features{TransactionIDs: true})
}

// holdAppend writes the commit in a transaction left open: it has taken its
// transaction id and positions, and commits (or rolls back) only when told.
func holdAppend(t *testing.T, pool *pgxpool.Pool, c application.Commit) func(commit bool) error {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
	if err := postgres.AppendInTx(ctx, tx, c); err != nil {
		t.Fatal(err)
	}
	return func(commit bool) error {
		if commit {
			return tx.Commit(ctx)
		}
		return tx.Rollback(ctx)
	}
}

func newOutboxSource(t *testing.T) (*postgres.OutboxSource, *pgxpool.Pool) {
	pool := pgtest.NewMigratedPool(t)
	return postgres.NewOutboxSource(pool, slog.New(slog.DiscardHandler)), pool
}

// receiveSignal waits for a signal on ch, failing the test after within.
func receiveSignal(t *testing.T, ch <-chan struct{}, within time.Duration, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
	case <-time.After(within):
		t.Fatalf("%s: no signal within %s", what, within)
	}
}

// drainSignal empties a pending signal, so the next receive sees a new one.
func drainSignal(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// terminateSessions ends the server sessions that the query selects (by pid), as a
// broken connection would, and reports how many it ended.
func terminateSessions(t *testing.T, pool *pgxpool.Pool, pids string, args ...any) int {
	t.Helper()
	var n int
	err := pool.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM (`+pids+`) victims`, args...).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// listenerPIDs selects the sessions listening for notifications.
const listenerPIDs = `SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`

// leaseHolderPIDs selects the session holding a relay's advisory lock.
const leaseHolderPIDs = `SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((classid::bigint << 32) | objid::bigint) = $1`

// The suite shows notifications following commits; here the listening
// connection breaks.
func TestOutboxNotificationsSurviveAReconnect(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx := t.Context()
	ch := src.Notifications(ctx)
	receiveSignal(t, ch, 5*time.Second, "signal after LISTEN")

	notify := func() {
		if _, err := pool.Exec(ctx, `SELECT pg_notify($1, '')`, postgres.NotifyChannel); err != nil {
			t.Fatal(err)
		}
	}
	notify()
	receiveSignal(t, ch, 5*time.Second, "signal after NOTIFY")

	if n := terminateSessions(t, pool, listenerPIDs); n != 1 {
		t.Fatalf("terminated %d listener sessions, want 1", n)
	}
	receiveSignal(t, ch, 5*time.Second, "signal after the reconnect")
	drainSignal(ch)
	notify()
	receiveSignal(t, ch, 5*time.Second, "signal after NOTIFY on the new connection")
}

// The suite shows the lease exclusive; here its connection breaks.
func TestOutboxLeaseMovesWhenItsConnectionBreaks(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx := t.Context()
	heldA, releaseA, err := src.AcquireLease(ctx, "kafka")
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()

	// B waits; A's connection breaks: A learns it lost the lease, B gets it.
	type lease struct {
		held    context.Context
		release func()
		err     error
	}
	gotB := make(chan lease, 1)
	go func() {
		h, r, err := src.AcquireLease(ctx, "kafka")
		gotB <- lease{h, r, err}
	}()
	broke := time.Now()
	if n := terminateSessions(t, pool, leaseHolderPIDs, postgres.LeaseKey("kafka")); n < 1 {
		t.Fatalf("terminated %d lease sessions, want 1", n)
	}
	select {
	case <-heldA.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("A's lease context still alive 5s after its connection broke")
	}
	select {
	case b := <-gotB:
		if b.err != nil {
			t.Fatal(b.err)
		}
		defer b.release()
		t.Logf("lease moved %s after the connection broke", time.Since(broke))
		if time.Since(broke) > 5*time.Second {
			t.Fatalf("failover took %s, want under 5s", time.Since(broke))
		}
		if b.held.Err() != nil {
			t.Fatal("B's lease context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B did not get the lease within 5s of A's connection breaking")
	}
}
