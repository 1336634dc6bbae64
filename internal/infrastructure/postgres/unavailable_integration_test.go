//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/postgres"
)

// Failures of the database or the way to it reach the application as
// ErrUnavailable, which it reports as UNAVAILABLE: retry later.
func TestTransientFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	store, pool := newTestStore(t)
	ctx := t.Context()
	existing := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(existing, 0, "")))

	t.Run("server unreachable", func(t *testing.T) {
		down := postgres.NewOrderStore(unreachablePool(t))
		err := down.Append(ctx, storeCommit(storeOrder(t, "user-1"), 0, ""))
		var connectErr *pgconn.ConnectError
		if !errors.Is(err, application.ErrUnavailable) || !errors.As(err, &connectErr) {
			t.Fatalf("Append = %v, want ErrUnavailable wrapping a connect error", err)
		}
		if _, err := down.GetOrder(ctx, existing.ID()); !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("GetOrder = %v, want ErrUnavailable", err)
		}
		if _, _, err := down.FindRequest(ctx, "user-1", "req"); !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("FindRequest = %v, want ErrUnavailable", err)
		}
	})

	t.Run("backend terminated", func(t *testing.T) {
		single := singleConnPool(t, pool)
		terminateOnlyBackend(t, pool, single)
		s := postgres.NewOrderStore(single)
		err := s.Append(ctx, storeCommit(storeOrder(t, "user-1"), 0, ""))
		if !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("Append on a terminated connection = %v, want ErrUnavailable", err)
		}
		// The pool replaces the connection: the retry the error invites works.
		storeMust(t, s.Append(ctx, storeCommit(storeOrder(t, "user-1"), 0, "")))
	})

	t.Run("blocked past the deadline", func(t *testing.T) {
		holder, err := pool.Begin(ctx)
		storeMust(t, err)
		defer func() { _ = holder.Rollback(context.WithoutCancel(ctx)) }()
		_, err = holder.Exec(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, existing.ID())
		storeMust(t, err)

		history, err := store.Load(ctx, existing.ID())
		storeMust(t, err)
		o := storeRehydrate(t, history)
		storeMust(t, o.Confirm(time.Now()))
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err = store.Append(short, storeCommit(o, 1, ""))
		if !errors.Is(err, application.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Append blocked on a row lock past its deadline = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
		if n := len(storeEventVersions(t, pool, existing.ID())); n != 1 {
			t.Fatalf("order has %d events after the timed-out append, want 1", n)
		}
	})

	t.Run("pool closed", func(t *testing.T) {
		closed := singleConnPool(t, pool)
		closed.Close()
		err := postgres.NewOrderStore(closed).Append(ctx, storeCommit(storeOrder(t, "user-1"), 0, ""))
		if !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("Append on a closed pool = %v, want ErrUnavailable", err)
		}
	})

	t.Run("caller gave up", func(t *testing.T) {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		err := store.Append(cancelled, storeCommit(storeOrder(t, "user-1"), 0, ""))
		if !errors.Is(err, context.Canceled) || errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("Append with a cancelled context = %v, want context.Canceled and not ErrUnavailable", err)
		}
	})
}

// unreachablePool points at a local port nothing listens on.
func unreachablePool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	storeMust(t, err)
	addr := l.Addr().String()
	storeMust(t, l.Close())
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://postgres@%s/none?sslmode=disable&connect_timeout=5", addr))
	storeMust(t, err)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg) // connects lazily
	storeMust(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// singleConnPool opens a one-connection pool on the same database that
// hands out its connection without a liveness ping, so a dead connection
// reaches the store.
func singleConnPool(t *testing.T, like *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(like.Config().ConnString())
	storeMust(t, err)
	cfg.MaxConns = 1
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	storeMust(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// terminateOnlyBackend ends the server process behind target's connection,
// as an administrator or a failover would, and waits until it is gone.
func terminateOnlyBackend(t *testing.T, admin, target *pgxpool.Pool) {
	t.Helper()
	var pid int32
	storeMust(t, target.QueryRow(t.Context(), `SELECT pg_backend_pid()`).Scan(&pid))
	var ok bool
	storeMust(t, admin.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&ok))
	if !ok {
		t.Fatalf("pg_terminate_backend(%d) = false", pid)
	}
	storeWaitFor(t, func() bool {
		var alive bool
		err := admin.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&alive)
		return err == nil && !alive
	}, fmt.Sprintf("backend %d to exit", pid))
}
