// Package porttest is the contract suite of the application's storage ports.
// Every adapter (in-memory, PostgreSQL, SQLite) runs the same suite, so they
// cannot drift apart: call Run from a test in the adapter's package.
package porttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// Ports is what one adapter provides. All three views must see the same data.
type Ports struct {
	Store    application.EventStore
	Read     application.ReadModel
	Requests application.IdempotencyStore
}

// Run runs the whole contract against fresh, empty ports from newPorts.
func Run(t *testing.T, newPorts func(t *testing.T) Ports) {
	tests := []struct {
		name string
		run  func(t *testing.T, p Ports)
	}{
		{"append then load returns the events", appendThenLoad},
		{"load of an unknown order is not found", loadUnknown},
		{"projection follows every commit", projectionFollowsCommits},
		{"stale expected version writes nothing", staleVersionWritesNothing},
		{"duplicate request id writes nothing", duplicateRequestWritesNothing},
		{"concurrent appends at one version: one wins", concurrentAppendsOneWins},
		{"list orders newest first with status filter and cursor", listOrders},
		{"list order events pages the history", listOrderEvents},
		{"idempotency records are found and expire", idempotencyRecords},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newPorts(t))
		})
	}
}

// fixture builds orders and commits with deterministic ids and times.
type fixture struct {
	t   *testing.T
	seq uint32
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	return &fixture{t: t, now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
}

func (f *fixture) id() order.ID {
	f.seq++
	var id order.ID
	id[0], id[1], id[2], id[3] = byte(f.seq>>24), byte(f.seq>>16), byte(f.seq>>8), byte(f.seq)
	id[6], id[8] = 0x70, 0x80 // a well-formed version-7 UUID
	return id
}

func (f *fixture) tick() time.Time {
	f.now = f.now.Add(1500 * time.Microsecond)
	return f.now
}

func (f *fixture) item(product string, qty int64, price string) order.LineItem {
	f.t.Helper()
	p, err := order.ParseMoney("unit_price", price, "EUR")
	must(f.t, err)
	it, err := order.NewLineItem(f.id(), product, "Product "+product, qty, p)
	must(f.t, err)
	return it
}

func (f *fixture) newOrder(user string) *order.Order {
	f.t.Helper()
	o, err := order.Create(f.id(), order.UserID(user), "EUR", "1 Main St\nSpringfield",
		[]order.LineItem{f.item("sku-1", 2, "19.99"), f.item("sku-2", 1, "5.00")}, f.tick())
	must(f.t, err)
	return o
}

// commit turns the order's pending events into a commit decided at version
// `from`, with an optional request id.
func (f *fixture) commit(o *order.Order, from int, requestID string) application.Commit {
	pending := o.PendingEvents()
	events := make([]application.RecordedEvent, 0, len(pending))
	md := application.EventMetadata{
		ActorID: string(o.UserID()), RequestID: requestID, CorrelationID: "corr-1", CausationID: "cause-1",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ServiceName: "order-service",
		CellID: "cell-test", SchemaVersion: application.CurrentEventSchemaVersion,
	}
	for _, e := range pending[from-(o.Version()-len(pending)):] {
		events = append(events, application.RecordedEvent{ID: f.id(), Event: e, Metadata: md})
	}
	c := application.Commit{OrderID: o.ID(), ExpectedVersion: from, Events: events, State: o.Snapshot()}
	if requestID != "" {
		c.Idempotency = &application.IdempotencyRecord{
			Scope: string(o.UserID()), RequestID: requestID, Fingerprint: application.Fingerprint{1, 2, 3},
			OrderID: o.ID(), Version: o.Version(), CreatedAt: f.now,
		}
	}
	return c
}

func appendThenLoad(t *testing.T, p Ports) {
	f := newFixture(t)
	o := f.newOrder("user-1")
	appendOK(t, p, f.commit(o, 0, ""))
	must(t, o.Confirm(f.tick()))
	must(t, o.Pay(o.Snapshot().Total, "pay-1", f.tick()))
	appendOK(t, p, f.commit(o, 1, ""))

	history, err := p.Store.Load(context.Background(), o.ID())
	must(t, err)
	rebuilt, err := order.Rehydrate(history)
	must(t, err)
	if diff := rebuilt.Snapshot().Diff(o.Snapshot()); len(diff) > 0 {
		t.Fatalf("loaded history rebuilds a different order: %v", diff)
	}
	if len(history) != 3 {
		t.Fatalf("loaded %d events, want 3", len(history))
	}
}

func loadUnknown(t *testing.T, p Ports) {
	f := newFixture(t)
	if _, err := p.Store.Load(context.Background(), f.id()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("Load(unknown) error = %v, want order.ErrNotFound", err)
	}
	if _, err := p.Read.GetOrder(context.Background(), f.id()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("GetOrder(unknown) error = %v, want order.ErrNotFound", err)
	}
}

func projectionFollowsCommits(t *testing.T, p Ports) {
	f := newFixture(t)
	o := f.newOrder("user-1")
	steps := []func() error{
		func() error { return nil },
		func() error { return o.AddItem(f.item("sku-3", 3, "0.10"), f.tick()) },
		func() error { return o.ChangeItemQuantity("sku-1", 7, f.tick()) },
		func() error { return o.RemoveItem("sku-2", f.tick()) },
		func() error { return o.ChangeShippingAddress("2 Side Rd", f.tick()) },
		func() error { return o.Confirm(f.tick()) },
		func() error { return o.Pay(o.Snapshot().Total, "", f.tick()) },
		func() error { return o.Ship("DHL", "TRK-1", f.tick()) },
		func() error { return o.Deliver(f.tick()) },
	}
	for i, step := range steps {
		from := o.Version()
		if i == 0 {
			from = 0
		}
		must(t, step())
		appendOK(t, p, f.commit(o, from, ""))
		got, err := p.Read.GetOrder(context.Background(), o.ID())
		must(t, err)
		if diff := got.Diff(o.Snapshot()); len(diff) > 0 {
			t.Fatalf("after step %d the projection differs: %v", i, diff)
		}
	}

	c := f.newOrder("user-2")
	appendOK(t, p, f.commit(c, 0, ""))
	must(t, c.Confirm(f.tick()))
	must(t, c.Pay(c.Snapshot().Total, "ref", f.tick()))
	must(t, c.Cancel("customer changed their mind", f.tick()))
	appendOK(t, p, f.commit(c, 1, ""))
	got, err := p.Read.GetOrder(context.Background(), c.ID())
	must(t, err)
	if diff := got.Diff(c.Snapshot()); len(diff) > 0 {
		t.Fatalf("cancelled order projection differs: %v", diff)
	}
}

func staleVersionWritesNothing(t *testing.T, p Ports) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.newOrder("user-1")
	appendOK(t, p, f.commit(o, 0, ""))
	must(t, o.Confirm(f.tick()))
	appendOK(t, p, f.commit(o, 1, ""))

	// A writer that decided on version 1 while the order moved to 2.
	stale, err := order.Rehydrate(mustLoad(t, p, o.ID())[:1])
	must(t, err)
	must(t, stale.Cancel("too late", f.tick()))
	err = p.Store.Append(ctx, f.commit(stale, 1, "req-stale"))
	var conflict *order.ConcurrencyError
	if !errors.As(err, &conflict) {
		t.Fatalf("Append at a stale version: error = %v, want *order.ConcurrencyError", err)
	}
	if conflict.OrderID != o.ID() || conflict.ExpectedVersion != 1 {
		t.Fatalf("conflict = %+v, want order %s expected version 1", conflict, o.ID())
	}
	if n := len(mustLoad(t, p, o.ID())); n != 2 {
		t.Fatalf("after the conflict the order has %d events, want 2", n)
	}
	got, err := p.Read.GetOrder(ctx, o.ID())
	must(t, err)
	if got.Status != order.StatusConfirmed || got.Version != 2 {
		t.Fatalf("projection after the conflict: status %s version %d, want CONFIRMED 2", got.Status, got.Version)
	}
	if _, found, err := p.Requests.FindRequest(ctx, "user-1", "req-stale"); err != nil || found {
		t.Fatalf("the failed commit left an idempotency record (found=%v, err=%v)", found, err)
	}
}

func duplicateRequestWritesNothing(t *testing.T, p Ports) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.newOrder("user-1")
	appendOK(t, p, f.commit(first, 0, "req-1"))

	second := f.newOrder("user-1")
	err := p.Store.Append(ctx, f.commit(second, 0, "req-1"))
	if !errors.Is(err, application.ErrDuplicateRequest) {
		t.Fatalf("second commit with the same request id: error = %v, want ErrDuplicateRequest", err)
	}
	if _, err := p.Store.Load(ctx, second.ID()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("the duplicate's events were written (Load error = %v)", err)
	}
	if _, err := p.Read.GetOrder(ctx, second.ID()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("the duplicate's projection was written (GetOrder error = %v)", err)
	}
	rec, found, err := p.Requests.FindRequest(ctx, "user-1", "req-1")
	must(t, err)
	if !found || rec.OrderID != first.ID() || rec.Version != 1 || rec.Fingerprint != (application.Fingerprint{1, 2, 3}) {
		t.Fatalf("FindRequest = %+v, %v; want the first order at version 1", rec, found)
	}
	// The same request id in another scope is another request.
	third := f.newOrder("user-2")
	appendOK(t, p, f.commit(third, 0, "req-1"))
}

func concurrentAppendsOneWins(t *testing.T, p Ports) {
	f := newFixture(t)
	o := f.newOrder("user-1")
	appendOK(t, p, f.commit(o, 0, ""))
	history := mustLoad(t, p, o.ID())

	const writers = 8
	commits := make([]application.Commit, writers)
	for i := range commits {
		w, err := order.Rehydrate(history)
		must(t, err)
		must(t, w.ChangeShippingAddress(order.ShippingAddress(fmt.Sprintf("%d Race Rd", i)), f.tick()))
		commits[i] = f.commit(w, 1, "")
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range commits {
		wg.Go(func() { errs[i] = p.Store.Append(context.Background(), commits[i]) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		var conflict *order.ConcurrencyError
		switch {
		case err == nil:
			wins++
		case !errors.As(err, &conflict):
			t.Fatalf("a losing append failed with %v, want *order.ConcurrencyError", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d appends at version 1 succeeded, want exactly 1", wins)
	}
	if n := len(mustLoad(t, p, o.ID())); n != 2 {
		t.Fatalf("order has %d events, want 2", n)
	}
}

func listOrders(t *testing.T, p Ports) {
	f := newFixture(t)
	ctx := context.Background()
	var mine []*order.Order
	for i := range 7 {
		o := f.newOrder("user-1")
		appendOK(t, p, f.commit(o, 0, ""))
		if i%3 == 0 {
			must(t, o.Confirm(f.tick()))
			appendOK(t, p, f.commit(o, 1, ""))
		}
		mine = append(mine, o)
		other := f.newOrder("user-2")
		appendOK(t, p, f.commit(other, 0, ""))
	}

	all, err := p.Read.ListOrders(ctx, application.OrderFilter{UserID: "user-1", Limit: 100})
	must(t, err)
	if len(all) != len(mine) {
		t.Fatalf("listed %d orders of user-1, want %d", len(all), len(mine))
	}
	for i, snap := range all {
		want := mine[len(mine)-1-i] // newest first
		if diff := snap.Diff(want.Snapshot()); len(diff) > 0 {
			t.Fatalf("order %d of the list differs: %v", i, diff)
		}
	}

	confirmed, err := p.Read.ListOrders(ctx, application.OrderFilter{UserID: "user-1", Status: order.StatusConfirmed, Limit: 100})
	must(t, err)
	if len(confirmed) != 3 {
		t.Fatalf("listed %d confirmed orders, want 3", len(confirmed))
	}

	last := all[2]
	after, err := p.Read.ListOrders(ctx, application.OrderFilter{
		UserID: "user-1", Limit: 2, After: &application.OrderCursor{CreatedAt: last.CreatedAt, ID: last.ID},
	})
	must(t, err)
	if len(after) != 2 || after[0].ID != all[3].ID || after[1].ID != all[4].ID {
		t.Fatalf("page after the third order = %v, want orders 4 and 5", ids(after))
	}
}

func listOrderEvents(t *testing.T, p Ports) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.newOrder("user-1")
	appendOK(t, p, f.commit(o, 0, "req-create"))
	must(t, o.Confirm(f.tick()))
	must(t, o.Cancel("out of stock", f.tick()))
	appendOK(t, p, f.commit(o, 1, ""))

	events, err := p.Read.ListOrderEvents(ctx, o.ID(), 0, 10)
	must(t, err)
	wantTypes := []string{order.TypeOrderCreated, order.TypeOrderConfirmed, order.TypeOrderCancelled}
	if len(events) != len(wantTypes) {
		t.Fatalf("listed %d events, want %d", len(events), len(wantTypes))
	}
	pending := o.PendingEvents()
	for i, e := range events {
		if e.Type != wantTypes[i] || e.Version != i+1 || e.OrderID != o.ID() {
			t.Fatalf("event %d = %s v%d of %s, want %s v%d", i, e.Type, e.Version, e.OrderID, wantTypes[i], i+1)
		}
		if !e.OccurredAt.Equal(pending[i].Header().OccurredAt) {
			t.Fatalf("event %d occurred at %v, want %v", i, e.OccurredAt, pending[i].Header().OccurredAt)
		}
		if e.Metadata.ActorID != "user-1" || e.Metadata.CellID != "cell-test" || e.Metadata.ServiceName != "order-service" ||
			e.Metadata.CorrelationID != "corr-1" || e.Metadata.CausationID != "cause-1" || e.Metadata.SchemaVersion != 1 ||
			e.Metadata.TraceParent == "" {
			t.Fatalf("event %d metadata = %+v", i, e.Metadata)
		}
		if e.EventID.IsZero() || !json.Valid(e.Data) {
			t.Fatalf("event %d: id %s, data %q: want an id and a JSON payload", i, e.EventID, e.Data)
		}
	}
	if events[0].Metadata.RequestID != "req-create" {
		t.Fatalf("request id of the first event = %q, want req-create", events[0].Metadata.RequestID)
	}
	page, err := p.Read.ListOrderEvents(ctx, o.ID(), 1, 1)
	must(t, err)
	if len(page) != 1 || page[0].Version != 2 {
		t.Fatalf("page after version 1 with limit 1 = %d events, want version 2", len(page))
	}
	rest, err := p.Read.ListOrderEvents(ctx, o.ID(), 3, 10)
	must(t, err)
	if len(rest) != 0 {
		t.Fatalf("page after the last version has %d events, want 0", len(rest))
	}
}

func idempotencyRecords(t *testing.T, p Ports) {
	f := newFixture(t)
	ctx := context.Background()
	old := f.newOrder("user-1")
	appendOK(t, p, f.commit(old, 0, "req-old"))
	cutoff := f.tick()
	f.tick()
	fresh := f.newOrder("user-1")
	appendOK(t, p, f.commit(fresh, 0, "req-new"))

	n, err := p.Requests.DeleteRequestsBefore(ctx, cutoff)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteRequestsBefore removed %d records, want 1", n)
	}
	if _, found, _ := p.Requests.FindRequest(ctx, "user-1", "req-old"); found {
		t.Fatal("the expired record is still found")
	}
	if _, found, _ := p.Requests.FindRequest(ctx, "user-1", "req-new"); !found {
		t.Fatal("the fresh record is gone")
	}
	if _, found, _ := p.Requests.FindRequest(ctx, "user-2", "req-new"); found {
		t.Fatal("a record was found in another scope")
	}
}

func appendOK(t *testing.T, p Ports, c application.Commit) {
	t.Helper()
	if err := p.Store.Append(context.Background(), c); err != nil {
		t.Fatalf("Append(order %s, from version %d): %v", c.OrderID, c.ExpectedVersion, err)
	}
}

func mustLoad(t *testing.T, p Ports, id order.ID) []order.Event {
	t.Helper()
	events, err := p.Store.Load(context.Background(), id)
	must(t, err)
	return events
}

func ids(snaps []order.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID.String()
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
