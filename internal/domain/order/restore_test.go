package order_test

import (
	"reflect"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
)

func TestRehydrateFromEveryPointEqualsFullReplay(t *testing.T) {
	for _, s := range []order.Status{order.StatusDelivered, order.StatusCancelled} {
		history := historyIn(s)
		want := rehydrate(t, history).State()
		for k := 1; k <= len(history); k++ {
			restored, err := order.RehydrateFrom(rehydrate(t, history[:k]).State(), history[k:])
			if err != nil {
				t.Fatalf("%s: RehydrateFrom(version %d): %v", s, k, err)
			}
			if got := restored.State(); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s from version %d: %v", s, k, got.Diff(want))
			}
			if n := len(restored.PendingEvents()); n != 0 {
				t.Fatalf("%s from version %d: %d pending events; want 0", s, k, n)
			}
		}
	}
}

func TestRehydrateFromChecksTheEventsLikeRehydrate(t *testing.T) {
	history := historyIn(order.StatusShipped) // versions 1..4
	at2 := rehydrate(t, history[:2]).State()
	tests := []struct {
		name  string
		state order.State
		after []order.Event
		check errCheck
	}{
		{"a gap after the snapshot", at2, history[3:], isHistory(4)},
		{"an event the snapshot already holds", at2, history[1:], isHistory(2)},
		{"an event of another order", at2, []order.Event{order.OrderPaid{
			EventHeader: order.EventHeader{OrderID: otherOrder, Version: 3, OccurredAt: at(3)}, Amount: fixtureTotal,
		}}, isHistory(3)},
		{"a transition the status forbids", rehydrate(t, history[:1]).State(), history[2:3], isHistory(3)},
		{"a second OrderCreated", at2, []order.Event{order.OrderCreated{EventHeader: hdr(3), UserID: userID, Currency: usd}}, isHistory(3)},
		{"a snapshot without identity", order.State{Version: 2}, nil, isHistory(2)},
		{"a snapshot at version 0", order.State{ID: orderID}, nil, isHistory(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := order.RehydrateFrom(tt.state, tt.after)
			if msg := tt.check(err); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

func TestRehydrateFromDoesNotShareTheCallersState(t *testing.T) {
	history := historyIn(order.StatusPending)
	state := rehydrate(t, history).State()
	o, err := order.RehydrateFrom(state, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.RemoveItem(itemA.ProductID(), at(2)); err != nil {
		t.Fatal(err)
	}
	if len(state.Items) != 2 {
		t.Fatalf("the caller's state lost a line: %d items", len(state.Items))
	}
}
