package order_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
)

// strangeEvent is an Event the aggregate does not know.
type strangeEvent struct{ order.EventHeader }

func (strangeEvent) EventType() string { return "Strange" }

func TestRehydrateRejectsCorruptHistory(t *testing.T) {
	start := created(fixtureTotal, itemA, itemB)
	foreign := hdr(2)
	foreign.OrderID = otherOrder
	tests := []struct {
		name    string
		history []order.Event
		version int    // the version the error reports
		problem string // part of HistoryError.Problem
	}{
		{"not starting with OrderCreated", []order.Event{order.OrderConfirmed{EventHeader: hdr(1)}}, 1, "does not start with OrderCreated"},
		{"OrderCreated by pointer", []order.Event{&start}, 1, "does not start with OrderCreated"},
		{"OrderCreated at version 2", []order.Event{order.OrderCreated{EventHeader: hdr(2)}}, 2, "expected version 1"},
		{"version gap", []order.Event{start, order.OrderConfirmed{EventHeader: hdr(3)}}, 3, "expected version 2"},
		{"version repeated", []order.Event{start, order.OrderConfirmed{EventHeader: hdr(1)}}, 1, "expected version 2"},
		{"event of another order", []order.Event{start, order.OrderConfirmed{EventHeader: foreign}}, 2, "another order"},
		{"second OrderCreated", []order.Event{start, order.OrderCreated{EventHeader: hdr(2)}}, 2, "second OrderCreated"},
		{
			"delivered before shipped",
			[]order.Event{start, order.OrderConfirmed{EventHeader: hdr(2)}, order.OrderDelivered{EventHeader: hdr(3)}},
			3, "OrderDelivered while CONFIRMED",
		},
		{
			"quantity change on unknown item",
			[]order.Event{start, order.OrderItemQuantityChanged{EventHeader: hdr(2), ItemID: idOf(999), ProductID: "sku-x", Quantity: mustQuantity(2)}},
			2, "unknown item",
		},
		{
			"shipped after cancelled",
			[]order.Event{start, order.OrderCancelled{EventHeader: hdr(2), Reason: "r", PreviousStatus: order.StatusPending}, order.OrderShipped{EventHeader: hdr(3), Carrier: "c", TrackingNumber: "t"}},
			3, "OrderShipped while CANCELLED",
		},
		{
			"removal of an unknown item",
			[]order.Event{start, order.OrderItemRemoved{EventHeader: hdr(2), ItemID: idOf(999), ProductID: "sku-x"}},
			2, "removed unknown item",
		},
		{"unknown event type", []order.Event{start, strangeEvent{hdr(2)}}, 2, "unknown event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := order.Rehydrate(tt.history)
			if o != nil {
				t.Errorf("Rehydrate returned an order along with %v", err)
			}
			var he *order.HistoryError
			if !errors.As(err, &he) {
				t.Fatalf("got %T %v; want *order.HistoryError", err, err)
			}
			if he.Version != tt.version || !strings.Contains(he.Problem, tt.problem) {
				t.Errorf("got version %d problem %q; want version %d problem containing %q", he.Version, he.Problem, tt.version, tt.problem)
			}
		})
	}
}

func TestRehydrateEmptyHistoryIsNotFound(t *testing.T) {
	for _, h := range [][]order.Event{nil, {}} {
		o, err := order.Rehydrate(h)
		if !errors.Is(err, order.ErrNotFound) || o != nil {
			t.Errorf("Rehydrate(%v) = %v, %v; want nil, ErrNotFound", h, o, err)
		}
	}
}

func TestRehydratedOrderContinuesTheHistory(t *testing.T) {
	history := historyIn(order.StatusPaid)
	o := rehydrate(t, history)
	if o.ID() != orderID || o.UserID() != userID || o.Currency() != usd || o.Status() != order.StatusPaid || o.Version() != 3 {
		t.Fatalf("rehydrated %v %v %s %s v%d", o.ID(), o.UserID(), o.Currency(), o.Status(), o.Version())
	}
	if s := o.State(); !s.CreatedAt.Equal(at(1)) || !s.UpdatedAt.Equal(at(3)) {
		t.Errorf("created %v updated %v; want %v %v", s.CreatedAt, s.UpdatedAt, at(1), at(3))
	}
	if err := o.Ship("UPS", "1Z999", at(4)); err != nil {
		t.Fatal(err)
	}
	if got := o.PendingEvents(); len(got) != 1 || got[0].Header().Version != 4 {
		t.Fatalf("pending = %v; want only the version 4 event", got)
	}
}

func TestPendingEventsReturnsACopy(t *testing.T) {
	o, err := order.Create(orderID, userID, usd, address, []order.LineItem{itemA, itemB}, at(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Confirm(at(2)); err != nil {
		t.Fatal(err)
	}
	want := []order.Event{created(fixtureTotal, itemA, itemB), order.OrderConfirmed{EventHeader: hdr(2)}}

	got := o.PendingEvents()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PendingEvents = %v; want %v", got, want)
	}
	got[0] = order.OrderDelivered{EventHeader: hdr(9)}
	got = append(got[:1], order.OrderDelivered{EventHeader: hdr(10)})
	_ = append(got, order.OrderDelivered{EventHeader: hdr(11)})

	if again := o.PendingEvents(); !reflect.DeepEqual(again, want) {
		t.Errorf("PendingEvents changed through a returned slice:\ngot  %v\nwant %v", again, want)
	}
}

func TestCreateCopiesTheCallersItems(t *testing.T) {
	items := []order.LineItem{itemA, itemB}
	o, err := order.Create(orderID, userID, usd, address, items, at(1))
	if err != nil {
		t.Fatal(err)
	}
	items[0] = itemC
	if s := o.State(); s.Items[0] != itemA {
		t.Errorf("order line changed with the caller's slice: %v", s.Items[0])
	}
	if e := o.PendingEvents()[0].(order.OrderCreated); e.Items[0] != itemA {
		t.Errorf("event line changed with the caller's slice: %v", e.Items[0])
	}
}

func TestRehydrateCopiesTheEventsItems(t *testing.T) {
	start := created(fixtureTotal, itemA, itemB)
	o := rehydrate(t, []order.Event{start})
	start.Items[0] = itemC
	if s := o.State(); s.Items[0] != itemA {
		t.Errorf("order line changed with the event's slice: %v", s.Items[0])
	}
}

func TestSnapshotIsADeepCopy(t *testing.T) {
	// A delivered order has items, a payment and a shipment; one cancelled
	// after payment has a cancellation.
	for _, st := range []order.Status{order.StatusDelivered, order.StatusCancelled} {
		history := historyIn(st)
		if st == order.StatusCancelled {
			history = append(historyIn(order.StatusPaid), cancelledEvent(4, order.StatusPaid))
		}
		t.Run(string(st), func(t *testing.T) {
			o := rehydrate(t, history)
			want := o.State()

			s := o.State()
			mutate(&s)
			if got := o.State(); !reflect.DeepEqual(got, want) {
				t.Errorf("order changed through a snapshot:\ngot  %+v\nwant %+v", got, want)
			}

			c := want.Clone()
			mutate(&c)
			if got := o.State(); !reflect.DeepEqual(got, want) {
				t.Errorf("snapshot changed through its clone:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

// mutate changes every part of s reachable through a slice or pointer.
func mutate(s *order.State) {
	s.Items[0] = itemC
	s.Items = append(s.Items, itemC)
	slices.Reverse(s.Items)
	if s.Payment != nil {
		s.Payment.Reference = "tampered"
		s.Payment.Amount = mustUSD(1)
	}
	if s.Shipment != nil {
		s.Shipment.Carrier = "tampered"
		s.Shipment.DeliveredAt = t0
	}
	if s.Cancellation != nil {
		s.Cancellation.Reason = "tampered"
		s.Cancellation.RefundDue = false
	}
}

func TestCloneKeepsNilParts(t *testing.T) {
	c := order.State{ID: orderID}.Clone()
	if c.Items != nil || c.Payment != nil || c.Shipment != nil || c.Cancellation != nil {
		t.Errorf("Clone of an empty snapshot = %+v", c)
	}
}
