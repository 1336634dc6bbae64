package order_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// lifecycle is the state machine as the issue specifies it, written out
// independently of the domain's own table: for each status, the actions it
// allows. Every other (status, action) pair must be refused.
var lifecycle = map[order.Status][]order.Action{
	order.StatusPending: {
		order.ActionAddItem, order.ActionRemoveItem, order.ActionChangeQuantity,
		order.ActionChangeAddress, order.ActionConfirm, order.ActionCancel,
	},
	order.StatusConfirmed: {order.ActionChangeAddress, order.ActionPay, order.ActionCancel},
	order.StatusPaid:      {order.ActionChangeAddress, order.ActionShip, order.ActionCancel},
	order.StatusShipped:   {order.ActionDeliver},
	order.StatusDelivered: {},
	order.StatusCancelled: {},
}

func lifecycleAllows(s order.Status, a order.Action) bool {
	for _, x := range lifecycle[s] {
		if x == a {
			return true
		}
	}
	return false
}

// actionCase runs one action with arguments that are valid for the fixture
// order, and names what it raises when the lifecycle allows it.
type actionCase struct {
	run       func(o *order.Order, now time.Time) error
	eventType string
	// status after success; "" means the status does not change.
	status order.Status
}

var actionCases = map[order.Action]actionCase{
	order.ActionAddItem: {
		func(o *order.Order, now time.Time) error { return o.AddItem(itemC, now) },
		order.TypeOrderItemAdded, order.StatusPending,
	},
	order.ActionRemoveItem: {
		func(o *order.Order, now time.Time) error { return o.RemoveItem("sku-b", now) },
		order.TypeOrderItemRemoved, order.StatusPending,
	},
	order.ActionChangeQuantity: {
		func(o *order.Order, now time.Time) error { return o.ChangeItemQuantity("sku-a", 3, now) },
		order.TypeOrderItemQuantityChanged, order.StatusPending,
	},
	order.ActionChangeAddress: {
		func(o *order.Order, now time.Time) error {
			return o.ChangeShippingAddress(textAddress("2 Elm St"), now)
		},
		order.TypeShippingAddressChanged, "",
	},
	order.ActionConfirm: {
		func(o *order.Order, now time.Time) error { return o.Confirm(now) },
		order.TypeOrderConfirmed, order.StatusConfirmed,
	},
	order.ActionPay: {
		func(o *order.Order, now time.Time) error { return o.Pay(fixtureTotal, "pay-1", now) },
		order.TypeOrderPaid, order.StatusPaid,
	},
	order.ActionShip: {
		func(o *order.Order, now time.Time) error { return o.Ship("UPS", "1Z999", now) },
		order.TypeOrderShipped, order.StatusShipped,
	},
	order.ActionDeliver: {
		func(o *order.Order, now time.Time) error { return o.Deliver(now) },
		order.TypeOrderDelivered, order.StatusDelivered,
	},
	order.ActionCancel: {
		func(o *order.Order, now time.Time) error { return o.Cancel("changed my mind", now) },
		order.TypeOrderCancelled, order.StatusCancelled,
	},
}

func TestLifecycleTableIsComplete(t *testing.T) {
	if len(order.Statuses) != 6 || len(order.Actions) != 9 {
		t.Fatalf("the domain has %d statuses and %d actions; this suite covers 6 × 9", len(order.Statuses), len(order.Actions))
	}
	if len(lifecycle) != len(order.Statuses) {
		t.Errorf("lifecycle lists %d statuses; want %d", len(lifecycle), len(order.Statuses))
	}
	for _, a := range order.Actions {
		if _, ok := actionCases[a]; !ok {
			t.Errorf("no action case for %q", a)
		}
	}
}

// TestEveryStatusAction runs all 54 (status, action) pairs.
func TestEveryStatusAction(t *testing.T) {
	for _, status := range order.Statuses {
		for _, action := range order.Actions {
			allowed := lifecycleAllows(status, action)
			verdict := "refused"
			if allowed {
				verdict = "allowed"
			}
			t.Run(string(status)+"/"+string(action)+"/"+verdict, func(t *testing.T) {
				history := historyIn(status)
				o := rehydrate(t, history)
				if o.Status() != status {
					t.Fatalf("fixture is %s; want %s", o.Status(), status)
				}
				if got := status.Allows(action); got != allowed {
					t.Errorf("%s.Allows(%q) = %v; want %v", status, action, got, allowed)
				}
				before := o.State()
				c := actionCases[action]
				now := at(len(history) + 1)

				err := c.run(o, now)

				if !allowed {
					if msg := isTransition(status, action)(err); msg != "" {
						t.Fatal(msg)
					}
					if n := len(o.PendingEvents()); n != 0 {
						t.Errorf("refused action raised %d events", n)
					}
					if after := o.State(); !reflect.DeepEqual(after, before) {
						t.Errorf("refused action changed the state:\nbefore %+v\nafter  %+v", before, after)
					}
					return
				}
				if err != nil {
					t.Fatalf("allowed action failed: %v", err)
				}
				events := o.PendingEvents()
				if len(events) != 1 {
					t.Fatalf("raised %d events; want 1", len(events))
				}
				e := events[0]
				if e.EventType() != c.eventType {
					t.Errorf("raised %s; want %s", e.EventType(), c.eventType)
				}
				if want := (order.EventHeader{OrderID: orderID, Version: len(history) + 1, OccurredAt: now}); e.Header() != want {
					t.Errorf("header = %+v; want %+v", e.Header(), want)
				}
				wantStatus := c.status
				if wantStatus == "" {
					wantStatus = status
				}
				if o.Status() != wantStatus {
					t.Errorf("status after %q = %s; want %s", action, o.Status(), wantStatus)
				}
				if o.Version() != len(history)+1 {
					t.Errorf("version = %d; want %d", o.Version(), len(history)+1)
				}
				checkInvariants(t, o.State())
				checkReplay(t, append(history, e), o.State())
			})
		}
	}
}

func TestStatusIsFinal(t *testing.T) {
	for _, s := range order.Statuses {
		want := len(lifecycle[s]) == 0
		if got := s.IsFinal(); got != want {
			t.Errorf("%s.IsFinal() = %v; want %v", s, got, want)
		}
	}
}

// TestActionsAreIdentifiersWithPhrases: action values reach API clients,
// so they are upper-case identifiers; messages use the phrase.
func TestActionsAreIdentifiersWithPhrases(t *testing.T) {
	for _, a := range order.Actions {
		if strings.Trim(string(a), "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != "" {
			t.Errorf("action %q is not an UPPER_SNAKE identifier", a)
		}
		if p := a.Phrase(); p == string(a) || p == "" {
			t.Errorf("action %s has no phrase", a)
		}
	}
	if got := order.Action("SOMETHING_NEW").Phrase(); got != "SOMETHING_NEW" {
		t.Errorf("phrase of an unknown action = %q", got)
	}
}
