package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

func TestFailedAppendLeavesNothing(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	ctx := t.Context()
	existing := f.NewOrder("user-1")
	must(t, s.Append(ctx, f.Commit(existing, 0, "req-1")))

	dupItems := f.NewOrder("user-1")
	brokenState := f.Commit(dupItems, 0, "req-broken") // its request id is written first, then undone
	brokenState.State.Items = append(brokenState.State.Items, brokenState.State.Items[0])

	ahead := f.NewOrder("user-1")
	must(t, s.Append(ctx, f.Commit(ahead, 0, "")))
	must(t, ahead.Confirm(f.Tick()))
	must(t, ahead.Cancel("changed my mind", f.Tick()))
	gap := f.Commit(ahead, 2, "") // decided on version 2; the log is at 1

	tests := []struct {
		name   string
		commit application.Commit
		check  func(error) bool
	}{
		// Fails on the first statement, the request id.
		{"duplicate request id", f.Commit(f.NewOrder("user-1"), 0, "req-1"), func(err error) bool {
			return errors.Is(err, application.ErrDuplicateRequest)
		}},
		// Fails in the middle, on UNIQUE (order_id, product_id).
		{"invalid projection", brokenState, func(err error) bool {
			var conflict *order.ConcurrencyError
			return err != nil && !errors.As(err, &conflict) && !errors.Is(err, application.ErrDuplicateRequest)
		}},
		// Version 3 clashes with no event; only the projection guard stops it.
		{"expected version ahead of the log", gap, func(err error) bool {
			var conflict *order.ConcurrencyError
			return errors.As(err, &conflict) && conflict.OrderID == ahead.ID() && conflict.ExpectedVersion == 2
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tableCounts(t, s)
			if err := s.Append(ctx, tc.commit); !tc.check(err) {
				t.Fatalf("Append(%s) error = %v", describe(tc.commit), err)
			}
			if after := tableCounts(t, s); after != before {
				t.Fatalf("a failed Append changed the tables: %+v, before %+v", after, before)
			}
		})
	}
	got, err := s.GetOrder(ctx, ahead.ID())
	must(t, err)
	if got.Version != 1 || got.Status != order.StatusPending {
		t.Fatalf("order behind the refused commit: version %d %s, want 1 PENDING", got.Version, got.Status)
	}
}

type counts struct{ events, orders, items, requests, maxPosition int64 }

func tableCounts(t *testing.T, s *EmbeddedStore) counts {
	t.Helper()
	var c counts
	err := s.db.QueryRowContext(t.Context(), `SELECT
		(SELECT count(*) FROM order_events), (SELECT count(*) FROM orders),
		(SELECT count(*) FROM order_items), (SELECT count(*) FROM idempotency_keys),
		(SELECT coalesce(max(position), 0) FROM order_events)`).
		Scan(&c.events, &c.orders, &c.items, &c.requests, &c.maxPosition)
	must(t, err)
	return c
}

func TestConcurrentCommandsOnOneOrderKeepVersionsContiguous(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := t.Context()
	cmds := newCommands(s)
	actor := application.Actor{ID: "user-1"}
	created, err := cmds.CreateOrder(ctx, createOrder(application.CommandMeta{Actor: actor}, "user-1"))
	must(t, err)

	const racers = 16
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = cmds.AddOrderItem(ctx, application.AddOrderItem{
				Meta:    application.CommandMeta{Actor: actor, RequestID: fmt.Sprintf("add-%d", i)},
				OrderID: created.ID.String(),
				Item:    application.NewItem{ProductID: fmt.Sprintf("sku-%d", i+1), ProductName: "Racer", Quantity: 1, UnitPrice: "1.00"},
			})
		})
	}
	wg.Wait()
	must(t, errors.Join(errs...))

	history, err := s.Load(ctx, created.ID)
	must(t, err)
	for i, e := range history {
		if e.Header().Version != i+1 {
			t.Fatalf("event %d has version %d: versions are not contiguous", i, e.Header().Version)
		}
	}
	if len(history) != racers+1 {
		t.Fatalf("%d events, want %d", len(history), racers+1)
	}
	rebuilt, err := order.Rehydrate(history)
	must(t, err)
	projected, err := s.GetOrder(ctx, created.ID)
	must(t, err)
	if projected.Version != history[len(history)-1].Header().Version || len(projected.Items) != racers+1 {
		t.Fatalf("projection at version %d with %d items, want %d with %d", projected.Version, len(projected.Items), racers+1, racers+1)
	}
	if diff := projected.Diff(rebuilt.State()); len(diff) > 0 {
		t.Fatalf("projection differs from the replayed history: %v", diff)
	}
	seen := map[int]bool{}
	for i := range racers {
		rec, found, err := s.FindRequest(ctx, "user-1", fmt.Sprintf("add-%d", i))
		if err != nil || !found || seen[rec.Version] {
			t.Fatalf("request add-%d: %+v, found=%v, err=%v (versions seen %v)", i, rec, found, err, seen)
		}
		seen[rec.Version] = true
	}
}

func TestAppendReportsLockContentionAsUnavailable(t *testing.T) {
	cfg := defaultConfig()
	cfg.busyTimeout = 50 * time.Millisecond
	s, path := openTestStoreWith(t, cfg)
	f := newFixture(t)
	ctx := t.Context()

	t.Run("writer slot taken in process", func(t *testing.T) {
		s.writer <- struct{}{}
		err := s.Append(ctx, f.Commit(f.NewOrder("user-1"), 0, ""))
		<-s.writer
		if !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("Append while the writer slot is taken: error = %v, want ErrUnavailable", err)
		}
	})
	t.Run("database locked by a foreign writer", func(t *testing.T) {
		// A connection that bypasses the lock file, as a misbehaving tool would.
		foreign, err := sql.Open("sqlite", path)
		must(t, err)
		defer foreign.Close()
		conn, err := foreign.Conn(ctx)
		must(t, err)
		defer conn.Close()
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		must(t, err)
		err = s.Append(ctx, f.Commit(f.NewOrder("user-1"), 0, ""))
		if !errors.Is(err, application.ErrUnavailable) {
			t.Fatalf("Append while another connection holds the write lock: error = %v, want ErrUnavailable", err)
		}
		_, err = conn.ExecContext(ctx, "ROLLBACK")
		must(t, err)
	})
	t.Run("works again once the lock is free", func(t *testing.T) {
		must(t, s.Append(ctx, f.Commit(f.NewOrder("user-1"), 0, "")))
	})
}

func TestAppendHonoursCancelledContext(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.Append(ctx, f.Commit(f.NewOrder("user-1"), 0, ""))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context: error = %v, want context.Canceled", err)
	}
	if events, err := s.ReadAfter(t.Context(), outbox.Position{}, 10); err != nil || len(events) != 0 {
		t.Fatalf("after a cancelled Append the log holds %d events (err %v), want 0", len(events), err)
	}
}

// BenchmarkAppendCreateOrder measures one CreateOrder-shaped commit (one
// event, one order row, one item row, one idempotency record) per operation,
// fsync included. Run with -cpu to vary the number of concurrent writers.
func BenchmarkAppendCreateOrder(b *testing.B) {
	s, err := Open(b.Context(), b.TempDir()+"/orders.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cmds := newCommands(s)
	b.RunParallel(func(pb *testing.PB) {
		meta := application.CommandMeta{Actor: application.Actor{ID: "bench", Role: application.RoleAdmin}}
		for i := 0; pb.Next(); i++ {
			meta.RequestID = fmt.Sprintf("%p-%d", pb, i)
			if _, err := cmds.CreateOrder(b.Context(), createOrder(meta, "bench")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
