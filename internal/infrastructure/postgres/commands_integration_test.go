//go:build integration

package postgres_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/system"
)

// newTestCommands wires the application to a store on a fresh database, as
// the service does, with real time and UUIDv7 ids.
func newStoreCommands(t *testing.T, maxAttempts int) (*application.Commands, *application.Queries, *pgxpool.Pool) {
	t.Helper()
	store, pool := newTestStore(t)
	cmds := application.NewCommands(store, store, system.Clock{}, system.UUIDv7{}, application.CommandsConfig{
		Origin: application.Origin{ServiceName: "order-service", CellID: "cell-test"}, MaxAttempts: maxAttempts,
	})
	return cmds, application.NewQueries(store, store), pool
}

func storeStaff() application.Actor {
	return application.Actor{ID: "clerk-1", Role: application.RoleStaff}
}

func storeCustomer(id string) application.Actor {
	return application.Actor{ID: id, Role: application.RoleCustomer}
}

func storeCreateFor(user, requestID string) application.CreateOrder {
	return application.CreateOrder{
		Meta:   application.CommandMeta{Actor: storeCustomer(user), RequestID: requestID},
		UserID: user, ShippingAddress: "1 Main St", Currency: "EUR",
		Items: []application.NewItem{{ProductID: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "9.99"}},
	}
}

// 32 commands race on one order: half name the version they read and must
// either win or get the conflict with the current version; half name none
// and retry until they win or run out of attempts. The log ends contiguous,
// the projection at its last version, and every winner's change is in it.
func TestCommandsRaceOnOneOrder(t *testing.T) {
	t.Parallel()
	const racers = 32
	cmds, queries, pool := newStoreCommands(t, 50)
	ctx := t.Context()
	created, err := cmds.CreateOrder(ctx, storeCreateFor("user-1", ""))
	storeMust(t, err)

	start := make(chan struct{})
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			meta := application.CommandMeta{Actor: storeCustomer("user-1")}
			if i%2 == 0 {
				seen, err := queries.GetOrder(ctx, meta.Actor, created.ID.String())
				if err != nil {
					errs[i] = err
					return
				}
				meta.ExpectedVersion = seen.Version
			}
			<-start
			errs[i] = raceCommand(t, cmds, meta, created.ID, i)
		})
	}
	close(start)
	wg.Wait()

	wins := 0
	for i, err := range errs {
		var conflict *order.ConcurrencyError
		switch {
		case err == nil:
			wins++
		case !errors.As(err, &conflict):
			t.Errorf("racer %d: %v, want success or *order.ConcurrencyError", i, err)
		case i%2 == 0 && conflict.CurrentVersion <= conflict.ExpectedVersion:
			t.Errorf("racer %d: conflict %+v does not carry the newer current version", i, conflict)
		}
	}
	versions := storeEventVersions(t, pool, created.ID)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("event versions %v are not contiguous from 1", versions)
		}
	}
	if len(versions) != 1+wins {
		t.Fatalf("%d events for 1 create and %d winning commands", len(versions), wins)
	}
	final, err := queries.GetOrder(ctx, storeStaff(), created.ID.String())
	storeMust(t, err)
	if final.Version != len(versions) {
		t.Fatalf("orders.version = %d, last event version %d", final.Version, len(versions))
	}
	storeCheckWinnersApplied(t, final, errs)
	t.Logf("%d of %d racers won; order at version %d with %d lines", wins, racers, final.Version, len(final.Items))
	storeConsistent(t, pool)
}

// storeCheckWinnersApplied checks that exactly the winning AddOrderItem
// racers have their line in the order: no lost and no phantom writes.
func storeCheckWinnersApplied(t *testing.T, final order.State, errs []error) {
	t.Helper()
	lines := map[string]bool{}
	for _, it := range final.Items {
		lines[it.ProductID()] = true
	}
	for i, err := range errs {
		if i%4 >= 2 {
			continue
		}
		if product := fmt.Sprintf("sku-race-%d", i); lines[product] != (err == nil) {
			t.Errorf("racer %d (error %v): line %s present = %v", i, err, product, lines[product])
		}
	}
}

// raceCommand is racer i's command: even racers add a line, odd racers
// move the order, so both item rewrites and plain updates race.
func raceCommand(t *testing.T, cmds *application.Commands, meta application.CommandMeta, id order.ID, i int) error {
	if i%4 < 2 {
		_, err := cmds.AddOrderItem(t.Context(), application.AddOrderItem{
			Meta: meta, OrderID: id.String(),
			Item: application.NewItem{ProductID: fmt.Sprintf("sku-race-%d", i), ProductName: "Racer", Quantity: 1, UnitPrice: "1.00"},
		})
		return err
	}
	_, err := cmds.ChangeShippingAddress(t.Context(), application.ChangeShippingAddress{
		Meta: meta, OrderID: id.String(), ShippingAddress: fmt.Sprintf("%d Race Rd", i),
	})
	return err
}

func storeEventVersions(t *testing.T, pool *pgxpool.Pool, id order.ID) []int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT version FROM order_events WHERE aggregate_id = $1 ORDER BY version`, id)
	storeMust(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	storeMust(t, err)
	return versions
}

func storeConsistent(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	report, err := postgres.CheckConsistency(t.Context(), pool)
	storeMust(t, err)
	if !report.Clean() {
		t.Fatalf("consistency check found %d problems: %v", report.ProblemCount, report.Problems)
	}
}

// A retried command gets the original answer and writes nothing; the same
// request id with another payload is refused; concurrent duplicates create
// one order between them.
func TestCommandsIdempotentReplay(t *testing.T) {
	t.Parallel()
	cmds, _, pool := newStoreCommands(t, 5)
	ctx := t.Context()

	first, err := cmds.CreateOrder(ctx, storeCreateFor("user-1", "req-create"))
	storeMust(t, err)
	again, err := cmds.CreateOrder(ctx, storeCreateFor("user-1", "req-create"))
	storeMust(t, err)
	if diff := again.Diff(first); len(diff) > 0 {
		t.Fatalf("replayed create differs from the original: %v", diff)
	}

	confirm := application.ConfirmOrder{Meta: application.CommandMeta{Actor: storeStaff(), RequestID: "req-confirm"}, OrderID: first.ID.String()}
	confirmed, err := cmds.ConfirmOrder(ctx, confirm)
	storeMust(t, err)
	replayed, err := cmds.ConfirmOrder(ctx, confirm) // a second Confirm would be an illegal transition
	storeMust(t, err)
	if diff := replayed.Diff(confirmed); len(diff) > 0 {
		t.Fatalf("replayed confirm differs from the original: %v", diff)
	}
	if n := len(storeEventVersions(t, pool, first.ID)); n != 2 {
		t.Fatalf("order has %d events after two creates and two confirms, want 2", n)
	}

	other := storeCreateFor("user-1", "req-create")
	other.ShippingAddress = "2 Other St"
	_, err = cmds.CreateOrder(ctx, other)
	var reused *application.RequestIDReusedError
	if !errors.As(err, &reused) {
		t.Fatalf("same request id, different payload: %v, want *application.RequestIDReusedError", err)
	}

	const duplicates = 8
	ids := make([]order.ID, duplicates)
	var wg sync.WaitGroup
	for i := range duplicates {
		wg.Go(func() {
			snap, err := cmds.CreateOrder(ctx, storeCreateFor("user-2", "req-concurrent"))
			if err != nil {
				t.Errorf("duplicate %d: %v", i, err)
			}
			ids[i] = snap.ID
		})
	}
	wg.Wait()
	var orders int
	storeMust(t, pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE user_id = 'user-2'`).Scan(&orders))
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent duplicates answered with different orders: %v", ids)
		}
	}
	if orders != 1 {
		t.Fatalf("%d concurrent duplicates created %d orders, want 1", duplicates, orders)
	}
}

// Paging through 1,000 orders returns each once, newest first, while more
// orders for the same user keep arriving: they are newer than the cursor,
// so they can only show up on the first page.
func TestListOrdersPagesWhileOrdersAreCreated(t *testing.T) {
	t.Parallel()
	const existing, pageSize, creators = 1000, 37, 3
	cmds, queries, _ := newStoreCommands(t, 1)
	ctx := t.Context()
	originals := storeCreateMany(t, cmds, "user-1", existing)

	stop := make(chan struct{})
	var added atomic.Int64
	var wg sync.WaitGroup
	stopCreators := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopCreators() // also when a check fails midway
	for range creators {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := cmds.CreateOrder(ctx, storeCreateFor("user-1", "")); err != nil {
					t.Errorf("concurrent create: %v", err)
					return
				}
				added.Add(1)
			}
		})
	}
	var listed []order.State
	token, pages := "", 0
	for {
		page, err := queries.ListOrders(ctx, application.ListOrders{Actor: storeCustomer("user-1"), PageSize: pageSize, PageToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, snap := range page.Orders {
			if _, original := originals[snap.ID]; !original && pages > 1 {
				t.Errorf("page %d lists order %s created after paging began", pages, snap.ID)
			}
		}
		listed = append(listed, page.Orders...)
		if token = page.NextPageToken; token == "" {
			break
		}
		if pages == 1 {
			storeWaitFor(t, func() bool { return added.Load() >= creators }, "concurrent creates")
		}
	}
	stopCreators()

	storeCheckNewestFirst(t, listed)
	seen := map[order.ID]bool{}
	for _, snap := range listed {
		if seen[snap.ID] {
			t.Fatalf("order %s listed twice", snap.ID)
		}
		seen[snap.ID] = true
	}
	for id := range originals {
		if !seen[id] {
			t.Fatalf("order %s never listed", id)
		}
	}
	t.Logf("%d pages, %d orders listed, %d created concurrently", pages, len(listed), added.Load())
}

// storeWaitFor polls cond until it holds, failing the test after a deadline.
func storeWaitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// storeCreateMany creates n orders for the user, a few at a time.
func storeCreateMany(t *testing.T, cmds *application.Commands, user string, n int) map[order.ID]struct{} {
	t.Helper()
	const workers = 8
	var mu sync.Mutex
	ids := make(map[order.ID]struct{}, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				snap, err := cmds.CreateOrder(t.Context(), storeCreateFor(user, ""))
				if err != nil {
					t.Errorf("create: %v", err)
					return
				}
				mu.Lock()
				ids[snap.ID] = struct{}{}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(ids) != n {
		t.Fatalf("created %d orders, want %d", len(ids), n)
	}
	return ids
}

func storeCheckNewestFirst(t *testing.T, listed []order.State) {
	t.Helper()
	for i := 1; i < len(listed); i++ {
		a, b := listed[i-1], listed[i]
		if a.CreatedAt.Before(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && bytes.Compare(a.ID[:], b.ID[:]) <= 0) {
			t.Fatalf("orders %d and %d are out of order: %s@%s then %s@%s",
				i-1, i, a.ID, a.CreatedAt.Format(time.RFC3339Nano), b.ID, b.CreatedAt.Format(time.RFC3339Nano))
		}
	}
}
