// Package porttest is the contract suite of the application's storage ports.
// Every adapter (in-memory, PostgreSQL, SQLite) runs the same suite, so they
// cannot drift apart: call Run from a test in the adapter's package.
package porttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
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
	runCases(t, newPorts, []testCase[Ports]{
		{"append then load returns the events", appendThenLoad},
		{"load of an unknown order is not found", loadUnknown},
		{"projection follows every commit", projectionFollowsCommits},
		{"stale expected version writes nothing", staleVersionWritesNothing},
		{"duplicate request id writes nothing", duplicateRequestWritesNothing},
		{"duplicate request id wins over a version conflict", duplicateBeforeConflict},
		{"concurrent duplicates of a request: one wins, the others are duplicates", concurrentDuplicatesOneWins},
		{"invalid commit is refused and writes nothing", invalidCommitWritesNothing},
		{"lines are rewritten only by commits that change them", linesOnlyRewrittenWhenChanged},
		{"concurrent appends at one version: one wins", concurrentAppendsOneWins},
		{"list orders newest first with status filter and cursor", listOrders},
		{"list order events pages the history", listOrderEvents},
		{"idempotency records are found and expire", idempotencyRecords},
	})
}

// testCase is one case of a contract suite over ports of type P.
type testCase[P any] struct {
	name string
	run  func(t *testing.T, p P)
}

// runCases runs each case as a subtest against fresh ports.
func runCases[P any](t *testing.T, newPorts func(t *testing.T) P, cases []testCase[P]) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newPorts(t))
		})
	}
}

func appendThenLoad(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	o := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(o, 0, ""))
	must(t, o.Confirm(f.Tick()))
	must(t, o.Pay(o.State().Total, "pay-1", f.Tick()))
	appendOK(t, p, f.Commit(o, 1, ""))

	history, err := p.Store.Load(context.Background(), o.ID())
	must(t, err)
	rebuilt, err := order.Rehydrate(history)
	must(t, err)
	if diff := rebuilt.State().Diff(o.State()); len(diff) > 0 {
		t.Fatalf("loaded history rebuilds a different order: %v", diff)
	}
	if len(history) != 3 {
		t.Fatalf("loaded %d events, want 3", len(history))
	}
}

func loadUnknown(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	if _, err := p.Store.Load(context.Background(), f.ID()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("Load(unknown) error = %v, want order.ErrNotFound", err)
	}
	if _, err := p.Read.GetOrder(context.Background(), f.ID()); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("GetOrder(unknown) error = %v, want order.ErrNotFound", err)
	}
}

func projectionFollowsCommits(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	o := f.NewOrder("user-1")
	steps := []func() error{
		func() error { return nil },
		func() error { return o.AddItem(f.Item("sku-3", 3, "0.10"), f.Tick()) },
		func() error { return o.ChangeItemQuantity("sku-1", 7, f.Tick()) },
		func() error { return o.RemoveItem("sku-2", f.Tick()) },
		func() error { return o.ChangeShippingAddress(apptest.StructuredAddress(t), f.Tick()) },
		func() error { return o.Confirm(f.Tick()) },
		func() error { return o.Pay(o.State().Total, "", f.Tick()) },
		func() error { return o.Ship("DHL", "TRK-1", f.Tick()) },
		func() error { return o.Deliver(f.Tick()) },
	}
	for i, step := range steps {
		from := o.Version()
		if i == 0 {
			from = 0
		}
		must(t, step())
		appendOK(t, p, f.Commit(o, from, ""))
		got, err := p.Read.GetOrder(context.Background(), o.ID())
		must(t, err)
		if diff := got.Diff(o.State()); len(diff) > 0 {
			t.Fatalf("after step %d the projection differs: %v", i, diff)
		}
	}

	c := f.NewOrder("user-2")
	appendOK(t, p, f.Commit(c, 0, ""))
	must(t, c.Confirm(f.Tick()))
	must(t, c.Pay(c.State().Total, "ref", f.Tick()))
	must(t, c.Cancel("customer changed their mind", f.Tick()))
	appendOK(t, p, f.Commit(c, 1, ""))
	got, err := p.Read.GetOrder(context.Background(), c.ID())
	must(t, err)
	if diff := got.Diff(c.State()); len(diff) > 0 {
		t.Fatalf("cancelled order projection differs: %v", diff)
	}
}

func staleVersionWritesNothing(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	o := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(o, 0, ""))
	must(t, o.Confirm(f.Tick()))
	appendOK(t, p, f.Commit(o, 1, ""))

	// A writer that decided on version 1 while the order moved to 2.
	stale, err := order.Rehydrate(mustLoad(t, p, o.ID())[:1])
	must(t, err)
	must(t, stale.Cancel("too late", f.Tick()))
	err = p.Store.Append(ctx, f.Commit(stale, 1, "req-stale"))
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
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	first := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(first, 0, "req-1"))

	second := f.NewOrder("user-1")
	err := p.Store.Append(ctx, f.Commit(second, 0, "req-1"))
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
	if !found || rec.OrderID != first.ID() || rec.Version != 1 || rec.Fingerprint != (apptest.Fingerprint) {
		t.Fatalf("FindRequest = %+v, %v; want the first order at version 1", rec, found)
	}
	// The same request id in another scope is another request.
	third := f.NewOrder("user-2")
	appendOK(t, p, f.Commit(third, 0, "req-1"))
}

// duplicateBeforeConflict: the request id is checked before the version, so
// a duplicate of a command that already moved the order is reported as a
// duplicate (and replays) rather than as a conflict (and retries).
func duplicateBeforeConflict(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	o := f.NewOrder("user-1")
	first := f.Commit(o, 0, "req-create")
	appendOK(t, p, first)
	again := f.Commit(o, 0, "req-create") // the same order and version, new event ids
	if err := p.Store.Append(ctx, again); !errors.Is(err, application.ErrDuplicateRequest) {
		t.Fatalf("duplicate of the create: error = %v, want ErrDuplicateRequest", err)
	}

	history := mustLoad(t, p, o.ID())
	a, b := f.Rehydrate(history), f.Rehydrate(history)
	must(t, a.ChangeShippingAddress(apptest.Address(t, "2 Side Rd"), f.Tick()))
	must(t, b.ChangeShippingAddress(apptest.Address(t, "3 Other Rd"), f.Tick()))
	appendOK(t, p, f.Commit(a, 1, "req-move"))
	if err := p.Store.Append(ctx, f.Commit(b, 1, "req-move")); !errors.Is(err, application.ErrDuplicateRequest) {
		t.Fatalf("duplicate at a stale version: error = %v, want ErrDuplicateRequest", err)
	}
	got, err := p.Read.GetOrder(ctx, o.ID())
	must(t, err)
	if got.Version != 2 || got.ShippingAddress.Format() != "2 Side Rd" {
		t.Fatalf("order after the duplicates: version %d at %q, want 2 at the first writer's address", got.Version, got.ShippingAddress.Format())
	}
}

// concurrentDuplicatesOneWins races copies of one command (same request id,
// same order and version): one commits, every other learns it is a
// duplicate, none that it lost a version race.
func concurrentDuplicatesOneWins(t *testing.T, p Ports) {
	confirm := func(w *order.Order, now time.Time, _ int) error { return w.Confirm(now) }
	raceOneWins(t, p, "req-confirm", confirm, "ErrDuplicateRequest", func(err error) bool {
		return errors.Is(err, application.ErrDuplicateRequest)
	})
}

// invalidCommitWritesNothing: a commit whose parts disagree is a bug of its
// caller; every store refuses it with ErrInvalidCommit before writing.
func invalidCommitWritesNothing(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	valid := func() application.Commit { return f.Commit(f.NewOrder("user-1"), 0, "req-1") }
	tests := map[string]func(c *application.Commit){
		"no events":                func(c *application.Commit) { c.Events = nil },
		"version gap":              func(c *application.Commit) { c.ExpectedVersion = 1 },
		"event of another order":   func(c *application.Commit) { c.OrderID = f.ID(); c.State.ID = c.OrderID },
		"state at another version": func(c *application.Commit) { c.State.Version = 2 },
		"state of another order":   func(c *application.Commit) { c.State.ID = f.ID() },
		"request of another version": func(c *application.Commit) {
			c.Idempotency.Version = 2
		},
		"unknown schema version": func(c *application.Commit) { c.Events[0].Metadata.SchemaVersion = 99 },
	}
	for name, breakIt := range tests {
		c := valid()
		breakIt(&c)
		if err := p.Store.Append(ctx, c); !errors.Is(err, application.ErrInvalidCommit) {
			t.Fatalf("%s: Append error = %v, want ErrInvalidCommit", name, err)
		}
		for _, id := range []order.ID{c.OrderID, c.State.ID} {
			if _, err := p.Store.Load(ctx, id); !errors.Is(err, order.ErrNotFound) {
				t.Fatalf("%s: the refused commit wrote events (Load error = %v)", name, err)
			}
			if _, err := p.Read.GetOrder(ctx, id); !errors.Is(err, order.ErrNotFound) {
				t.Fatalf("%s: the refused commit wrote the projection (GetOrder error = %v)", name, err)
			}
		}
		if _, found, err := p.Requests.FindRequest(ctx, "user-1", "req-1"); err != nil || found {
			t.Fatalf("%s: the refused commit left an idempotency record (found=%v, err=%v)", name, found, err)
		}
	}
}

// linesOnlyRewrittenWhenChanged: the stored lines follow the events that
// change lines, and no other commit touches them. A commit that changes
// none but lists the lines in another order shows it: the stored order
// stays.
func linesOnlyRewrittenWhenChanged(t *testing.T, p Ports) {
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	o := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(o, 0, ""))
	stored := o.State().Items

	must(t, o.ChangeShippingAddress(apptest.Address(t, "2 Side Rd"), f.Tick()))
	untouched := f.Commit(o, 1, "")
	slices.Reverse(untouched.State.Items)
	appendOK(t, p, untouched)
	got, err := p.Read.GetOrder(ctx, o.ID())
	must(t, err)
	if got.Version != 2 || got.ShippingAddress.Format() != "2 Side Rd" || !sameLines(got.Items, stored) {
		t.Fatalf("after a commit that changes no line: version %d at %q, lines %v; want 2, the new address, the lines as stored %v",
			got.Version, got.ShippingAddress.Format(), lineIDs(got.Items), lineIDs(stored))
	}

	must(t, o.AddItem(f.Item("sku-3", 1, "1.00"), f.Tick()))
	appendOK(t, p, f.Commit(o, 2, ""))
	got, err = p.Read.GetOrder(ctx, o.ID())
	must(t, err)
	if diff := got.Diff(o.State()); len(diff) > 0 || !sameLines(got.Items, o.State().Items) {
		t.Fatalf("after adding a line the projection differs: %v (lines %v)", diff, lineIDs(got.Items))
	}
}

func sameLines(a, b []order.LineItem) bool {
	return slices.Equal(lineIDs(a), lineIDs(b))
}

func lineIDs(items []order.LineItem) []order.ID {
	out := make([]order.ID, len(items))
	for i, it := range items {
		out[i] = it.ID()
	}
	return out
}

func concurrentAppendsOneWins(t *testing.T, p Ports) {
	move := func(w *order.Order, now time.Time, i int) error {
		a, err := order.AddressFromText(fmt.Sprintf("%d Race Rd", i))
		if err != nil {
			return err
		}
		return w.ChangeShippingAddress(a, now)
	}
	raceOneWins(t, p, "", move, "*order.ConcurrencyError", func(err error) bool {
		var conflict *order.ConcurrencyError
		return errors.As(err, &conflict)
	})
}

// raceOneWins has writers decide on a new order at version 1 and append
// their commits (with the request id, if any) all at once; exactly one may
// win, every other must lose as lost says.
func raceOneWins(t *testing.T, p Ports, requestID string, decide func(w *order.Order, now time.Time, i int) error, want string, lost func(error) bool) {
	t.Helper()
	f := apptest.NewOrders(t, 1)
	o := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(o, 0, ""))
	history := mustLoad(t, p, o.ID())
	commits := make([]application.Commit, 8)
	for i := range commits {
		w := f.Rehydrate(history)
		must(t, decide(w, f.Tick(), i))
		commits[i] = f.Commit(w, 1, requestID)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(commits))
	for i := range commits {
		wg.Go(func() { errs[i] = p.Store.Append(context.Background(), commits[i]) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !lost(err):
			t.Fatalf("a losing append failed with %v, want %s", err, want)
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
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	var mine []*order.Order
	for i := range 7 {
		o := f.NewOrder("user-1")
		appendOK(t, p, f.Commit(o, 0, ""))
		if i%3 == 0 {
			must(t, o.Confirm(f.Tick()))
			appendOK(t, p, f.Commit(o, 1, ""))
		}
		mine = append(mine, o)
		other := f.NewOrder("user-2")
		appendOK(t, p, f.Commit(other, 0, ""))
	}

	all, err := p.Read.ListOrders(ctx, application.OrderFilter{UserID: "user-1", Limit: 100})
	must(t, err)
	if len(all) != len(mine) {
		t.Fatalf("listed %d orders of user-1, want %d", len(all), len(mine))
	}
	for i, snap := range all {
		want := mine[len(mine)-1-i] // newest first
		if diff := snap.Diff(want.State()); len(diff) > 0 {
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
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	o := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(o, 0, "req-create"))
	must(t, o.Confirm(f.Tick()))
	must(t, o.Cancel("out of stock", f.Tick()))
	appendOK(t, p, f.Commit(o, 1, ""))

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
			e.Metadata.CorrelationID != "corr-1" || e.Metadata.CausationID != "cause-1" || e.Metadata.SchemaVersion != application.CurrentEventSchemaVersion ||
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
	f := apptest.NewOrders(t, 1)
	ctx := context.Background()
	old := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(old, 0, "req-old"))
	cutoff := f.Tick()
	f.Tick()
	fresh := f.NewOrder("user-1")
	appendOK(t, p, f.Commit(fresh, 0, "req-new"))

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

func appendOK(t testing.TB, p Ports, c application.Commit) {
	t.Helper()
	if err := p.Store.Append(context.Background(), c); err != nil {
		t.Fatalf("Append(order %s, from version %d): %v", c.OrderID, c.ExpectedVersion, err)
	}
}

func mustLoad(t testing.TB, p Ports, id order.ID) []order.Event {
	t.Helper()
	events, err := p.Store.Load(context.Background(), id)
	must(t, err)
	return events
}

func ids(snaps []order.State) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID.String()
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
