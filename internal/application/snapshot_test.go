package application_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/memory"
	"github.com/acme/order-service/internal/testkit"
)

var admin = application.Actor{ID: "admin-1", Role: application.RoleAdmin}

// snapshotEvents records what the commands tell a SnapshotObserver.
type snapshotEvents struct {
	mu        sync.Mutex
	fallbacks []string
	saved     []bool
}

func (r *snapshotEvents) SnapshotFallback(_ context.Context, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fallbacks = append(r.fallbacks, reason)
}

func (r *snapshotEvents) SnapshotSaved(_ context.Context, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = append(r.saved, ok)
}

// snapshotHarness runs commands with snapshots every `every` events on a
// memory store; snapshots may fail their writes through failSave.
type snapshotHarness struct {
	mem      *memory.FakeStore
	commands *application.Commands
	events   *snapshotEvents
	log      *testkit.Buffer
}

// failingSnapshots fails SaveSnapshot while fail is set: a snapshot write
// that dies after the command's commit.
type failingSnapshots struct {
	*memory.FakeStore
	mu   sync.Mutex
	fail bool
}

func (f *failingSnapshots) SaveSnapshot(ctx context.Context, s application.Snapshot) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("save snapshot: %w", application.ErrUnavailable)
	}
	return f.FakeStore.SaveSnapshot(ctx, s)
}

func newSnapshotHarness(t *testing.T, every int, snapshots application.SnapshotStore, mem *memory.FakeStore) snapshotHarness {
	t.Helper()
	h := snapshotHarness{mem: mem, events: &snapshotEvents{}, log: &testkit.Buffer{}}
	clock := apptest.NewStepClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Millisecond)
	h.commands = application.NewCommands(mem, mem, clock, apptest.NewSeqIDs(3), application.CommandsConfig{
		Snapshots: application.SnapshotConfig{
			Store: snapshots, Every: every, Observer: h.events,
			Logger: slog.New(slog.NewTextHandler(h.log, nil)),
		},
	})
	return h
}

func (h snapshotHarness) create(t *testing.T) order.State {
	t.Helper()
	s, err := h.commands.CreateOrder(context.Background(), application.CreateOrder{
		Meta: application.CommandMeta{Actor: admin}, UserID: admin.ID, ShippingAddress: "1 Main St",
		Items: []application.NewItem{{ProductID: "p0", ProductName: "P0", Quantity: 1, UnitPrice: "1.99"}},
	})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	return s
}

// randomCommand runs one command drawn from r on the order; commands the
// domain refuses (a rule, a transition) write nothing and are part of the
// sequence too.
func (h snapshotHarness) randomCommand(t *testing.T, r *rand.Rand, s order.State) (order.State, error) {
	t.Helper()
	ctx, meta, id := context.Background(), application.CommandMeta{Actor: admin}, s.ID.String()
	product := fmt.Sprintf("p%d", r.IntN(4))
	switch r.IntN(12) {
	case 0, 1:
		return h.commands.AddOrderItem(ctx, application.AddOrderItem{Meta: meta, OrderID: id,
			Item: application.NewItem{ProductID: product, ProductName: "Product " + product, Quantity: 1 + r.Int64N(3), UnitPrice: "2.50"}})
	case 2:
		return h.commands.RemoveOrderItem(ctx, application.RemoveOrderItem{Meta: meta, OrderID: id, ProductID: product})
	case 3, 4, 5:
		return h.commands.ChangeOrderItemQuantity(ctx, application.ChangeOrderItemQuantity{Meta: meta, OrderID: id, ProductID: product, Quantity: 1 + r.Int64N(5)})
	case 6, 7:
		return h.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{Meta: meta, OrderID: id, ShippingAddress: fmt.Sprintf("%d Elm St", r.IntN(3))})
	case 8:
		return h.commands.ConfirmOrder(ctx, application.ConfirmOrder{Meta: meta, OrderID: id})
	case 9:
		return h.commands.PayOrder(ctx, application.PayOrder{Meta: meta, OrderID: id, Amount: s.Total.String(), PaymentReference: "pay-1"})
	case 10:
		return h.commands.ShipOrder(ctx, application.ShipOrder{Meta: meta, OrderID: id, Carrier: "UPS", TrackingNumber: "1Z"})
	default:
		if r.IntN(4) == 0 {
			return h.commands.CancelOrder(ctx, application.CancelOrder{Meta: meta, OrderID: id, Reason: "changed my mind"})
		}
		return h.commands.DeliverOrder(ctx, application.DeliverOrder{Meta: meta, OrderID: id})
	}
}

// domainRefusal reports the errors a valid command sequence may meet: the
// domain saying no, which writes nothing.
func domainRefusal(err error) bool {
	var (
		rule       *order.RuleError
		transition *order.TransitionError
		invalid    *order.ValidationError
	)
	return errors.As(err, &rule) || errors.As(err, &transition) || errors.As(err, &invalid)
}

// Any valid command sequence leaves one state, however it is loaded: the
// commands (which load from snapshots every few events) answer the state a
// full replay gives, and every prefix of the history, stored as a snapshot
// and decoded again, plus the events after it rebuilds that same state.
func TestSnapshotsAndFullReplayAgreeOnEveryCommandSequence(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 14))
			mem := memory.New()
			every := 1 + r.IntN(6)
			h := newSnapshotHarness(t, every, mem, mem)
			s := h.create(t)
			for step := range 40 {
				next, err := h.randomCommand(t, r, s)
				if err != nil && !domainRefusal(err) {
					t.Fatalf("step %d: %v", step, err)
				}
				if err == nil {
					s = next
				}
				history, err := mem.Load(context.Background(), s.ID)
				requireNoError(t, err)
				full, err := order.Rehydrate(history)
				requireNoError(t, err)
				if !reflect.DeepEqual(full.State(), s) {
					t.Fatalf("step %d: the command answered %v away from the full replay", step, s.Diff(full.State()))
				}
			}
			checkEverySnapshotPoint(t, mem, s.ID)
			if s.Version > every && len(h.events.saved) == 0 {
				t.Fatalf("an order at version %d with snapshots every %d never wrote one", s.Version, every)
			}
			if len(h.events.fallbacks) != 0 {
				t.Fatalf("fallbacks %v on a healthy store; log:\n%s", h.events.fallbacks, h.log.String())
			}
		})
	}
}

// checkEverySnapshotPoint rebuilds the order from a snapshot at each of its
// versions, through the snapshot encoding, and compares with a full replay.
func checkEverySnapshotPoint(t *testing.T, mem *memory.FakeStore, id order.ID) {
	t.Helper()
	history, err := mem.Load(context.Background(), id)
	requireNoError(t, err)
	want, err := order.Rehydrate(history)
	requireNoError(t, err)
	for v := 1; v <= len(history); v++ {
		at, err := order.Rehydrate(history[:v])
		requireNoError(t, err)
		row, err := eventlog.EncodeSnapshot(application.Snapshot{State: at.State()})
		requireNoError(t, err)
		snap, err := eventlog.DecodeSnapshot(row)
		requireNoError(t, err)
		if !reflect.DeepEqual(snap.State, at.State()) {
			t.Fatalf("version %d: the snapshot encoding changes the state: %v", v, snap.State.Diff(at.State()))
		}
		restored, err := order.RehydrateFrom(snap.State, history[v:])
		requireNoError(t, err)
		if !reflect.DeepEqual(restored.State(), want.State()) {
			t.Fatalf("from a snapshot at version %d: %v", v, restored.State().Diff(want.State()))
		}
	}
}

// changeAddresses runs n address changes and returns the last answer.
func (h snapshotHarness) changeAddresses(t *testing.T, id order.ID, n int) order.State {
	t.Helper()
	var s order.State
	for i := range n {
		var err error
		s, err = h.commands.ChangeShippingAddress(context.Background(), application.ChangeShippingAddress{
			Meta: application.CommandMeta{Actor: admin}, OrderID: id.String(), ShippingAddress: fmt.Sprintf("%d Oak St", i%2),
		})
		requireNoError(t, err)
	}
	return s
}

func checkFullReplay(t *testing.T, mem *memory.FakeStore, s order.State) {
	t.Helper()
	history, err := mem.Load(context.Background(), s.ID)
	requireNoError(t, err)
	full, err := order.Rehydrate(history)
	requireNoError(t, err)
	if !reflect.DeepEqual(full.State(), s) {
		t.Fatalf("answered %v away from the full replay", s.Diff(full.State()))
	}
}

// A snapshot write that fails after the commit costs nothing but replay:
// the command succeeds, the failure is logged and counted, and the order
// keeps loading correctly; the next write succeeds.
func TestFailedSnapshotWriteLeavesTheOrderCorrect(t *testing.T) {
	mem := memory.New()
	snapshots := &failingSnapshots{FakeStore: mem, fail: true}
	h := newSnapshotHarness(t, 3, snapshots, mem)
	created := h.create(t)
	s := h.changeAddresses(t, created.ID, 4) // version 5: the write at 3..5 fails each time
	checkFullReplay(t, mem, s)
	if _, found, _ := mem.LoadSnapshot(context.Background(), s.ID); found {
		t.Fatal("a snapshot was stored although every write failed")
	}
	if len(h.events.saved) == 0 || h.events.saved[0] {
		t.Fatalf("writes reported %v; want failures", h.events.saved)
	}
	if !strings.Contains(h.log.String(), "snapshot write failed") {
		t.Fatalf("no warning for the failed write in the log:\n%s", h.log.String())
	}
	snapshots.mu.Lock()
	snapshots.fail = false
	snapshots.mu.Unlock()
	s = h.changeAddresses(t, s.ID, 1)
	checkFullReplay(t, mem, s)
	if snap, found, err := mem.LoadSnapshot(context.Background(), s.ID); err != nil || !found || snap.State.Version != s.Version {
		t.Fatalf("after the store recovered: snapshot found %v at %d (%v); want %d", found, snap.State.Version, err, s.Version)
	}
}

// A snapshot left at a version the log does not have (its events rolled
// back after it was taken), or taken after a different event at its
// version, or unreadable, is ignored with a warning and a count, the order
// loads by full replay, and the next write replaces it.
func TestUnusableSnapshotFallsBackAndIsReplaced(t *testing.T) {
	for _, tc := range []struct {
		reason string
		plant  func(mem *memory.FakeStore, s order.State)
	}{
		{application.SnapshotReasonAhead, func(mem *memory.FakeStore, s order.State) {
			s.Version += 3
			requireNoError(t, mem.SaveSnapshot(context.Background(), application.Snapshot{State: s}))
		}},
		{application.SnapshotReasonStale, func(mem *memory.FakeStore, s order.State) {
			s.UpdatedAt = s.UpdatedAt.Add(time.Hour)
			requireNoError(t, mem.SaveSnapshot(context.Background(), application.Snapshot{State: s}))
		}},
		{application.SnapshotReasonCorrupt, func(mem *memory.FakeStore, s order.State) {
			mem.PutSnapshotRow(eventlog.StoredSnapshot{OrderID: s.ID, Version: s.Version, SchemaVersion: eventlog.CurrentSnapshotVersion, Data: []byte("{")})
		}},
		{application.SnapshotReasonSchema, func(mem *memory.FakeStore, s order.State) {
			mem.PutSnapshotRow(eventlog.StoredSnapshot{OrderID: s.ID, Version: s.Version, SchemaVersion: eventlog.CurrentSnapshotVersion + 1, Data: []byte("{}")})
		}},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			mem := memory.New()
			h := newSnapshotHarness(t, 2, mem, mem)
			s := h.create(t)
			s = h.changeAddresses(t, s.ID, 2) // version 3
			tc.plant(mem, s)
			s = h.changeAddresses(t, s.ID, 1) // loads around the plant, then writes at 4
			checkFullReplay(t, mem, s)
			if got := h.events.fallbacks; len(got) != 1 || got[0] != tc.reason {
				t.Fatalf("fallbacks %v; want [%s]", got, tc.reason)
			}
			if !strings.Contains(h.log.String(), "level=WARN") || !strings.Contains(h.log.String(), "reason="+tc.reason) {
				t.Fatalf("no warning naming %s in the log:\n%s", tc.reason, h.log.String())
			}
			snap, found, err := mem.LoadSnapshot(context.Background(), s.ID)
			if err != nil || !found || snap.State.Version != s.Version {
				t.Fatalf("the unusable snapshot was not replaced: found %v at %d (%v); want %d", found, snap.State.Version, err, s.Version)
			}
			s = h.changeAddresses(t, s.ID, 1)
			checkFullReplay(t, mem, s)
			if got := h.events.fallbacks; len(got) != 1 {
				t.Fatalf("fallbacks %v after the replacement; want none more", got)
			}
		})
	}
}

// A long order without a snapshot (written before snapshots were on, or
// whose writes all failed) counts as missing and gets one on its next
// command; an order too short for one does not count.
func TestMissingSnapshotIsCountedOnlyForLongOrders(t *testing.T) {
	mem := memory.New()
	off := newSnapshotHarness(t, 0, mem, mem)
	s := off.create(t)
	s = off.changeAddresses(t, s.ID, 4) // version 5, no snapshot
	h := newSnapshotHarness(t, 10, mem, mem)
	h.changeAddresses(t, s.ID, 1)
	if len(h.events.fallbacks) != 0 || len(h.events.saved) != 0 {
		t.Fatalf("an order of 6 events with SNAPSHOT_EVERY=10: fallbacks %v, writes %v; want none", h.events.fallbacks, h.events.saved)
	}
	h = newSnapshotHarness(t, 3, mem, mem)
	s = h.changeAddresses(t, s.ID, 1)
	if got := h.events.fallbacks; len(got) != 1 || got[0] != application.SnapshotReasonMissing {
		t.Fatalf("fallbacks %v; want [missing]", got)
	}
	if snap, found, _ := mem.LoadSnapshot(context.Background(), s.ID); !found || snap.State.Version != s.Version {
		t.Fatalf("no snapshot written for the long order at version %d", s.Version)
	}
}

// The idempotent replay of a request rebuilds the exact original answer,
// from a snapshot when one is at or before the request's version.
func TestReplayedRequestAnswersFromASnapshot(t *testing.T) {
	mem := memory.New()
	h := newSnapshotHarness(t, 2, mem, mem)
	s := h.create(t)
	s = h.changeAddresses(t, s.ID, 3) // snapshot at 3
	cmd := application.ChangeShippingAddress{
		Meta: application.CommandMeta{Actor: admin, RequestID: "req-1"}, OrderID: s.ID.String(), ShippingAddress: "9 Bay St",
	}
	first, err := h.commands.ChangeShippingAddress(context.Background(), cmd)
	requireNoError(t, err)
	h.changeAddresses(t, s.ID, 3) // the order moves on; snapshots follow
	again, err := h.commands.ChangeShippingAddress(context.Background(), cmd)
	requireNoError(t, err)
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("replayed answer differs from the original: %v", again.Diff(first))
	}
	if len(h.events.fallbacks) != 0 {
		t.Fatalf("fallbacks %v", h.events.fallbacks)
	}
}

func requireNoError(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
