package application_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// lifecycle runs commands on a new order of alice's and returns the state
// each returned: states[v-1] is the order at version v.
func lifecycle(t *testing.T, app *application.Service, steps ...func(id string) (order.State, error)) []order.State {
	t.Helper()
	created, err := app.CreateOrder.Handle(context.Background(), application.CreateOrder{
		Meta: application.CommandMeta{Actor: alice}, UserID: alice.ID, ShippingAddress: "1 Main St",
		Items: []application.NewItem{{ProductID: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"}},
	})
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	states := []order.State{created}
	for i, step := range steps {
		s, err := step(created.ID.String())
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		if s.Version != len(states)+1 {
			t.Fatalf("step %d raised no single event: version %d after %d", i+1, s.Version, len(states))
		}
		states = append(states, s)
	}
	return states
}

// The lifecycles the time-travel tests walk: every kind of event.
func lifecycles(app *application.Service) map[string][]func(id string) (order.State, error) {
	ctx := context.Background()
	as := func(a application.Actor) application.CommandMeta { return application.CommandMeta{Actor: a} }
	add := func(id string) (order.State, error) {
		return app.AddOrderItem.Handle(ctx, application.AddOrderItem{Meta: as(alice), OrderID: id,
			Item: application.NewItem{ProductID: "sku-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5"}})
	}
	quantity := func(id string) (order.State, error) {
		return app.ChangeOrderItemQuantity.Handle(ctx, application.ChangeOrderItemQuantity{Meta: as(alice), OrderID: id, ProductID: "sku-1", Quantity: 3})
	}
	remove := func(id string) (order.State, error) {
		return app.RemoveOrderItem.Handle(ctx, application.RemoveOrderItem{Meta: as(alice), OrderID: id, ProductID: "sku-2"})
	}
	confirm := func(id string) (order.State, error) {
		return app.ConfirmOrder.Handle(ctx, application.ConfirmOrder{Meta: as(staff), OrderID: id})
	}
	pay := func(id string) (order.State, error) {
		return app.PayOrder.Handle(ctx, application.PayOrder{Meta: as(staff), OrderID: id, Amount: "59.97", PaymentReference: "pay-1"})
	}
	ship := func(id string) (order.State, error) {
		return app.ShipOrder.Handle(ctx, application.ShipOrder{Meta: as(staff), OrderID: id, Carrier: "UPS", TrackingNumber: "1Z999"})
	}
	deliver := func(id string) (order.State, error) {
		return app.DeliverOrder.Handle(ctx, application.DeliverOrder{Meta: as(staff), OrderID: id})
	}
	cancel := func(id string) (order.State, error) {
		return app.CancelOrder.Handle(ctx, application.CancelOrder{Meta: as(alice), OrderID: id, Reason: "changed my mind"})
	}
	return map[string][]func(id string) (order.State, error){
		"delivered":          {add, quantity, remove, confirm, pay, ship, deliver},
		"cancelled and paid": {quantity, confirm, pay, cancel},
	}
}

func getAsOf(app *application.Service, actor application.Actor, id order.ID, version int, at time.Time) (order.State, error) {
	return app.GetOrder.Handle(context.Background(), application.GetOrder{Actor: actor, OrderID: id.String(), AsOfVersion: version, AsOfTime: at})
}

func TestGetOrderAsOfVersionIsWhatTheCommandReturned(t *testing.T) {
	app := newService(t)
	for name, steps := range lifecycles(app) {
		t.Run(name, func(t *testing.T) {
			states := lifecycle(t, app, steps...)
			for _, want := range states {
				for _, actor := range []application.Actor{alice, staff} {
					got, err := getAsOf(app, actor, want.ID, want.Version, time.Time{})
					if err != nil {
						t.Fatalf("%s as of version %d: %v", actor.ID, want.Version, err)
					}
					if diff := got.Diff(want); len(diff) > 0 {
						t.Errorf("%s as of version %d differs from the command's answer: %v", actor.ID, want.Version, diff)
					}
				}
			}
		})
	}
}

func TestGetOrderAsOfTime(t *testing.T) {
	app := newService(t)
	for name, steps := range lifecycles(app) {
		t.Run(name, func(t *testing.T) {
			states := lifecycle(t, app, steps...)
			last := states[len(states)-1]
			check := func(at time.Time, want order.State) {
				t.Helper()
				got, err := getAsOf(app, alice, want.ID, 0, at)
				if err != nil {
					t.Fatalf("as of %s: %v", at.Format(time.RFC3339Nano), err)
				}
				if diff := got.Diff(want); len(diff) > 0 {
					t.Errorf("as of %s: want version %d, differs: %v", at.Format(time.RFC3339Nano), want.Version, diff)
				}
			}
			for i, want := range states {
				occurred := want.UpdatedAt // the time of the event that made version i+1
				if i > 0 && !occurred.After(states[i-1].UpdatedAt) {
					t.Fatalf("events %d and %d share a time: the test needs distinct times", i, i+1)
				}
				check(occurred, want)                       // at the event
				check(occurred.Add(time.Microsecond), want) // between it …
				if i+1 < len(states) {                      // … and the next
					check(states[i+1].UpdatedAt.Add(-time.Microsecond), want)
				}
			}
			check(last.UpdatedAt.Add(24*time.Hour), last) // after the last event: as it is now
		})
	}
}

func TestGetOrderInThePastRefusesPointsOutsideTheHistory(t *testing.T) {
	app := newService(t)
	states := lifecycle(t, app, lifecycles(app)["cancelled and paid"]...)
	id := states[0].ID
	tests := []struct {
		name    string
		version int
		at      time.Time
		field   string
	}{
		{"version beyond the current one", len(states) + 1, time.Time{}, "as_of_version"},
		{"negative version", -1, time.Time{}, "as_of_version"},
		{"before the order was created", 0, states[0].CreatedAt.Add(-time.Microsecond), "as_of_time"},
		{"long before", 0, time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), "as_of_time"},
		{"both a version and a time", 1, states[0].CreatedAt, "as_of_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := getAsOf(app, alice, id, tc.version, tc.at)
			var invalid *order.ValidationError
			if !errors.As(err, &invalid) || invalid.Field != tc.field {
				t.Fatalf("error = %v, want a validation error on %s", err, tc.field)
			}
		})
	}
}

func TestGetOrderInThePastIsAuthorizedLikeThePresent(t *testing.T) {
	app := newService(t)
	states := lifecycle(t, app, lifecycles(app)["cancelled and paid"]...)
	id := states[0].ID
	// Another customer learns nothing: not the order, not how long its
	// history is, not when it was created.
	for _, tc := range []struct {
		name    string
		version int
		at      time.Time
	}{
		{"a version it has", 1, time.Time{}},
		{"a version beyond it", 99, time.Time{}},
		{"a time it has", 0, states[1].UpdatedAt},
		{"a time before it", 0, states[0].CreatedAt.Add(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := getAsOf(app, bob, id, tc.version, tc.at); !errors.Is(err, order.ErrNotFound) {
				t.Fatalf("bob reads alice's order as of %d / %v: %v, want not found", tc.version, tc.at, err)
			}
		})
	}
	if _, err := getAsOf(app, alice, order.ID{0x0e, 6: 0x70, 8: 0x80, 15: 1}, 1, time.Time{}); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("an unknown order as of version 1: %v, want not found", err)
	}
	if _, err := app.GetOrder.Handle(context.Background(), application.GetOrder{Actor: alice, OrderID: "not-a-uuid", AsOfVersion: 1}); !isInvalidOn(err, "order_id") {
		t.Fatalf("a malformed id as of version 1: %v, want a validation error on order_id", err)
	}
}

func isInvalidOn(err error, field string) bool {
	var invalid *order.ValidationError
	return errors.As(err, &invalid) && invalid.Field == field
}

// versionsFrom reads an order's whole history from a version, pageSize at a
// time, and returns the versions it read.
func versionsFrom(t *testing.T, app *application.Service, id order.ID, from, pageSize int) []int {
	t.Helper()
	var versions []int
	token := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		page, err := app.ListOrderEvents.Handle(context.Background(), application.ListOrderEvents{
			Actor: alice, OrderID: id.String(), FromVersion: from, PageSize: pageSize, PageToken: token,
		})
		if err != nil {
			t.Fatalf("from %d, page %d: %v", from, pages+1, err)
		}
		for _, e := range page.Events {
			versions = append(versions, e.Version)
		}
		if token = page.NextPageToken; token == "" {
			return versions
		}
	}
}

func TestListOrderEventsFromAVersion(t *testing.T) {
	app := newService(t)
	states := lifecycle(t, app, lifecycles(app)["delivered"]...)
	id, current := states[0].ID, len(states)
	for _, from := range []int{0, 1, 2, 3, current, current + 1, current + 50} {
		for _, size := range []int{1, 2, 3, 50} {
			var want []int
			for v := max(from, 1); v <= current; v++ {
				want = append(want, v)
			}
			if got := versionsFrom(t, app, id, from, size); !slices.Equal(got, want) {
				t.Errorf("from %d in pages of %d: versions %v, want %v", from, size, got, want)
			}
		}
	}
}

func TestListOrderEventsTokenBelongsToItsFromVersion(t *testing.T) {
	app := newService(t)
	ctx := context.Background()
	states := lifecycle(t, app, lifecycles(app)["delivered"]...)
	id := states[0].ID.String()
	list := func(from int, token string) (application.EventPage, error) {
		return app.ListOrderEvents.Handle(ctx, application.ListOrderEvents{Actor: alice, OrderID: id, FromVersion: from, PageSize: 2, PageToken: token})
	}
	fromStart, err := list(0, "")
	if err != nil || fromStart.NextPageToken == "" {
		t.Fatalf("first page: %v, token %q", err, fromStart.NextPageToken)
	}
	fromThree, err := list(3, "")
	if err != nil || fromThree.NextPageToken == "" {
		t.Fatalf("first page from 3: %v, token %q", err, fromThree.NextPageToken)
	}
	// 0 and 1 both mean "from the start": one query.
	if page, err := list(1, fromStart.NextPageToken); err != nil || page.Events[0].Version != 3 {
		t.Fatalf("the token of from 0 with from 1: %v", err)
	}
	for _, tc := range []struct {
		name  string
		from  int
		token string
		field string
	}{
		{"a token from the start with from 3", 3, fromStart.NextPageToken, "from_version"},
		{"a token from 3 without from", 0, fromThree.NextPageToken, "from_version"},
		{"a token from 3 with from 4", 4, fromThree.NextPageToken, "from_version"},
		{"negative from", -1, "", "from_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := list(tc.from, tc.token); !isInvalidOn(err, tc.field) {
				t.Fatalf("error = %v, want a validation error on %s", err, tc.field)
			}
		})
	}
	if _, err := app.ListOrderEvents.Handle(ctx, application.ListOrderEvents{Actor: bob, OrderID: id, FromVersion: 2}); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("bob reads alice's history from 2: %v, want not found", err)
	}
}
