//go:build integration

package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

// insertOutboxEvent writes one event row the way Append does (the transaction id
// and position come from the column defaults) and returns its id.
func insertOutboxEvent(t *testing.T, ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, orderID uuid.UUID, version int, at time.Time) order.ID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	err := db.QueryRow(ctx, `
INSERT INTO order_events (id, aggregate_id, event_type, data, user_id, timestamp, version,
  correlation_id, causation_id, trace_parent, service_name, cell_id)
VALUES ($1, $2, 'ShippingAddressChanged', $3, 'user-1', $4, $5, 'corr', 'cause', 'tp', 'order-service', 'cell-1')
RETURNING id`, id, orderID, `{"shipping_address": "somewhere"}`, at.UTC(), version).Scan(&id)
	if err != nil {
		t.Fatalf("insert event: %v", err)
	}
	return order.ID(id)
}

func newOutboxSource(t *testing.T) (*postgres.OutboxSource, *pgxpool.Pool) {
	pool := pgtest.NewMigratedPool(t)
	return postgres.NewOutboxSource(pool, slog.New(slog.NewTextHandler(io.Discard, nil))), pool
}

// readOutbox polls ReadAfter until it returns want events: the xmin horizon
// is cluster-wide, so a write transaction of any concurrent test, in any
// database, may hold events back for a moment.
func readOutbox(t *testing.T, src *postgres.OutboxSource, after outbox.Position, want int) []outbox.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond) // PostgreSQL has no event for "xmin moved"
	defer tick.Stop()
	for {
		got, err := src.ReadAfter(t.Context(), after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		<-tick.C
	}
}

func outboxEventIDs(events []outbox.Event) []order.ID {
	ids := make([]order.ID, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	return ids
}

func TestOutboxReadAfterWaitsForLateCommitInsteadOfSkippingIt(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx := t.Context()
	now := time.Now()

	// The early transaction takes the lower transaction id and position,
	// then commits after a later transaction did.
	early, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = early.Rollback(ctx) }()
	earlyID := insertOutboxEvent(t, ctx, early, uuid.New(), 1, now)
	lateID := insertOutboxEvent(t, ctx, pool, uuid.New(), 1, now)
	rolledBack, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insertOutboxEvent(t, ctx, rolledBack, uuid.New(), 1, now)
	if err := rolledBack.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	got, err := src.ReadAfter(ctx, outbox.Position{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		// A reader taking "position > last seen" would return the later
		// event now, checkpoint past the early one and never publish it.
		t.Fatalf("read %v while an earlier transaction was open: want nothing yet", outboxEventIDs(got))
	}
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got = readOutbox(t, src, outbox.Position{}, 2)
	if len(got) != 2 || got[0].EventID != earlyID || got[1].EventID != lateID {
		t.Fatalf("read %v, want [%s %s] (the rolled-back event never)", outboxEventIDs(got), earlyID, lateID)
	}
	if !got[0].Position.Less(got[1].Position) {
		t.Fatalf("positions %v then %v are not in publish order", got[0].Position, got[1].Position)
	}
	rest := readOutbox(t, src, got[0].Position, 1)
	if len(rest) != 1 || rest[0].EventID != lateID {
		t.Fatalf("read after the first = %v; want only %s", outboxEventIDs(rest), lateID)
	}
}

func TestOutboxReadAfterMapsEveryField(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx := t.Context()
	orderID := uuid.New()
	at := time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC)
	id := insertOutboxEvent(t, ctx, pool, orderID, 1, at)

	got := readOutbox(t, src, outbox.Position{}, 1)
	if len(got) != 1 {
		t.Fatalf("ReadAfter = %v", got)
	}
	e := got[0]
	md := e.Metadata
	switch {
	case e.EventID != id, e.OrderID != order.ID(orderID), e.Type != "ShippingAddressChanged", e.Version != 1:
		t.Errorf("identity = %+v", e)
	case !e.OccurredAt.Equal(at) || e.OccurredAt.Location() != time.UTC:
		t.Errorf("occurred at %v, want %v in UTC", e.OccurredAt, at)
	case !json.Valid(e.Data):
		t.Errorf("data %q is not JSON", e.Data)
	case md.ActorID != "user-1" || md.CorrelationID != "corr" || md.CausationID != "cause" || md.TraceParent != "tp" ||
		md.ServiceName != "order-service" || md.CellID != "cell-1" || md.SchemaVersion != 1 || md.RequestID != "":
		t.Errorf("metadata = %+v", md)
	case e.Position.TxID == 0 || e.Position.Seq == 0:
		t.Errorf("position = %v, want the row's transaction id and position", e.Position)
	}
}

func TestOutboxCheckpointOnlyMovesForward(t *testing.T) {
	src, _ := newOutboxSource(t)
	ctx := t.Context()

	if p, err := src.Checkpoint(ctx, "kafka"); err != nil || p != (outbox.Position{}) {
		t.Fatalf("fresh checkpoint = %v, %v; want zero", p, err)
	}
	p := outbox.Position{TxID: 900, Seq: 12}
	for _, save := range []outbox.Position{p, {TxID: 899, Seq: 50}, {TxID: 900, Seq: 11}} {
		if err := src.SaveCheckpoint(ctx, "kafka", save); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := src.Checkpoint(ctx, "kafka"); err != nil || got != p {
		t.Fatalf("checkpoint = %v, %v; want %v (older saves ignored)", got, err, p)
	}
	if other, _ := src.Checkpoint(ctx, "other"); other != (outbox.Position{}) {
		t.Fatalf("relay names share a checkpoint: %v", other)
	}
	next := outbox.Position{TxID: 901, Seq: 3}
	if err := src.SaveCheckpoint(ctx, "kafka", next); err != nil {
		t.Fatal(err)
	}
	if got, _ := src.Checkpoint(ctx, "kafka"); got != next {
		t.Fatalf("checkpoint = %v, want %v", got, next)
	}
}

func TestOutboxParkAndBacklog(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx := t.Context()
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	o := uuid.New()
	for v := 1; v <= 3; v++ {
		insertOutboxEvent(t, ctx, pool, o, v, base.Add(time.Duration(v)*time.Minute))
	}
	events := readOutbox(t, src, outbox.Position{}, 3)
	if len(events) != 3 {
		t.Fatalf("ReadAfter = %d events, want 3", len(events))
	}

	n, oldest, err := src.Backlog(ctx, outbox.Position{})
	if err != nil || n != 3 || !oldest.Equal(base.Add(time.Minute)) {
		t.Fatalf("Backlog(start) = %d, %v, %v; want 3 from %v", n, oldest, err, base.Add(time.Minute))
	}
	n, oldest, err = src.Backlog(ctx, events[2].Position)
	if err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("Backlog(end) = %d, %v, %v; want 0 and the zero time", n, oldest, err)
	}

	for range 2 { // parking twice (a retried batch) keeps one record
		if err := src.Park(ctx, events[1], "MESSAGE_TOO_LARGE"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := src.ParkedCount(ctx); err != nil || n != 1 {
		t.Fatalf("ParkedCount = %d, %v; want 1", n, err)
	}
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

func TestOutboxNotificationsSurviveAReconnect(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx, cancel := context.WithCancel(t.Context())
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

	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel still open 5s after ctx ended")
		}
	}
}

func TestOutboxLeaseIsExclusiveAndMovesWhenItsConnectionBreaks(t *testing.T) {
	src, pool := newOutboxSource(t)
	ctx := t.Context()

	heldA, releaseA, err := src.AcquireLease(ctx, "kafka")
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	if _, _, err := src.AcquireLease(short, "kafka"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second AcquireLease = %v while the lease is held, want it to wait until ctx ends", err)
	}
	heldOther, releaseOther, err := src.AcquireLease(ctx, "other-relay")
	if err != nil {
		t.Fatalf("a relay of another name must not wait: %v", err)
	}
	releaseOther()
	if heldOther.Err() == nil {
		t.Fatal("released lease's context still alive")
	}

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
