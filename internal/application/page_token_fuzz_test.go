package application_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

// pageTokenWorld is a small read model: alice owns three orders (one of
// them confirmed, with a longer history), bob owns two.
type pageTokenWorld struct {
	queries *application.Queries
	actors  []application.Actor
	owned   map[string][]order.State // user id → orders, newest first
}

func newPageTokenWorld(tb testing.TB) *pageTokenWorld {
	tb.Helper()
	ctx := context.Background()
	mem := memory.New()
	cmds := application.NewCommands(mem, mem, apptest.NewStepClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Millisecond), apptest.NewSeqIDs(0xf0), application.CommandsConfig{})
	alice := application.Actor{ID: "alice", Role: application.RoleCustomer}
	bob := application.Actor{ID: "bob", Role: application.RoleCustomer}
	staff := application.Actor{ID: "staff-1", Role: application.RoleStaff}
	w := &pageTokenWorld{queries: application.NewQueries(mem, mem), actors: []application.Actor{alice, bob}, owned: map[string][]order.State{}}
	create := func(a application.Actor) order.State {
		snap, err := cmds.CreateOrder(ctx, application.CreateOrder{
			Meta: application.CommandMeta{Actor: a}, UserID: a.ID, ShippingAddress: "1 Main St",
			Items: []application.NewItem{{ProductID: "sku-1", ProductName: "Widget", Quantity: 1, UnitPrice: "9.99"}},
		})
		if err != nil {
			tb.Fatal(err)
		}
		return snap
	}
	first := create(alice)
	for _, addr := range []string{"2 Elm St", "3 Oak St"} {
		if _, err := cmds.ChangeShippingAddress(ctx, application.ChangeShippingAddress{Meta: application.CommandMeta{Actor: alice}, OrderID: first.ID.String(), ShippingAddress: addr}); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := cmds.ConfirmOrder(ctx, application.ConfirmOrder{Meta: application.CommandMeta{Actor: staff}, OrderID: first.ID.String()}); err != nil {
		tb.Fatal(err)
	}
	create(bob)
	create(alice)
	create(bob)
	create(alice)
	for _, a := range w.actors {
		page, err := w.queries.ListOrders(ctx, application.ListOrders{Actor: a})
		if err != nil || len(page.Orders) < 2 {
			tb.Fatalf("%s's orders: %d, %v", a.ID, len(page.Orders), err)
		}
		w.owned[a.ID] = page.Orders
	}
	return w
}

// pageTokenStatuses are the status filters a fuzzed query uses.
var pageTokenStatuses = []string{"", "PENDING", "CONFIRMED"}

// FuzzPageToken sends arbitrary page tokens to ListOrders and
// ListOrderEvents. Whatever the token, the answer is a success or an
// *order.ValidationError on page_token, never a panic, and never shows
// another user's orders or another order's events.
//
// sel picks the query: bit 0 events or orders, bit 1 the actor (alice or
// bob), bit 2 (events) whether the order is the actor's own, bits 2–3
// (orders) the status filter; pageSize%4 is the page size (0: default).
func FuzzPageToken(f *testing.F) {
	w := newPageTokenWorld(f)
	ctx := context.Background()
	alice := w.actors[0]
	aliceOrder := w.owned["alice"][2] // the oldest: confirmed, four events
	bobOrder := w.owned["bob"][0]

	// Tokens the service issued, for orders and for events.
	page, err := w.queries.ListOrders(ctx, application.ListOrders{Actor: alice, PageSize: 1})
	if err != nil || page.NextPageToken == "" {
		f.Fatalf("first page: %v, token %q", err, page.NextPageToken)
	}
	f.Add(page.NextPageToken, uint8(0), uint8(1))
	f.Add(page.NextPageToken, uint8(2), uint8(1)) // alice's token, used by bob
	pending, err := w.queries.ListOrders(ctx, application.ListOrders{Actor: alice, Status: "PENDING", PageSize: 1})
	if err != nil || pending.NextPageToken == "" {
		f.Fatalf("first pending page: %v, token %q", err, pending.NextPageToken)
	}
	f.Add(pending.NextPageToken, uint8(4), uint8(1))
	events, err := w.queries.ListOrderEvents(ctx, application.ListOrderEvents{Actor: alice, OrderID: aliceOrder.ID.String(), PageSize: 2})
	if err != nil || events.NextPageToken == "" {
		f.Fatalf("first event page: %v, token %q", err, events.NextPageToken)
	}
	f.Add(events.NextPageToken, uint8(1), uint8(2))

	// Forged tokens: well-formed, but for another user, order or position.
	forge := func(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }
	f.Add(forge(fmt.Sprintf(`{"u":"bob","t":%q,"i":%q}`, bobOrder.CreatedAt.Format(time.RFC3339Nano), bobOrder.ID)), uint8(0), uint8(0))
	f.Add(forge(fmt.Sprintf(`{"u":"alice","t":"9999-12-31T23:59:59Z","i":%q}`, aliceOrder.ID)), uint8(0), uint8(3))
	f.Add(forge(fmt.Sprintf(`{"o":%q,"v":1}`, bobOrder.ID)), uint8(1), uint8(0))
	f.Add(forge(fmt.Sprintf(`{"o":%q,"v":-9223372036854775808}`, aliceOrder.ID)), uint8(1), uint8(1))
	f.Add(forge(fmt.Sprintf(`{"o":%q,"v":9223372036854775807}`, aliceOrder.ID)), uint8(1), uint8(1))
	f.Add("", uint8(0), uint8(0))
	f.Add("not a token!", uint8(1), uint8(0))
	f.Add(forge(`{"u":"alice","t":"0001-01-01T00:00:00Z","i":"x"}`), uint8(0), uint8(0))

	f.Fuzz(func(t *testing.T, token string, sel uint8, pageSize uint8) {
		actor := w.actors[int(sel>>1)&1]
		other := w.actors[1-int(sel>>1)&1]
		size := int(pageSize % 4)
		limit := size
		if limit == 0 {
			limit = application.DefaultPageSize
		}

		checkErr := func(err error) {
			t.Helper()
			var invalid *order.ValidationError
			if !errors.As(err, &invalid) || invalid.Field != "page_token" {
				t.Fatalf("token %q: error %T %v; want success or a validation error on page_token", token, err, err)
			}
			if token == "" {
				t.Fatalf("no token, yet error %v", err)
			}
		}

		if sel&1 == 0 {
			status := pageTokenStatuses[int(sel>>2)%len(pageTokenStatuses)]
			page, err := w.queries.ListOrders(ctx, application.ListOrders{Actor: actor, Status: status, PageSize: size, PageToken: token})
			if err != nil {
				checkErr(err)
				return
			}
			if len(page.Orders) > limit {
				t.Fatalf("token %q: %d orders on a page of %d", token, len(page.Orders), limit)
			}
			// The page is a run of the actor's own matching orders, in order.
			var mine []order.State
			for _, o := range w.owned[actor.ID] {
				if status == "" || string(o.Status) == status {
					mine = append(mine, o)
				}
			}
			start := -1
			for i, o := range page.Orders {
				if o.UserID != order.UserID(actor.ID) {
					t.Fatalf("token %q: %s sees order %s of %s", token, actor.ID, o.ID, o.UserID)
				}
				if status != "" && string(o.Status) != status {
					t.Fatalf("token %q: order %s is %s; filter is %s", token, o.ID, o.Status, status)
				}
				j := slices.IndexFunc(mine, func(m order.State) bool { return m.ID == o.ID })
				if j < 0 || (i > 0 && j != start+i) {
					t.Fatalf("token %q: page %v is not a run of %s's orders", token, ids(page.Orders), actor.ID)
				}
				if i == 0 {
					start = j
				}
			}
			if page.NextPageToken != "" {
				if _, err := w.queries.ListOrders(ctx, application.ListOrders{Actor: actor, Status: status, PageSize: size, PageToken: page.NextPageToken}); err != nil {
					t.Fatalf("token %q: the next page's token %q fails: %v", token, page.NextPageToken, err)
				}
			}
			return
		}

		// Events: of one's own order, or (bit 2) of the other user's order.
		target := w.owned[actor.ID][len(w.owned[actor.ID])-1]
		foreign := sel&4 != 0
		if foreign {
			target = w.owned[other.ID][0]
		}
		page, err := w.queries.ListOrderEvents(ctx, application.ListOrderEvents{Actor: actor, OrderID: target.ID.String(), PageSize: size, PageToken: token})
		if foreign {
			if !errors.Is(err, order.ErrNotFound) {
				t.Fatalf("token %q: %s lists the history of %s's order: %d events, %v", token, actor.ID, other.ID, len(page.Events), err)
			}
			return
		}
		if err != nil {
			checkErr(err)
			return
		}
		if len(page.Events) > limit {
			t.Fatalf("token %q: %d events on a page of %d", token, len(page.Events), limit)
		}
		for i, e := range page.Events {
			if e.OrderID != target.ID {
				t.Fatalf("token %q: event of order %s in the history of %s", token, e.OrderID, target.ID)
			}
			if e.Version < 1 || e.Version > target.Version || (i > 0 && e.Version != page.Events[i-1].Version+1) {
				t.Fatalf("token %q: versions %v", token, versions(page.Events))
			}
		}
		if page.NextPageToken != "" {
			if _, err := w.queries.ListOrderEvents(ctx, application.ListOrderEvents{Actor: actor, OrderID: target.ID.String(), PageSize: size, PageToken: page.NextPageToken}); err != nil {
				t.Fatalf("token %q: the next page's token %q fails: %v", token, page.NextPageToken, err)
			}
		}
	})
}

func ids(snaps []order.State) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID.String()
	}
	return out
}

func versions(events []application.EventRecord) []int {
	out := make([]int, len(events))
	for i, e := range events {
		out[i] = e.Version
	}
	return out
}
