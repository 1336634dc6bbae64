// Package sourcetest is the contract suite of outbox.Source. Every adapter
// (PostgreSQL, SQLite) runs the same suite, so they cannot drift apart: call
// Run from a test in the adapter's package. Where adapters legitimately
// differ, Features says how.
package sourcetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// patience bounds every wait of the suite. PostgreSQL publishes only behind
// the server-wide xmin horizon, so a write transaction of anyone else on the
// server may hold events back for a while.
const patience = 30 * time.Second

// Harness is one adapter's outbox source over a fresh, empty log.
type Harness struct {
	Source outbox.Source
	// Store appends to the log Source reads.
	Store application.EventStore
	// Hold writes a commit as Append does inside a transaction it keeps
	// open (having taken the events' positions) until finish is called,
	// which commits it, or rolls it back when commit is false. Hold returns
	// once the rows are written.
	Hold func(t *testing.T, c application.Commit) (finish func(commit bool) error)
}

// Features are the ways an adapter's positions and writers legitimately
// differ.
type Features struct {
	// TransactionIDs: a position carries the id of the transaction that wrote
	// the event (PostgreSQL). Without it TxID is always 0 and a position
	// with one, from another store, is refused.
	TransactionIDs bool
	// SerialWriters: a transaction held open holds every other writer back
	// (SQLite's single writer). Without it other writers commit meanwhile,
	// and only the reader waits for the held one.
	SerialWriters bool
}

// Run runs the whole contract against fresh harnesses from newHarness.
func Run(t *testing.T, newHarness func(t *testing.T) Harness, features Features) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *suite)
	}{
		{"read after maps every field", readMapsEveryField},
		{"read after delivers every committed event once, in order, while writers commit", readDeliversEveryEventOnce},
		{"read after never skips a late commit", readNeverSkipsALateCommit},
		{"checkpoints are per relay and only move forward", checkpointsOnlyMoveForward},
		{"backlog counts what lies after a position", backlog},
		{"parking an event again keeps one record", parking},
		{"notifications follow commits and end with their context", notifications},
		{"the lease is exclusive per relay", leaseIsExclusive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, &suite{Harness: newHarness(t), features: features, f: apptest.NewOrders(t, 1)})
		})
	}
}

type suite struct {
	Harness
	features Features
	f        *apptest.Orders
}

// appendNew stores a new order of the user and returns its commit.
func (s *suite) appendNew(t *testing.T, user string) application.Commit {
	t.Helper()
	c := s.f.Commit(s.f.NewOrder(user), 0, "")
	must(t, s.Store.Append(t.Context(), c))
	return c
}

// readUntil pages through the log after the position, batch events at a
// time, until it has want events (or patience runs out); it checks that
// every page keeps to its limit.
func (s *suite) readUntil(t *testing.T, after outbox.Position, want, batch int) []outbox.Event {
	t.Helper()
	deadline := time.Now().Add(patience)
	tick := time.NewTicker(10 * time.Millisecond) // there is no event for "xmin moved"
	defer tick.Stop()
	var seen []outbox.Event
	for len(seen) < want {
		events, err := s.Source.ReadAfter(t.Context(), after, batch)
		must(t, err)
		if len(events) > batch {
			t.Fatalf("ReadAfter returned %d events, limit %d", len(events), batch)
		}
		if len(events) > 0 {
			seen = append(seen, events...)
			after = events[len(events)-1].Position
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d events in %s, want %d", len(seen), patience, want)
		}
		<-tick.C
	}
	return seen
}

// position is a position of this adapter's kind.
func (s *suite) position(txID uint64, seq int64) outbox.Position {
	if !s.features.TransactionIDs {
		txID = 0
	}
	return outbox.Position{TxID: txID, Seq: seq}
}

func readMapsEveryField(t *testing.T, s *suite) {
	full := s.f.Commit(s.f.NewOrder("user-1"), 0, "req-1")
	bare := s.f.Commit(s.f.NewOrder("user-2"), 0, "")
	md := &bare.Events[0].Metadata
	md.CorrelationID, md.CausationID, md.TraceParent = "", "", "" // optional metadata left out
	var want []application.EventRecord
	for _, c := range []application.Commit{full, bare} {
		p, err := eventlog.Prepare(c)
		must(t, err)
		must(t, s.Store.Append(t.Context(), c))
		want = append(want, p.Records...)
	}

	got := s.readUntil(t, outbox.Position{}, len(want), 10)
	for i, e := range got {
		w := want[i]
		switch {
		case e.EventID != w.EventID || e.OrderID != w.OrderID || e.Type != w.Type || e.Version != w.Version:
			t.Errorf("event %d = %s %s v%d of %s, want %s %s v%d of %s", i, e.EventID, e.Type, e.Version, e.OrderID, w.EventID, w.Type, w.Version, w.OrderID)
		case !e.OccurredAt.Equal(w.OccurredAt) || e.OccurredAt.Location() != time.UTC:
			t.Errorf("event %d occurred at %v, want %v in UTC", i, e.OccurredAt, w.OccurredAt)
		case !sameJSON(e.Data, w.Data):
			t.Errorf("event %d data = %s, want %s", i, e.Data, w.Data)
		case e.Metadata != w.Metadata:
			t.Errorf("event %d metadata = %+v, want %+v", i, e.Metadata, w.Metadata)
		case e.Position.Seq <= 0 || (e.Position.TxID != 0) != s.features.TransactionIDs:
			t.Errorf("event %d position = %+v (transaction ids: %v)", i, e.Position, s.features.TransactionIDs)
		}
	}
}

// readDeliversEveryEventOnce pages through the log with a small batch while
// writers keep committing, as the relay does: an event that committed
// behind the reader's position would be missing at the end or break an
// order's version sequence.
func readDeliversEveryEventOnce(t *testing.T, s *suite) {
	const writers, ordersEach, itemsEach = 4, 3, 2
	const total = writers * ordersEach * (1 + itemsEach)
	commits := make([][]application.Commit, writers) // built up front: apptest.Orders is not concurrent
	for w := range commits {
		for range ordersEach {
			o := s.f.NewOrder(fmt.Sprintf("user-%d", w))
			commits[w] = append(commits[w], s.f.Commit(o, 0, ""))
			for i := range itemsEach {
				must(t, o.AddItem(s.f.Item(fmt.Sprintf("extra-%d", i), 1, "0.50"), s.f.Tick()))
				commits[w] = append(commits[w], s.f.Commit(o, o.Version()-1, ""))
			}
		}
	}
	var wg sync.WaitGroup
	for w := range commits {
		wg.Go(func() {
			for _, c := range commits[w] {
				if err := s.Store.Append(t.Context(), c); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	seen := s.readUntil(t, outbox.Position{}, total, 5)
	wg.Wait()

	lastVersion := map[order.ID]int{}
	ids := map[order.ID]bool{}
	for i, e := range seen {
		if i > 0 && !seen[i-1].Position.Less(e.Position) {
			t.Fatalf("event %d at %+v does not follow %+v", i, e.Position, seen[i-1].Position)
		}
		if ids[e.EventID] {
			t.Fatalf("event %d (%s) delivered twice", i, e.EventID)
		}
		ids[e.EventID] = true
		if e.Version != lastVersion[e.OrderID]+1 {
			t.Fatalf("order %s: version %d follows %d", e.OrderID, e.Version, lastVersion[e.OrderID])
		}
		lastVersion[e.OrderID] = e.Version
	}
	if len(seen) != total {
		t.Fatalf("read %d events, want %d", len(seen), total)
	}
	rest, err := s.Source.ReadAfter(t.Context(), seen[len(seen)-1].Position, 5)
	if err != nil || len(rest) != 0 {
		t.Fatalf("ReadAfter past the end = %d events, %v; want none", len(rest), err)
	}
}

// readNeverSkipsALateCommit holds a transaction open after it took its
// positions while a later writer commits (or, with serial writers, waits):
// the reader must return neither until the held one committed, then both in
// order; a rolled-back transaction's events never appear.
func readNeverSkipsALateCommit(t *testing.T, s *suite) {
	ctx := t.Context()
	s.appendNew(t, "user-1")
	checkpoint := s.readUntil(t, outbox.Position{}, 1, 10)[0].Position

	slow := s.f.Commit(s.f.NewOrder("user-2"), 0, "")
	fast := s.f.Commit(s.f.NewOrder("user-3"), 0, "")
	finishSlow := s.Hold(t, slow)
	fastDone := make(chan error, 1)
	go func() { fastDone <- s.Store.Append(ctx, fast) }()
	if !s.features.SerialWriters {
		must(t, <-fastDone) // the later transaction has committed
	}

	// A reader taking "position > last seen" would return the fast commit
	// now, checkpoint past the slow one and never publish it.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); <-tick.C {
		events, err := s.Source.ReadAfter(ctx, checkpoint, 10)
		must(t, err)
		if len(events) != 0 {
			t.Fatalf("read %d events while an earlier transaction was still open", len(events))
		}
	}
	if s.features.SerialWriters {
		select {
		case err := <-fastDone:
			t.Fatalf("the second Append finished (err %v) while the first held the writer", err)
		default:
		}
	}
	must(t, finishSlow(true))
	if s.features.SerialWriters {
		must(t, <-fastDone)
	}
	events := s.readUntil(t, checkpoint, 2, 10)
	if len(events) != 2 || events[0].OrderID != slow.OrderID || events[1].OrderID != fast.OrderID {
		t.Fatalf("after both commits read orders %v, want the slow commit's %s, then the fast one's %s", orderIDs(events), slow.OrderID, fast.OrderID)
	}

	finishGhost := s.Hold(t, s.f.Commit(s.f.NewOrder("user-4"), 0, ""))
	must(t, finishGhost(false))
	after := s.appendNew(t, "user-5")
	rest := s.readUntil(t, events[1].Position, 1, 10)
	if len(rest) != 1 || rest[0].OrderID != after.OrderID {
		t.Fatalf("after a rollback read orders %v, want only %s", orderIDs(rest), after.OrderID)
	}
}

func checkpointsOnlyMoveForward(t *testing.T, s *suite) {
	ctx := t.Context()
	if p, err := s.Source.Checkpoint(ctx, "kafka"); err != nil || p != (outbox.Position{}) {
		t.Fatalf("Checkpoint before any save = %+v, %v; want the zero position", p, err)
	}
	saved := s.position(900, 12)
	// Older saves (a late relay that lost its lease) are ignored.
	for _, p := range []outbox.Position{saved, s.position(899, 50), s.position(900, 11)} {
		must(t, s.Source.SaveCheckpoint(ctx, "kafka", p))
	}
	if !s.features.TransactionIDs {
		saved = s.position(0, 50) // positions are compared by Seq alone
	}
	if p, err := s.Source.Checkpoint(ctx, "kafka"); err != nil || p != saved {
		t.Fatalf("Checkpoint = %+v, %v; want %+v", p, err, saved)
	}
	if p, err := s.Source.Checkpoint(ctx, "other"); err != nil || p != (outbox.Position{}) {
		t.Fatalf("another relay's checkpoint = %+v, %v; want the zero position", p, err)
	}
	next := s.position(901, 51)
	must(t, s.Source.SaveCheckpoint(ctx, "kafka", next))
	if p, err := s.Source.Checkpoint(ctx, "kafka"); err != nil || p != next {
		t.Fatalf("Checkpoint = %+v, %v; want %+v", p, err, next)
	}
	if s.features.TransactionIDs {
		return
	}
	foreign := outbox.Position{TxID: 7, Seq: 1}
	if err := s.Source.SaveCheckpoint(ctx, "kafka", foreign); err == nil {
		t.Fatal("a position with a transaction id was saved; this store's positions have none")
	}
	if _, err := s.Source.ReadAfter(ctx, foreign, 10); err == nil {
		t.Fatal("ReadAfter accepted a position with a transaction id")
	}
	if _, _, err := s.Source.Backlog(ctx, foreign); err == nil {
		t.Fatal("Backlog accepted a position with a transaction id")
	}
}

func backlog(t *testing.T, s *suite) {
	ctx := t.Context()
	for _, user := range []string{"user-1", "user-2", "user-3"} {
		s.appendNew(t, user)
	}
	events := s.readUntil(t, outbox.Position{}, 3, 10)
	for i, want := range []struct {
		after  outbox.Position
		n      int64
		oldest time.Time
	}{
		{outbox.Position{}, 3, events[0].OccurredAt},
		{events[0].Position, 2, events[1].OccurredAt},
		{events[2].Position, 0, time.Time{}},
	} {
		n, oldest, err := s.Source.Backlog(ctx, want.after)
		must(t, err)
		if n != want.n || !oldest.Equal(want.oldest) {
			t.Fatalf("Backlog %d (after %+v) = %d, %v; want %d, %v", i, want.after, n, oldest, want.n, want.oldest)
		}
	}
}

func parking(t *testing.T, s *suite) {
	ctx := t.Context()
	s.appendNew(t, "user-1")
	s.appendNew(t, "user-2")
	events := s.readUntil(t, outbox.Position{}, 2, 10)
	if n, err := s.Source.ParkedCount(ctx); err != nil || n != 0 {
		t.Fatalf("ParkedCount before parking = %d, %v; want 0", n, err)
	}
	must(t, s.Source.Park(ctx, events[0], "MESSAGE_TOO_LARGE"))
	must(t, s.Source.Park(ctx, events[0], "MESSAGE_TOO_LARGE, again")) // a retried batch
	must(t, s.Source.Park(ctx, events[1], "INVALID_RECORD"))
	if n, err := s.Source.ParkedCount(ctx); err != nil || n != 2 {
		t.Fatalf("ParkedCount = %d, %v; want 2", n, err)
	}
}

func notifications(t *testing.T, s *suite) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := s.Source.Notifications(ctx)
	s.appendNew(t, "user-1")
	select {
	case _, open := <-ch:
		if !open {
			t.Fatal("the channel closed while its context was alive")
		}
	case <-time.After(patience):
		t.Fatalf("no signal within %s of an Append", patience)
	}
	cancel()
	deadline := time.After(patience)
	for {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		case <-deadline:
			t.Fatalf("the channel is still open %s after its context ended", patience)
		}
	}
}

func leaseIsExclusive(t *testing.T, s *suite) {
	ctx := t.Context()
	held, release, err := s.Source.AcquireLease(ctx, "kafka")
	must(t, err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, _, err := s.Source.AcquireLease(short, "kafka"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second AcquireLease while held: error = %v, want it to wait until its context ends", err)
	}
	heldOther, releaseOther, err := s.Source.AcquireLease(ctx, "audit")
	if err != nil {
		t.Fatalf("a relay of another name must not wait: %v", err)
	}
	releaseOther()
	if heldOther.Err() == nil {
		t.Fatal("the released lease's context is still alive")
	}
	release()
	if held.Err() == nil {
		t.Fatal("the released lease's context is still alive")
	}
	again, releaseAgain, err := s.Source.AcquireLease(ctx, "kafka")
	must(t, err)
	defer releaseAgain()
	if again.Err() != nil {
		t.Fatal("the lease taken after a release ended at once")
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func orderIDs(events []outbox.Event) []order.ID {
	out := make([]order.ID, len(events))
	for i, e := range events {
		out[i] = e.OrderID
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
