package porttest

import (
	"context"
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

// SnapshotPorts is what one adapter provides for the snapshot contract.
type SnapshotPorts struct {
	Ports
	Snapshots application.SnapshotStore
	// PutRow stores a snapshot row as it is, bypassing the encoding: how the
	// suite plants what a store may meet (another schema, a corrupt payload).
	PutRow func(t *testing.T, id order.ID, version, schemaVersion int, data []byte)
	// Schema is the snapshot schema version the adapter writes and reads.
	Schema int
}

// RunSnapshots runs the snapshot contract against fresh, empty ports.
func RunSnapshots(t *testing.T, newPorts func(t *testing.T) SnapshotPorts) {
	runCases(t, newPorts, []testCase[SnapshotPorts]{
		{"save then load returns the state", snapshotSaveThenLoad},
		{"load after returns the events past a version", snapshotLoadAfter},
		{"a save replaces whatever snapshot was stored", snapshotReplaces},
		{"a snapshot of another schema is unusable, then replaced", snapshotOtherSchema},
		{"a corrupt snapshot is unusable", snapshotCorrupt},
		{"commands load from a snapshot and write the next one", snapshotCommandsUseAndWrite},
		{"commands replay around an unusable snapshot", snapshotCommandsFallBack},
	})
}

// longOrder appends an order of five events (create, add, quantity, address,
// confirm) and returns it with its state after each version.
func longOrder(t *testing.T, p SnapshotPorts) (*order.Order, []order.State) {
	t.Helper()
	f := apptest.NewOrders(t, 7)
	o := f.NewOrder("user-1")
	must(t, o.AddItem(f.Item("sku-3", 1, "2.50"), f.Tick()))
	must(t, o.ChangeItemQuantity("sku-1", 3, f.Tick()))
	must(t, o.ChangeShippingAddress(apptest.StructuredAddress(t), f.Tick()))
	must(t, o.Confirm(f.Tick()))
	appendOK(t, p.Ports, f.Commit(o, 0, ""))
	history := mustLoad(t, p.Ports, o.ID())
	states := make([]order.State, len(history)+1)
	for v := 1; v <= len(history); v++ {
		at, err := order.Rehydrate(history[:v])
		must(t, err)
		states[v] = at.State()
	}
	return o, states
}

func saveSnapshot(t *testing.T, p SnapshotPorts, s order.State) {
	t.Helper()
	must(t, p.Snapshots.SaveSnapshot(context.Background(), application.Snapshot{State: s, CreatedAt: s.UpdatedAt}))
}

func loadSnapshot(t *testing.T, p SnapshotPorts, id order.ID) (order.State, bool) {
	t.Helper()
	s, found, err := p.Snapshots.LoadSnapshot(context.Background(), id)
	must(t, err)
	return s.State, found
}

func snapshotSaveThenLoad(t *testing.T, p SnapshotPorts) {
	o, states := longOrder(t, p)
	if _, found := loadSnapshot(t, p, o.ID()); found {
		t.Fatal("a snapshot before any was saved")
	}
	for _, v := range []int{1, 3, 5} {
		saveSnapshot(t, p, states[v])
		got, found := loadSnapshot(t, p, o.ID())
		if !found {
			t.Fatalf("no snapshot after saving version %d", v)
		}
		if diff := got.Diff(states[v]); len(diff) > 0 {
			t.Fatalf("snapshot at version %d loads a different state: %v", v, diff)
		}
	}
}

func snapshotLoadAfter(t *testing.T, p SnapshotPorts) {
	o, states := longOrder(t, p)
	ctx := context.Background()
	full := mustLoad(t, p.Ports, o.ID())
	for after := 0; after <= len(full)+1; after++ {
		events, err := p.Snapshots.LoadAfter(ctx, o.ID(), after)
		must(t, err)
		want := full[min(after, len(full)):]
		if len(events) != len(want) {
			t.Fatalf("LoadAfter(%d) = %d events, want %d", after, len(events), len(want))
		}
		for i, e := range events {
			if e.Header() != want[i].Header() || e.EventType() != want[i].EventType() {
				t.Fatalf("LoadAfter(%d)[%d] = %s %+v, want %s %+v", after, i, e.EventType(), e.Header(), want[i].EventType(), want[i].Header())
			}
		}
		if after >= 1 && after <= len(full) {
			rebuilt, err := order.RehydrateFrom(states[after], events)
			must(t, err)
			if diff := rebuilt.State().Diff(states[len(full)]); len(diff) > 0 {
				t.Fatalf("state at %d plus LoadAfter(%d) differs from the full replay: %v", after, after, diff)
			}
		}
	}
	events, err := p.Snapshots.LoadAfter(ctx, apptest.NewOrders(t, 8).ID(), 0)
	if err != nil || len(events) != 0 {
		t.Fatalf("LoadAfter(unknown order) = %d events, %v; want none, no error", len(events), err)
	}
}

func snapshotReplaces(t *testing.T, p SnapshotPorts) {
	o, states := longOrder(t, p)
	ahead := states[5].Clone()
	ahead.Version = 9
	for _, plant := range []func(){
		func() { saveSnapshot(t, p, ahead) },
		func() { saveSnapshot(t, p, states[4]) },
		func() { p.PutRow(t, o.ID(), 8, p.Schema, []byte(`not json`)) },
		func() { p.PutRow(t, o.ID(), 8, p.Schema+1, []byte(`{}`)) },
	} {
		plant()
		saveSnapshot(t, p, states[2])
		if got, found := loadSnapshot(t, p, o.ID()); !found || got.Version != 2 {
			t.Fatalf("after a save at version 2: found %v at version %d; want 2", found, got.Version)
		}
	}
}

func wantUnusable(t *testing.T, p SnapshotPorts, id order.ID, reason string) {
	t.Helper()
	_, found, err := p.Snapshots.LoadSnapshot(context.Background(), id)
	var unusable *application.SnapshotUnusableError
	if !errors.As(err, &unusable) || unusable.Reason != reason {
		t.Fatalf("LoadSnapshot = found %v, %v; want *SnapshotUnusableError %q", found, err, reason)
	}
}

func snapshotOtherSchema(t *testing.T, p SnapshotPorts) {
	o, states := longOrder(t, p)
	for _, schema := range []int{p.Schema - 1, p.Schema + 1} {
		p.PutRow(t, o.ID(), 5, schema, []byte(`{}`))
		wantUnusable(t, p, o.ID(), application.SnapshotReasonSchema)
		saveSnapshot(t, p, states[2])
		if got, found := loadSnapshot(t, p, o.ID()); !found || got.Version != 2 {
			t.Fatalf("after replacing a schema %d snapshot: found %v at version %d; want 2", schema, found, got.Version)
		}
	}
}

func snapshotCorrupt(t *testing.T, p SnapshotPorts) {
	o, _ := longOrder(t, p)
	for _, data := range [][]byte{
		[]byte(`not json`),
		[]byte(`{}`),
		[]byte(`{"id":"` + o.ID().String() + `","version":"3"}`),
		[]byte(`{"id":"` + apptest.NewOrders(t, 9).ID().String() + `","version":"3"}`),
	} {
		p.PutRow(t, o.ID(), 3, p.Schema, data)
		wantUnusable(t, p, o.ID(), application.SnapshotReasonCorrupt)
	}
}

// snapshotRecorder counts what the commands tell a SnapshotObserver.
type snapshotRecorder struct {
	mu        sync.Mutex
	fallbacks []string
	saved     int
}

func (r *snapshotRecorder) SnapshotFallback(_ context.Context, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fallbacks = append(r.fallbacks, reason)
}

func (r *snapshotRecorder) SnapshotSaved(context.Context, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved++
}

func (r *snapshotRecorder) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.fallbacks)
}

// commandsOn runs commands on the ports; commands on one store need one ids.
func commandsOn(p SnapshotPorts, ids application.IDSource, every int, rec *snapshotRecorder) *application.Commands {
	clock := apptest.NewStepClock(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), time.Millisecond)
	return application.NewCommands(p.Store, p.Requests, clock, ids, application.CommandsConfig{
		Snapshots: application.SnapshotConfig{Store: p.Snapshots, Every: every, Observer: rec},
	})
}

// changeAddress runs one command on the order and checks its answer against
// a full replay of the log.
func changeAddress(t *testing.T, p SnapshotPorts, c *application.Commands, id order.ID, address string) order.State {
	t.Helper()
	got, err := c.ChangeShippingAddress(context.Background(), application.ChangeShippingAddress{
		Meta:    application.CommandMeta{Actor: application.Actor{ID: "user-1", Role: application.RoleCustomer}},
		OrderID: id.String(), ShippingAddress: address,
	})
	must(t, err)
	replayed, err := order.Rehydrate(mustLoad(t, p.Ports, id))
	must(t, err)
	if diff := got.Diff(replayed.State()); len(diff) > 0 {
		t.Fatalf("command answered a state that differs from the full replay: %v", diff)
	}
	return got
}

func snapshotCommandsUseAndWrite(t *testing.T, p SnapshotPorts) {
	o, states := longOrder(t, p)
	rec := &snapshotRecorder{}
	c := commandsOn(p, apptest.NewSeqIDs(6), 2, rec)
	saveSnapshot(t, p, states[4])
	changeAddress(t, p, c, o.ID(), "3 Oak St") // version 6: 2 past the snapshot at 4
	if got, _ := loadSnapshot(t, p, o.ID()); got.Version != 6 || rec.saved != 1 {
		t.Fatalf("after a command 2 events past the snapshot: snapshot at %d, %d writes; want 6, 1", got.Version, rec.saved)
	}
	changeAddress(t, p, c, o.ID(), "4 Ash St") // version 7: 1 past
	if got, _ := loadSnapshot(t, p, o.ID()); got.Version != 6 {
		t.Fatalf("after a command 1 event past the snapshot: snapshot at %d; want 6", got.Version)
	}
	if r := rec.reasons(); len(r) != 0 {
		t.Fatalf("fallbacks %v; want none", r)
	}
}

func snapshotCommandsFallBack(t *testing.T, p SnapshotPorts) {
	o, states := longOrder(t, p)
	ahead := states[5].Clone()
	ahead.Version = 9 // as if events 6..9 had been rolled back after the snapshot
	stale := states[3].Clone()
	stale.UpdatedAt = stale.UpdatedAt.Add(time.Second) // taken after another event 3
	plants := []struct {
		reason string
		plant  func()
	}{
		{application.SnapshotReasonAhead, func() { saveSnapshot(t, p, ahead) }},
		{application.SnapshotReasonStale, func() { saveSnapshot(t, p, stale) }},
		{application.SnapshotReasonSchema, func() { p.PutRow(t, o.ID(), 3, p.Schema+1, []byte(`{}`)) }},
		{application.SnapshotReasonCorrupt, func() { p.PutRow(t, o.ID(), 3, p.Schema, []byte(`{"id":`)) }},
	}
	ids := apptest.NewSeqIDs(6)
	for i, tc := range plants {
		t.Run(tc.reason, func(t *testing.T) {
			rec := &snapshotRecorder{}
			tc.plant()
			changeAddress(t, p, commandsOn(p, ids, 100, rec), o.ID(), fmt.Sprintf("%d Pine St", i+1))
			if r := rec.reasons(); !slices.Equal(r, []string{tc.reason}) {
				t.Fatalf("fallbacks %v; want [%s]", r, tc.reason)
			}
		})
	}
}
