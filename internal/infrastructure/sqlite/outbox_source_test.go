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
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// TestReadAfterDeliversEveryCommittedEventOnceInOrder pages through the log
// with a small batch while writers keep committing, as the relay does: any
// event that committed behind the reader's position would be missing at the
// end or break an order's version sequence.
func TestReadAfterDeliversEveryCommittedEventOnceInOrder(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := t.Context()
	cmds := newCommands(s)
	const writers, ordersEach, itemsEach = 8, 4, 3
	const total = writers * ordersEach * (1 + itemsEach)

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			if err := writeOrders(ctx, cmds, fmt.Sprintf("user-%d", w), ordersEach, itemsEach); err != nil {
				t.Errorf("writer %d: %v", w, err)
			}
		})
	}
	seen, err := readUntil(ctx, s, total, 7, time.Minute)
	wg.Wait()
	must(t, err)

	lastVersion := map[order.ID]int{}
	ids := map[order.ID]bool{}
	for i, e := range seen {
		if i > 0 && !seen[i-1].Position.Less(e.Position) {
			t.Fatalf("event %d at %+v does not follow %+v", i, e.Position, seen[i-1].Position)
		}
		if e.Position.TxID != 0 || ids[e.EventID] {
			t.Fatalf("event %d: position %+v, duplicate=%v", i, e.Position, ids[e.EventID])
		}
		ids[e.EventID] = true
		if e.Version != lastVersion[e.OrderID]+1 {
			t.Fatalf("order %s: version %d follows %d", e.OrderID, e.Version, lastVersion[e.OrderID])
		}
		lastVersion[e.OrderID] = e.Version
	}
	if c := tableCounts(t, s); c.events != total || len(seen) != total {
		t.Fatalf("read %d events, the log holds %d, want %d", len(seen), c.events, total)
	}
	rest, err := s.ReadAfter(ctx, seen[len(seen)-1].Position, 7)
	if err != nil || len(rest) != 0 {
		t.Fatalf("ReadAfter past the end = %d events, %v", len(rest), err)
	}
}

func writeOrders(ctx context.Context, cmds *application.Commands, user string, orders, items int) error {
	meta := application.CommandMeta{Actor: application.Actor{ID: user}}
	for range orders {
		created, err := cmds.CreateOrder(ctx, createOrder(meta, user))
		if err != nil {
			return err
		}
		for i := range items {
			_, err := cmds.AddOrderItem(ctx, application.AddOrderItem{Meta: meta, OrderID: created.ID.String(),
				Item: application.NewItem{ProductID: fmt.Sprintf("extra-%d", i), ProductName: "Extra", Quantity: 1, UnitPrice: "0.50"}})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// readUntil pages through the log like the relay until it has want events,
// waiting for a commit signal (or a short poll) whenever it has caught up.
func readUntil(ctx context.Context, s *Store, want, batch int, patience time.Duration) ([]outbox.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	notes := s.Notifications(ctx)
	var seen []outbox.Event
	var after outbox.Position
	for len(seen) < want {
		events, err := s.ReadAfter(ctx, after, batch)
		if err != nil {
			return seen, fmt.Errorf("after %d of %d events: %w", len(seen), want, err)
		}
		if len(events) > batch {
			return seen, fmt.Errorf("ReadAfter returned %d events, limit %d", len(events), batch)
		}
		if len(events) > 0 {
			seen = append(seen, events...)
			after = events[len(events)-1].Position
			continue
		}
		select {
		case <-notes:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return seen, fmt.Errorf("read %d events, want %d: %w", len(seen), want, ctx.Err())
		}
	}
	return seen, nil
}

// TestReadAfterNeverSkipsALateCommit holds a transaction open after it took
// its positions and shows that nothing commits, and so nothing becomes
// readable, behind it: the next writer waits and takes later positions.
func TestReadAfterNeverSkipsALateCommit(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	ctx := t.Context()
	must(t, s.Append(ctx, f.commit(f.newOrder("user-1"), 0, "")))
	start, err := s.ReadAfter(ctx, outbox.Position{}, 10)
	must(t, err)
	checkpoint := start[len(start)-1].Position

	slow, fast := f.commit(f.newOrder("user-2"), 0, ""), f.commit(f.newOrder("user-3"), 0, "")
	inside, release := make(chan struct{}), make(chan struct{})
	slowDone, fastDone := make(chan error, 1), make(chan error, 1)
	go func() {
		slowDone <- s.write(ctx, func(tx *sql.Tx) error {
			p, err := eventlog.Prepare(slow)
			if err == nil {
				err = appendCommit(ctx, tx, p)
			}
			close(inside)
			<-release
			return err
		})
	}()
	<-inside
	go func() { fastDone <- s.Append(ctx, fast) }()

	// While the slow transaction is open, the reader sees nothing new and the
	// second writer has not committed.
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		events, err := s.ReadAfter(ctx, checkpoint, 10)
		must(t, err)
		if len(events) != 0 {
			t.Fatalf("read %d events while the first transaction was still open", len(events))
		}
	}
	select {
	case err := <-fastDone:
		t.Fatalf("the second Append finished (err %v) while the first held the writer", err)
	default:
	}
	close(release)
	must(t, <-slowDone)
	must(t, <-fastDone)

	events, err := s.ReadAfter(ctx, checkpoint, 10)
	must(t, err)
	if len(events) != 2 || events[0].OrderID != slow.OrderID || events[1].OrderID != fast.OrderID ||
		!events[0].Position.Less(events[1].Position) {
		t.Fatalf("after both commits read %+v, want the slow commit's event, then the fast one's", events)
	}
}

func TestCheckpointsRoundTrip(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := t.Context()
	if p, err := s.Checkpoint(ctx, "kafka"); err != nil || p != (outbox.Position{}) {
		t.Fatalf("Checkpoint before any save = %+v, %v; want the zero position", p, err)
	}
	for _, seq := range []int64{42, 43} {
		must(t, s.SaveCheckpoint(ctx, "kafka", outbox.Position{Seq: seq}))
		if p, err := s.Checkpoint(ctx, "kafka"); err != nil || p != (outbox.Position{Seq: seq}) {
			t.Fatalf("Checkpoint = %+v, %v; want seq %d", p, err, seq)
		}
	}
	must(t, s.SaveCheckpoint(ctx, "kafka", outbox.Position{Seq: 40})) // a late relay that lost its lease
	if p, err := s.Checkpoint(ctx, "kafka"); err != nil || p != (outbox.Position{Seq: 43}) {
		t.Fatalf("Checkpoint after saving an older position = %+v, %v; want it kept at 43", p, err)
	}
	if p, err := s.Checkpoint(ctx, "other"); err != nil || p != (outbox.Position{}) {
		t.Fatalf("another relay's checkpoint = %+v, %v; want the zero position", p, err)
	}
	if err := s.SaveCheckpoint(ctx, "kafka", outbox.Position{TxID: 7, Seq: 1}); err == nil {
		t.Fatal("a position with a transaction id was saved; SQLite positions have none")
	}
}

func TestBacklogAndParkedEvents(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	ctx := t.Context()
	first := f.newOrder("user-1")
	must(t, s.Append(ctx, f.commit(first, 0, "")))
	must(t, first.Confirm(f.tick()))
	must(t, s.Append(ctx, f.commit(first, 1, "")))
	must(t, s.Append(ctx, f.commit(f.newOrder("user-2"), 0, "")))
	events, err := s.ReadAfter(ctx, outbox.Position{}, 10)
	must(t, err)

	n, oldest, err := s.Backlog(ctx, outbox.Position{})
	must(t, err)
	if n != 3 || !oldest.Equal(events[0].OccurredAt) {
		t.Fatalf("Backlog from the start = %d, %v; want 3, %v", n, oldest, events[0].OccurredAt)
	}
	n, oldest, err = s.Backlog(ctx, events[0].Position)
	must(t, err)
	if n != 2 || !oldest.Equal(events[1].OccurredAt) {
		t.Fatalf("Backlog after the first = %d, %v; want 2, %v", n, oldest, events[1].OccurredAt)
	}
	n, oldest, err = s.Backlog(ctx, events[2].Position)
	must(t, err)
	if n != 0 || !oldest.IsZero() {
		t.Fatalf("Backlog at the end = %d, %v; want 0 and the zero time", n, oldest)
	}

	must(t, s.Park(ctx, events[1], "too large"))
	must(t, s.Park(ctx, events[1], "too large, again")) // a retried relay parks once
	must(t, s.Park(ctx, events[2], "invalid"))
	if n, err := s.ParkedCount(ctx); err != nil || n != 2 {
		t.Fatalf("ParkedCount = %d, %v; want 2", n, err)
	}
}

func TestNotificationsFireAfterEachCommit(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	notes := s.Notifications(ctx)
	requireNoSignal(t, notes, "before any Append")

	o := f.newOrder("user-1")
	must(t, s.Append(t.Context(), f.commit(o, 0, "")))
	requireSignal(t, notes, "after an Append")

	var conflict *order.ConcurrencyError
	if err := s.Append(t.Context(), f.commit(o, 0, "")); !errors.As(err, &conflict) {
		t.Fatalf("re-appending version 1: error = %v, want a conflict", err)
	}
	requireNoSignal(t, notes, "after a failed Append")

	for range 3 {
		must(t, s.Append(t.Context(), f.commit(f.newOrder("user-1"), 0, "")))
	}
	requireSignal(t, notes, "after three Appends")
	requireNoSignal(t, notes, "once the pending signal was taken (signals coalesce)")

	cancel()
	select {
	case _, open := <-notes:
		if open {
			t.Fatal("a signal arrived after the subscription ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the channel did not close when its context ended")
	}
}

func requireSignal(t *testing.T, notes <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-notes:
	case <-time.After(5 * time.Second):
		t.Fatalf("no signal %s", when)
	}
}

func requireNoSignal(t *testing.T, notes <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-notes:
		t.Fatalf("unexpected signal %s", when)
	default:
	}
}

func TestLeaseIsExclusivePerRelayAndEndsWithTheStore(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := t.Context()
	held, release, err := s.AcquireLease(ctx, "kafka")
	must(t, err)

	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := s.AcquireLease(waitCtx, "kafka"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second AcquireLease while held: error = %v, want it to wait until its deadline", err)
	}
	_, releaseOther, err := s.AcquireLease(ctx, "audit")
	must(t, err)
	releaseOther()

	release()
	if held.Err() == nil {
		t.Fatal("the held context is still alive after release")
	}
	held, release, err = s.AcquireLease(ctx, "kafka")
	must(t, err)
	defer release()

	must(t, s.Close())
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the lease outlived the store")
	}
	if _, _, err := s.AcquireLease(ctx, "kafka"); err == nil {
		t.Fatal("AcquireLease on a closed store succeeded")
	}
}
