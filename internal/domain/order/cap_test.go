package order_test

import (
	"testing"

	"github.com/acme/order-service/internal/domain/order"
)

// editToCap changes itemA's quantity back and forth (the cheapest edit)
// until the order's edits reach the cap, and returns the order.
func editToCap(t *testing.T) *order.Order {
	t.Helper()
	o := rehydrate(t, historyIn(order.StatusPending))
	for q := int64(3); o.Version() < order.MaxEvents-4; q = 5 - q { // 3, 2, 3, …
		if err := o.ChangeItemQuantity(itemA.ProductID(), q, at(o.Version()+1)); err != nil {
			t.Fatalf("edit to version %d: %v", o.Version()+1, err)
		}
	}
	return o
}

func TestEditsStopShortOfTheEventCap(t *testing.T) {
	if order.MaxEvents < 10_000 {
		t.Fatalf("MaxEvents = %d; an order must hold at least 10,000 events", order.MaxEvents)
	}
	o := editToCap(t)
	last := o.Version()
	refused := map[string]error{
		"change quantity": o.ChangeItemQuantity(itemA.ProductID(), 7, at(last+1)),
		"add item":        o.AddItem(itemC, at(last+1)),
		"remove item":     o.RemoveItem(itemB.ProductID(), at(last+1)),
		"change address":  o.ChangeShippingAddress(textAddress("2 Side St"), at(last+1)),
	}
	for name, err := range refused {
		if msg := isRule(order.RuleTooManyEvents)(err); msg != "" {
			t.Errorf("%s at the cap: %s", name, msg)
		}
	}
	if o.Version() != last || len(o.PendingEvents()) != last-1 {
		t.Fatalf("a refused edit changed the order: version %d, %d pending; want %d, %d", o.Version(), len(o.PendingEvents()), last, last-1)
	}

	// The reserve lets the order finish its lifecycle, up to the cap exactly.
	steps := []func() error{
		func() error { return o.Confirm(at(o.Version() + 1)) },
		func() error { return o.Pay(o.State().Total, "pay-1", at(o.Version()+1)) },
		func() error { return o.Ship("UPS", "1Z999", at(o.Version()+1)) },
		func() error { return o.Deliver(at(o.Version() + 1)) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("lifecycle step %d at version %d: %v", i+1, o.Version(), err)
		}
	}
	if o.Version() != order.MaxEvents || o.Status() != order.StatusDelivered {
		t.Fatalf("finished at version %d, %s; want %d, DELIVERED", o.Version(), o.Status(), order.MaxEvents)
	}
}

func TestNoEventPassesTheCap(t *testing.T) {
	// A confirmed order whose history is full: MaxEvents events, the last
	// the confirmation. Rehydrate reads it (history is what it is); no
	// command may add to it.
	edits := editToCap(t).PendingEvents()
	up, down := edits[0].(order.OrderItemQuantityChanged), edits[1].(order.OrderItemQuantityChanged)
	history := historyIn(order.StatusPending)
	for v := 2; v < order.MaxEvents; v++ {
		e := up
		if v%2 == 1 {
			e = down
		}
		e.EventHeader = hdr(v)
		history = append(history, e)
	}
	history = append(history, order.OrderConfirmed{EventHeader: hdr(order.MaxEvents)})
	o := rehydrate(t, history)
	if o.Version() != order.MaxEvents || o.Status() != order.StatusConfirmed {
		t.Fatalf("rehydrated at version %d, %s", o.Version(), o.Status())
	}
	for name, err := range map[string]error{
		"cancel": o.Cancel("changed my mind", at(order.MaxEvents+1)),
		"pay":    o.Pay(o.State().Total, "pay-1", at(order.MaxEvents+1)),
	} {
		if msg := isRule(order.RuleTooManyEvents)(err); msg != "" {
			t.Errorf("%s past the cap: %s", name, msg)
		}
	}
	if len(o.PendingEvents()) != 0 || o.Version() != order.MaxEvents {
		t.Fatalf("a refused event changed the order: version %d, %d pending", o.Version(), len(o.PendingEvents()))
	}
}
