package application_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

var (
	alice = application.Actor{ID: "alice", Role: application.RoleCustomer}
	bob   = application.Actor{ID: "bob", Role: application.RoleCustomer}
	staff = application.Actor{ID: "fulfilment-1", Role: application.RoleStaff}
)

type harness struct {
	store    *memory.FakeStore
	commands *application.Commands
	queries  *application.Queries
}

// newHarness runs the commands against store (which may wrap mem); harnesses
// on one store need different id prefixes.
func newHarness(t *testing.T, store application.EventStore, mem *memory.FakeStore, idPrefix byte) harness {
	t.Helper()
	clock := apptest.NewStepClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Millisecond)
	cmds := application.NewCommands(store, mem, clock, apptest.NewSeqIDs(idPrefix), application.CommandsConfig{
		Origin: application.Origin{ServiceName: "order-service", CellID: "cell-test"}, MaxAttempts: 3,
	})
	return harness{store: mem, commands: cmds, queries: application.NewQueries(mem, mem)}
}

func newMemoryHarness(t *testing.T) harness {
	mem := memory.New()
	return newHarness(t, mem, mem, 0)
}

func createFor(t *testing.T, h harness, actor application.Actor, requestID string) order.State {
	t.Helper()
	snap, err := h.commands.CreateOrder(context.Background(), application.CreateOrder{
		Meta:   application.CommandMeta{Actor: actor, RequestID: requestID},
		UserID: actor.ID, ShippingAddress: "1 Main St",
		Items: []application.NewItem{
			{ProductID: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"},
			{ProductID: "sku-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5"},
		},
	})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	return snap
}

func eventCount(t *testing.T, h harness, id order.ID) int {
	t.Helper()
	events, err := h.store.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return len(events)
}

func TestCreateOrderComputesTotalsAndDefaultsTheCurrency(t *testing.T) {
	h := newMemoryHarness(t)
	snap := createFor(t, h, alice, "")
	if snap.Total.String() != "44.98" || snap.Currency != "USD" || snap.Version != 1 || snap.Status != order.StatusPending {
		t.Fatalf("created order: total %s %s, version %d, status %s", snap.Total, snap.Currency, snap.Version, snap.Status)
	}
	got, err := h.queries.GetOrder(context.Background(), alice, snap.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if diff := got.Diff(snap); len(diff) > 0 {
		t.Fatalf("read model differs from the command's result: %v", diff)
	}
}

func TestCreateOrderNamesTheInvalidField(t *testing.T) {
	h := newMemoryHarness(t)
	tests := []struct {
		name  string
		cmd   application.CreateOrder
		field string
	}{
		{"price with three decimals", application.CreateOrder{UserID: "alice", ShippingAddress: "x",
			Items: []application.NewItem{{ProductID: "p", ProductName: "n", Quantity: 1, UnitPrice: "1.999"}}}, "items[0].unit_price"},
		{"zero quantity", application.CreateOrder{UserID: "alice", ShippingAddress: "x",
			Items: []application.NewItem{{ProductID: "p", ProductName: "n", Quantity: 1, UnitPrice: "1"}, {ProductID: "q", ProductName: "n", Quantity: 0, UnitPrice: "1"}}}, "items[1].quantity"},
		{"blank address", application.CreateOrder{UserID: "alice", ShippingAddress: "  ",
			Items: []application.NewItem{{ProductID: "p", ProductName: "n", Quantity: 1, UnitPrice: "1"}}}, "shipping_address"},
		{"unknown currency", application.CreateOrder{UserID: "alice", ShippingAddress: "x", Currency: "XYZ",
			Items: []application.NewItem{{ProductID: "p", ProductName: "n", Quantity: 1, UnitPrice: "1"}}}, "currency"},
		{"no items", application.CreateOrder{UserID: "alice", ShippingAddress: "x"}, "items"},
		{"101 items", application.CreateOrder{UserID: "alice", ShippingAddress: "x", Items: make([]application.NewItem, 101)}, "items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cmd.Meta.Actor = alice
			_, err := h.commands.CreateOrder(context.Background(), tc.cmd)
			var invalid *order.ValidationError
			if !errors.As(err, &invalid) || invalid.Field != tc.field {
				t.Fatalf("error = %v, want a validation error on %s", err, tc.field)
			}
		})
	}
}

func TestExpectedVersionMustMatch(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	snap := createFor(t, h, alice, "")
	changed, err := h.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{
		Meta: application.CommandMeta{Actor: alice, ExpectedVersion: 1}, OrderID: snap.ID.String(), ShippingAddress: "2 Side Rd",
	})
	if err != nil || changed.Version != 2 {
		t.Fatalf("change at the current version: version %d, err %v", changed.Version, err)
	}
	_, err = h.commands.CancelOrder(ctx, application.CancelOrder{
		Meta: application.CommandMeta{Actor: alice, ExpectedVersion: 1}, OrderID: snap.ID.String(), Reason: "stale",
	})
	var conflict *order.ConcurrencyError
	if !errors.As(err, &conflict) || conflict.ExpectedVersion != 1 || conflict.CurrentVersion != 2 {
		t.Fatalf("stale expected version: error = %v, want a concurrency error expecting 1 at current 2", err)
	}
	if n := eventCount(t, h, snap.ID); n != 2 {
		t.Fatalf("order has %d events, want 2", n)
	}
}

// racingStore lets another writer append just before each of the first
// `races` appends, so the command loses the race at the store.
type racingStore struct {
	*memory.FakeStore
	mu    sync.Mutex
	races int
	rival func() error
}

func (s *racingStore) Append(ctx context.Context, c application.Commit) error {
	s.mu.Lock()
	race := s.races > 0
	if race {
		s.races--
	}
	s.mu.Unlock()
	if race {
		if err := s.rival(); err != nil {
			return fmt.Errorf("rival: %w", err)
		}
	}
	return s.FakeStore.Append(ctx, c)
}

func TestLostRaceWithoutExpectedVersionRetriesBounded(t *testing.T) {
	for _, tc := range []struct {
		races       int
		wantSuccess bool
	}{{races: 2, wantSuccess: true}, {races: 3, wantSuccess: false}} {
		t.Run(fmt.Sprintf("%d lost races", tc.races), func(t *testing.T) {
			mem := memory.New()
			racing := &racingStore{FakeStore: mem}
			h := newHarness(t, racing, mem, 0)
			rival := newHarness(t, mem, mem, 1)
			ctx := context.Background()
			snap := createFor(t, h, alice, "")
			rivalAddress := 0
			racing.rival = func() error {
				rivalAddress++
				_, err := rival.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{
					Meta: application.CommandMeta{Actor: alice}, OrderID: snap.ID.String(), ShippingAddress: fmt.Sprintf("%d Rival Rd", rivalAddress),
				})
				return err
			}
			racing.races = tc.races

			_, err := h.commands.CancelOrder(ctx, application.CancelOrder{
				Meta: application.CommandMeta{Actor: alice}, OrderID: snap.ID.String(), Reason: "changed my mind",
			})
			var conflict *order.ConcurrencyError
			switch {
			case tc.wantSuccess && err != nil:
				t.Fatalf("cancel after %d lost races: %v, want success through the retry", tc.races, err)
			case !tc.wantSuccess && !errors.As(err, &conflict):
				t.Fatalf("cancel after %d lost races: %v, want a concurrency error once the attempts are spent", tc.races, err)
			}
			if want := 1 + tc.races + map[bool]int{true: 1}[tc.wantSuccess]; eventCount(t, h, snap.ID) != want {
				t.Fatalf("order has %d events, want %d", eventCount(t, h, snap.ID), want)
			}
		})
	}
}

func TestRequestIDReplaysTheOriginalResult(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	first := createFor(t, h, alice, "req-create")
	again := createFor(t, h, alice, "req-create")
	if diff := again.Diff(first); len(diff) > 0 {
		t.Fatalf("replayed CreateOrder differs: %v", diff)
	}
	page, err := h.queries.ListOrders(ctx, application.ListOrders{Actor: alice})
	if err != nil || len(page.Orders) != 1 {
		t.Fatalf("alice has %d orders (err %v), want 1", len(page.Orders), err)
	}

	confirm := application.ConfirmOrder{Meta: application.CommandMeta{Actor: staff, RequestID: "req-confirm"}, OrderID: first.ID.String()}
	confirmed, err := h.commands.ConfirmOrder(ctx, confirm)
	if err != nil {
		t.Fatal(err)
	}
	// The order moves on; a late retry still answers with the original result.
	if _, err := h.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{
		Meta: application.CommandMeta{Actor: alice}, OrderID: first.ID.String(), ShippingAddress: "9 New St",
	}); err != nil {
		t.Fatal(err)
	}
	replayed, err := h.commands.ConfirmOrder(ctx, confirm)
	if err != nil {
		t.Fatalf("retried confirm: %v", err)
	}
	if diff := replayed.Diff(confirmed); len(diff) > 0 {
		t.Fatalf("replayed confirm differs from the original: %v", diff)
	}
	if n := eventCount(t, h, first.ID); n != 3 {
		t.Fatalf("order has %d events, want 3 (create, confirm, address)", n)
	}
}

func TestRequestIDWithAnotherPayloadIsRejected(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	snap := createFor(t, h, alice, "req-1")
	_, err := h.commands.CancelOrder(ctx, application.CancelOrder{
		Meta: application.CommandMeta{Actor: alice, RequestID: "req-1"}, OrderID: snap.ID.String(), Reason: "oops",
	})
	var reused *application.RequestIDReusedError
	if !errors.As(err, &reused) || reused.RequestID != "req-1" {
		t.Fatalf("error = %v, want RequestIDReusedError", err)
	}
	if n := eventCount(t, h, snap.ID); n != 1 {
		t.Fatalf("order has %d events, want 1", n)
	}
	// Request ids are scoped to the caller: bob may use "req-1" too.
	createFor(t, h, bob, "req-1")
}

// duplicateStore lets a twin of the command commit first, between the
// command's idempotency lookup and its append.
type duplicateStore struct {
	*memory.FakeStore
	once sync.Once
	twin func() error
}

func (s *duplicateStore) Append(ctx context.Context, c application.Commit) error {
	var err error
	s.once.Do(func() { err = s.twin() })
	if err != nil {
		return err
	}
	return s.FakeStore.Append(ctx, c)
}

func TestConcurrentDuplicateRequestGetsTheWinnersResult(t *testing.T) {
	mem := memory.New()
	dup := &duplicateStore{FakeStore: mem}
	h := newHarness(t, dup, mem, 0)
	var twin order.State
	dup.twin = func() error {
		var err error
		twin, err = newHarness(t, mem, mem, 1).commands.CreateOrder(context.Background(), application.CreateOrder{
			Meta: application.CommandMeta{Actor: alice, RequestID: "req-twin"}, UserID: "alice", ShippingAddress: "1 Main St",
			Items: []application.NewItem{{ProductID: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"}, {ProductID: "sku-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5"}},
		})
		return err
	}
	got := createFor(t, h, alice, "req-twin")
	if got.ID != twin.ID {
		t.Fatalf("the losing duplicate answered order %s, want the winner's %s", got.ID, twin.ID)
	}
	page, err := h.queries.ListOrders(context.Background(), application.ListOrders{Actor: alice})
	if err != nil || len(page.Orders) != 1 {
		t.Fatalf("alice has %d orders (err %v), want 1", len(page.Orders), err)
	}
}

func TestCommandThatChangesNothingWritesNothing(t *testing.T) {
	h := newMemoryHarness(t)
	snap := createFor(t, h, alice, "")
	got, err := h.commands.ChangeOrderItemQuantity(context.Background(), application.ChangeOrderItemQuantity{
		Meta: application.CommandMeta{Actor: alice}, OrderID: snap.ID.String(), ProductID: "sku-1", Quantity: 2,
	})
	if err != nil || got.Version != 1 {
		t.Fatalf("same quantity: version %d, err %v; want version 1 and no error", got.Version, err)
	}
}

func TestOwnershipAndRoles(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	snap := createFor(t, h, alice, "")
	id := snap.ID.String()

	if _, err := h.queries.GetOrder(ctx, bob, id); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("bob reads alice's order: %v, want not found", err)
	}
	if _, err := h.commands.CancelOrder(ctx, application.CancelOrder{Meta: application.CommandMeta{Actor: bob}, OrderID: id, Reason: "x"}); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("bob cancels alice's order: %v, want not found", err)
	}
	var forbidden *application.ForbiddenError
	if _, err := h.commands.ConfirmOrder(ctx, application.ConfirmOrder{Meta: application.CommandMeta{Actor: alice}, OrderID: id}); !errors.As(err, &forbidden) {
		t.Fatalf("alice confirms her own order: %v, want forbidden (staff only)", err)
	}
	if _, err := h.commands.CreateOrder(ctx, application.CreateOrder{Meta: application.CommandMeta{Actor: bob}, UserID: "alice"}); !errors.As(err, &forbidden) {
		t.Fatalf("bob creates an order for alice: %v, want forbidden", err)
	}
	if _, err := h.queries.ListOrders(ctx, application.ListOrders{Actor: bob, UserID: "alice"}); !errors.As(err, &forbidden) {
		t.Fatalf("bob lists alice's orders: %v, want forbidden", err)
	}
	if _, err := h.commands.ConfirmOrder(ctx, application.ConfirmOrder{Meta: application.CommandMeta{Actor: staff}, OrderID: id}); err != nil {
		t.Fatalf("staff confirms: %v", err)
	}
	events, err := h.queries.ListOrderEvents(ctx, application.ListOrderEvents{Actor: alice, OrderID: id})
	if err != nil || len(events.Events) != 2 || events.Events[1].Metadata.ActorID != staff.ID {
		t.Fatalf("history: %+v, %v; want 2 events, the second by %s", events.Events, err, staff.ID)
	}
}
