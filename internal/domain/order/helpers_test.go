package order_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// The domain takes time and identifiers as parameters, so every test runs on a
// fixed clock and counter-based ids.

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// at is the time of the event with version v: one minute apart.
func at(v int) time.Time { return t0.Add(time.Duration(v-1) * time.Minute) }

// idOf returns a deterministic, non-nil id for n.
func idOf(n uint64) order.ID {
	var id order.ID
	id[0] = 0xac
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

// idSource hands out fresh ids in sequence.
type idSource struct{ n uint64 }

func (s *idSource) next() order.ID {
	s.n++
	return idOf(s.n)
}

const usd order.Currency = "USD"

// The standard fixture: order orderID of user userID with lines itemA (2 ×
// 19.99) and itemB (1 × 5.00), total 44.98.
var (
	orderID      = idOf(1)
	otherOrder   = idOf(2)
	userID       = order.UserID("user-1")
	address      = textAddress("1 Main St\nSpringfield")
	itemA        = mustLine(101, "sku-a", "Widget", 2, 1999)
	itemB        = mustLine(102, "sku-b", "Gadget", 1, 500)
	itemC        = mustLine(103, "sku-c", "Gizmo", 3, 250)
	fixtureTotal = mustUSD(4498)
)

// mustUSD and mustLine build fixtures that are valid by construction; a panic
// means the fixture itself is wrong.
func mustUSD(cents int64) order.Money {
	m, err := order.NewMoney(cents, usd)
	if err != nil {
		panic(err)
	}
	return m
}

func mustMoney(cents int64, c order.Currency) order.Money {
	m, err := order.NewMoney(cents, c)
	if err != nil {
		panic(err)
	}
	return m
}

func mustLine(n uint64, product, name string, qty, cents int64) order.LineItem {
	return mustLineIn(idOf(n), product, name, qty, mustUSD(cents))
}

func mustLineIn(id order.ID, product, name string, qty int64, price order.Money) order.LineItem {
	l, err := order.NewLineItem(id, product, name, qty, price)
	if err != nil {
		panic(err)
	}
	return l
}

// manyLines returns n distinct lines of 1 × 1.00 with ids from 1000 on.
func manyLines(n int) []order.LineItem {
	lines := make([]order.LineItem, n)
	for i := range lines {
		lines[i] = mustLine(uint64(1000+i), fmt.Sprintf("bulk-%03d", i), "Bulk", 1, 100)
	}
	return lines
}

// hdr is the header of the fixture order's event with version v.
func hdr(v int) order.EventHeader {
	return order.EventHeader{OrderID: orderID, Version: v, OccurredAt: at(v)}
}

// created is the fixture order's OrderCreated with the given lines.
func created(total order.Money, items ...order.LineItem) order.OrderCreated {
	return order.OrderCreated{
		EventHeader: hdr(1), UserID: userID, Currency: usd,
		ShippingAddress: address, Items: items, Total: total,
	}
}

func cancelledEvent(v int, prev order.Status) order.OrderCancelled {
	return order.OrderCancelled{EventHeader: hdr(v), Reason: "changed my mind", PreviousStatus: prev}
}

// historyIn returns a valid history that leaves the fixture order in status s.
func historyIn(s order.Status) []order.Event {
	h := []order.Event{created(fixtureTotal, itemA, itemB)}
	switch s {
	case order.StatusPending:
		return h
	case order.StatusCancelled:
		return append(h, cancelledEvent(2, order.StatusPending))
	}
	h = append(h, order.OrderConfirmed{EventHeader: hdr(2)})
	if s == order.StatusConfirmed {
		return h
	}
	h = append(h, order.OrderPaid{EventHeader: hdr(3), Amount: fixtureTotal, PaymentReference: "pay-1"})
	if s == order.StatusPaid {
		return h
	}
	h = append(h, order.OrderShipped{EventHeader: hdr(4), Carrier: "UPS", TrackingNumber: "1Z999"})
	if s == order.StatusShipped {
		return h
	}
	return append(h, order.OrderDelivered{EventHeader: hdr(5)})
}

func rehydrate(t *testing.T, history []order.Event) *order.Order {
	t.Helper()
	o, err := order.Rehydrate(history)
	if err != nil {
		t.Fatalf("Rehydrate: %v", err)
	}
	return o
}

// checkInvariants asserts what must hold after any command or replay.
func checkInvariants(t *testing.T, s order.State) {
	t.Helper()
	var sum int64
	for _, l := range s.Items {
		if l.Subtotal().Minor() != l.UnitPrice().Minor()*int64(l.Quantity().Int()) {
			t.Errorf("line %s: subtotal %s ≠ %s × %d", l.ProductID(), l.Subtotal(), l.UnitPrice(), l.Quantity().Int())
		}
		sum += l.Subtotal().Minor()
	}
	if s.Total.Minor() != sum {
		t.Errorf("total %s ≠ sum of subtotals %d", s.Total, sum)
	}
	if len(s.Items) < 1 || len(s.Items) > order.MaxItems {
		t.Errorf("order holds %d items", len(s.Items))
	}
}

// checkReplay asserts that the history rebuilds exactly the live state and has
// contiguous versions 1..N of one order.
func checkReplay(t *testing.T, history []order.Event, live order.State) {
	t.Helper()
	for i, e := range history {
		if h := e.Header(); h.Version != i+1 || h.OrderID != live.ID {
			t.Fatalf("event %d (%s) has order %v version %d; want order %v version %d",
				i, e.EventType(), h.OrderID, h.Version, live.ID, i+1)
		}
	}
	replayed, err := order.Rehydrate(history)
	if err != nil {
		t.Fatalf("Rehydrate(%d events): %v", len(history), err)
	}
	if got := replayed.State(); !reflect.DeepEqual(got, live) {
		t.Fatalf("replayed snapshot differs from the live one: %v\nreplayed %+v\nlive     %+v", got.Diff(live), got, live)
	}
	if n := len(replayed.PendingEvents()); n != 0 {
		t.Errorf("rehydrated order has %d pending events; want 0", n)
	}
}

// errCheck describes an expected error; it returns "" when err matches.
type errCheck func(err error) string

func isInvalid(field string) errCheck {
	return func(err error) string {
		var ve *order.ValidationError
		if !errors.As(err, &ve) {
			return fmt.Sprintf("got %T %v; want *order.ValidationError on %q", err, err, field)
		}
		if ve.Field != field {
			return fmt.Sprintf("ValidationError.Field = %q (%v); want %q", ve.Field, err, field)
		}
		return ""
	}
}

func isRule(rule order.Rule) errCheck {
	return func(err error) string {
		var re *order.RuleError
		if !errors.As(err, &re) || re.Rule != rule {
			return fmt.Sprintf("got %T %v; want *order.RuleError %s", err, err, rule)
		}
		return ""
	}
}

func isTransition(s order.Status, a order.Action) errCheck {
	return func(err error) string {
		var te *order.TransitionError
		if !errors.As(err, &te) || te.Status != s || te.Action != a {
			return fmt.Sprintf("got %T %v; want *order.TransitionError{%s, %q}", err, err, s, a)
		}
		return ""
	}
}

func isHistory(version int) errCheck {
	return func(err error) string {
		var he *order.HistoryError
		if !errors.As(err, &he) || he.Version != version {
			return fmt.Sprintf("got %T %v; want *order.HistoryError at version %d", err, err, version)
		}
		return ""
	}
}

// textAddress is the PostalAddress of a valid free-text address.
func textAddress(s string) order.PostalAddress {
	a, err := order.AddressFromText(s)
	if err != nil {
		panic(err)
	}
	return a
}
