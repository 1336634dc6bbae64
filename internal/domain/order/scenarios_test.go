package order_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// A scenario is Given(events) / When(command) / Then(events or error).
type scenario struct {
	name  string
	given []order.Event // empty: the command creates the order
	when  command
	then  []order.Event // the events raised; nil means none
	err   errCheck      // set when the command must fail
	state func(t *testing.T, s order.State)
}

// A command runs against the order rebuilt from given (nil when given is
// empty) at the time of the next version, and returns the order it acted on.
type command func(o *order.Order, now time.Time) (*order.Order, error)

func on(f func(o *order.Order, now time.Time) error) command {
	return func(o *order.Order, now time.Time) (*order.Order, error) { return o, f(o, now) }
}

func createOrder(id order.ID, user order.UserID, c order.Currency, addr order.PostalAddress, items []order.LineItem) command {
	return func(_ *order.Order, now time.Time) (*order.Order, error) {
		return order.Create(id, user, c, addr, items, now)
	}
}

// create creates the fixture order with the given lines.
func create(items ...order.LineItem) command {
	return createOrder(orderID, userID, usd, address, items)
}

func addItem(l order.LineItem) command {
	return on(func(o *order.Order, now time.Time) error { return o.AddItem(l, now) })
}

func removeItem(product string) command {
	return on(func(o *order.Order, now time.Time) error { return o.RemoveItem(product, now) })
}

func changeQuantity(product string, q int64) command {
	return on(func(o *order.Order, now time.Time) error { return o.ChangeItemQuantity(product, q, now) })
}

func changeAddress(a order.PostalAddress) command {
	return on(func(o *order.Order, now time.Time) error { return o.ChangeShippingAddress(a, now) })
}

// changeAddressText changes the address to a free text, as the API does.
func changeAddressText(s string) command {
	return on(func(o *order.Order, now time.Time) error {
		a, err := order.AddressFromText(s)
		if err != nil {
			return err
		}
		return o.ChangeShippingAddress(a, now)
	})
}

func confirm() command {
	return on(func(o *order.Order, now time.Time) error { return o.Confirm(now) })
}

func pay(amount order.Money, ref string) command {
	return on(func(o *order.Order, now time.Time) error { return o.Pay(amount, ref, now) })
}

func ship(carrier, tracking string) command {
	return on(func(o *order.Order, now time.Time) error { return o.Ship(carrier, tracking, now) })
}

func deliver() command {
	return on(func(o *order.Order, now time.Time) error { return o.Deliver(now) })
}

func cancel(reason string) command {
	return on(func(o *order.Order, now time.Time) error { return o.Cancel(reason, now) })
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var o *order.Order
			var before order.State
			if len(sc.given) > 0 {
				o = rehydrate(t, sc.given)
				before = o.State()
			}

			got, err := sc.when(o, at(len(sc.given)+1))

			if sc.err != nil {
				if msg := sc.err(err); msg != "" {
					t.Fatal(msg)
				}
				if o == nil {
					if got != nil {
						t.Errorf("Create returned an order along with error %v", err)
					}
					return
				}
				if n := len(o.PendingEvents()); n != 0 {
					t.Errorf("failed command raised %d events", n)
				}
				if after := o.State(); !reflect.DeepEqual(after, before) {
					t.Errorf("failed command changed the state:\nbefore %+v\nafter  %+v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			raised := got.PendingEvents()
			if len(raised) != len(sc.then) {
				t.Fatalf("raised %d events %v; want %d", len(raised), raised, len(sc.then))
			}
			for i := range raised {
				if !reflect.DeepEqual(raised[i], sc.then[i]) {
					t.Errorf("event %d:\ngot  %#v\nwant %#v", i, raised[i], sc.then[i])
				}
			}
			s := got.State()
			checkInvariants(t, s)
			checkReplay(t, slices.Concat(sc.given, sc.then), s)
			if sc.state != nil {
				sc.state(t, s)
			}
		})
	}
}

func wantStatus(want order.Status) func(t *testing.T, s order.State) {
	return func(t *testing.T, s order.State) {
		t.Helper()
		if s.Status != want {
			t.Errorf("status = %s; want %s", s.Status, want)
		}
	}
}

func TestCreate(t *testing.T) {
	big := mustLine(201, "big-1", "Yacht", 1, 5_000_000_000)  // 50,000,000.00
	big2 := mustLine(202, "big-2", "Yacht", 1, 5_000_000_000) // together one cent too much
	rest := mustLine(203, "rest", "Rest", 1, order.MaxAmount-5_000_000_000)
	euro := mustLineIn(idOf(204), "sku-e", "Euro thing", 1, mustMoney(100, "EUR"))
	sameProduct := mustLine(205, "sku-a", "Widget again", 1, 100)

	runScenarios(t, []scenario{
		{
			name: "valid order is pending with its lines and total",
			when: create(itemA, itemB),
			then: []order.Event{created(fixtureTotal, itemA, itemB)},
			state: func(t *testing.T, s order.State) {
				want := order.State{
					ID: orderID, UserID: userID, Currency: usd, Items: []order.LineItem{itemA, itemB},
					ShippingAddress: address, Status: order.StatusPending, Total: fixtureTotal,
					CreatedAt: t0, UpdatedAt: t0, Version: 1,
				}
				if !reflect.DeepEqual(s, want) {
					t.Errorf("snapshot:\ngot  %+v\nwant %+v", s, want)
				}
			},
		},
		{name: "nil order id", when: createOrder(order.ID{}, userID, usd, address, []order.LineItem{itemA}), err: isInvalid("order_id")},
		{name: "blank user", when: createOrder(orderID, " ", usd, address, []order.LineItem{itemA}), err: isInvalid("user_id")},
		{name: "JPY has no cents", when: createOrder(orderID, userID, "JPY", address, []order.LineItem{itemA}), err: isInvalid("currency")},
		{name: "blank address", when: createOrder(orderID, userID, usd, order.PostalAddress{}, []order.LineItem{itemA}), err: isInvalid("shipping_address")},
		{name: "no items", when: create(), err: isInvalid("items")},
		{name: "101 items", when: create(manyLines(101)...), err: isInvalid("items")},
		{
			name: "100 items is the limit",
			when: create(manyLines(100)...),
			then: []order.Event{created(mustUSD(100_00), manyLines(100)...)},
		},
		{name: "duplicate product", when: create(itemA, itemB, sameProduct), err: isInvalid("items[2].product_id")},
		{name: "duplicate line id", when: create(itemA, mustLine(101, "sku-other", "Other", 1, 100)), err: isInvalid("items[1].id")},
		{name: "mixed currencies", when: create(itemA, euro), err: isInvalid("items[1].unit_price")},
		{name: "total beyond 99,999,999.99", when: create(big, big2), err: isInvalid("items")},
		{
			name: "total of exactly 99,999,999.99",
			when: create(big, rest),
			then: []order.Event{created(mustUSD(order.MaxAmount), big, rest)},
		},
	})
}

func TestAddItem(t *testing.T) {
	huge := mustLine(201, "huge", "Huge", 1, order.MaxAmount-99) // 99,999,999.00
	euro := mustLineIn(idOf(204), "sku-e", "Euro thing", 1, mustMoney(100, "EUR"))
	sameProduct := mustLine(205, "sku-a", "Widget again", 1, 100)
	cents99 := mustLine(206, "c99", "Cheap", 1, 99)
	dollar := mustLine(207, "d1", "Cheap", 1, 100)
	withHuge := []order.Event{created(huge.Subtotal(), huge)}

	runScenarios(t, []scenario{
		{
			name:  "new product adds a line and its subtotal",
			given: historyIn(order.StatusPending),
			when:  addItem(itemC),
			then:  []order.Event{order.OrderItemAdded{EventHeader: hdr(2), Item: itemC, Total: mustUSD(5248)}},
		},
		{name: "product already in order", given: historyIn(order.StatusPending), when: addItem(sameProduct), err: isRule(order.RuleProductAlreadyInOrder)},
		{name: "line id already in order", given: historyIn(order.StatusPending), when: addItem(mustLine(101, "sku-new", "New", 1, 100)), err: isInvalid("item.id")},
		{name: "other currency", given: historyIn(order.StatusPending), when: addItem(euro), err: isInvalid("item.unit_price")},
		{
			name:  "101st item",
			given: []order.Event{created(mustUSD(100_00), manyLines(100)...)},
			when:  addItem(itemC),
			err:   isInvalid("items"),
		},
		{
			name:  "100th item",
			given: []order.Event{created(mustUSD(99_00), manyLines(99)...)},
			when:  addItem(itemC),
			then:  []order.Event{order.OrderItemAdded{EventHeader: hdr(2), Item: itemC, Total: mustUSD(99_00 + 7_50)}},
		},
		{name: "total would pass 99,999,999.99", given: withHuge, when: addItem(dollar), err: isInvalid("item")},
		{
			name:  "total reaches exactly 99,999,999.99",
			given: withHuge,
			when:  addItem(cents99),
			then:  []order.Event{order.OrderItemAdded{EventHeader: hdr(2), Item: cents99, Total: mustUSD(order.MaxAmount)}},
		},
		{
			name:  "a removed product can be added again",
			given: append(historyIn(order.StatusPending), order.OrderItemRemoved{EventHeader: hdr(2), ItemID: itemB.ID(), ProductID: "sku-b", Total: mustUSD(3998)}),
			when:  addItem(itemB),
			then:  []order.Event{order.OrderItemAdded{EventHeader: hdr(3), Item: itemB, Total: fixtureTotal}},
		},
		{name: "not once confirmed", given: historyIn(order.StatusConfirmed), when: addItem(itemC), err: isTransition(order.StatusConfirmed, order.ActionAddItem)},
	})
}

func TestRemoveItem(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "removes the line and its subtotal",
			given: historyIn(order.StatusPending),
			when:  removeItem("sku-b"),
			then:  []order.Event{order.OrderItemRemoved{EventHeader: hdr(2), ItemID: itemB.ID(), ProductID: "sku-b", Total: mustUSD(3998)}},
			state: func(t *testing.T, s order.State) {
				if len(s.Items) != 1 || s.Items[0] != itemA {
					t.Errorf("items = %v; want only %v", s.Items, itemA)
				}
			},
		},
		{name: "unknown product", given: historyIn(order.StatusPending), when: removeItem("sku-x"), err: isRule(order.RuleProductNotInOrder)},
		{name: "last item", given: []order.Event{created(itemA.Subtotal(), itemA)}, when: removeItem("sku-a"), err: isRule(order.RuleLastItem)},
		{name: "not once paid", given: historyIn(order.StatusPaid), when: removeItem("sku-b"), err: isTransition(order.StatusPaid, order.ActionRemoveItem)},
	})
}

func TestChangeItemQuantity(t *testing.T) {
	fifty := mustLine(201, "fifty", "Half", 1, 5_000_000_000)   // 50,000,000.00
	sixty := mustLine(202, "sixty", "Most", 1, 6_000_000_000)   // 60,000,000.00
	thirty := mustLine(203, "thirty", "Some", 1, 3_000_000_000) // 30,000,000.00
	aTo5 := order.OrderItemQuantityChanged{
		EventHeader: hdr(2), ItemID: itemA.ID(), ProductID: "sku-a",
		Quantity: mustQuantity(5), Subtotal: mustUSD(9995), Total: mustUSD(10495),
	}

	runScenarios(t, []scenario{
		{
			name:  "recomputes subtotal and total",
			given: historyIn(order.StatusPending),
			when:  changeQuantity("sku-a", 5),
			then:  []order.Event{aTo5},
			state: func(t *testing.T, s order.State) {
				if q := s.Items[0].Quantity().Int(); q != 5 {
					t.Errorf("quantity = %d; want 5", q)
				}
			},
		},
		{
			name:  "recomputes again from the changed line",
			given: append(historyIn(order.StatusPending), aTo5),
			when:  changeQuantity("sku-a", 1),
			then: []order.Event{order.OrderItemQuantityChanged{
				EventHeader: hdr(3), ItemID: itemA.ID(), ProductID: "sku-a",
				Quantity: mustQuantity(1), Subtotal: mustUSD(1999), Total: mustUSD(2499),
			}},
		},
		{name: "same quantity raises nothing", given: historyIn(order.StatusPending), when: changeQuantity("sku-a", 2)},
		{
			name:  "10000 is the limit",
			given: historyIn(order.StatusPending),
			when:  changeQuantity("sku-b", 10_000),
			then: []order.Event{order.OrderItemQuantityChanged{
				EventHeader: hdr(2), ItemID: itemB.ID(), ProductID: "sku-b",
				Quantity: mustQuantity(10_000), Subtotal: mustUSD(5_000_000), Total: mustUSD(5_003_998),
			}},
		},
		{name: "zero", given: historyIn(order.StatusPending), when: changeQuantity("sku-a", 0), err: isInvalid("quantity")},
		{name: "10001", given: historyIn(order.StatusPending), when: changeQuantity("sku-a", 10_001), err: isInvalid("quantity")},
		{name: "unknown product", given: historyIn(order.StatusPending), when: changeQuantity("sku-x", 3), err: isRule(order.RuleProductNotInOrder)},
		{name: "subtotal would pass 99,999,999.99", given: []order.Event{created(fifty.Subtotal(), fifty)}, when: changeQuantity("fifty", 2), err: isInvalid("quantity")},
		{
			name:  "total would pass 99,999,999.99",
			given: []order.Event{created(mustUSD(9_000_000_000), sixty, thirty)},
			when:  changeQuantity("thirty", 2),
			err:   isInvalid("quantity"),
		},
		{name: "not once confirmed", given: historyIn(order.StatusConfirmed), when: changeQuantity("sku-a", 3), err: isTransition(order.StatusConfirmed, order.ActionChangeQuantity)},
	})
}

func TestChangeShippingAddress(t *testing.T) {
	newAddr := textAddress("2 Elm St\r\nShelbyville")
	changedAt := func(v int) []order.Event {
		return []order.Event{order.ShippingAddressChanged{EventHeader: hdr(v), ShippingAddress: newAddr}}
	}
	var scenarios []scenario
	for _, st := range []order.Status{order.StatusPending, order.StatusConfirmed, order.StatusPaid} {
		given := historyIn(st)
		scenarios = append(scenarios, scenario{
			name:  "allowed while " + string(st),
			given: given,
			when:  changeAddress(newAddr),
			then:  changedAt(len(given) + 1),
			state: func(t *testing.T, s order.State) {
				if s.ShippingAddress != newAddr || s.Status != st {
					t.Errorf("address %q status %s; want %q %s", s.ShippingAddress.Format(), s.Status, newAddr.Format(), st)
				}
			},
		})
	}
	for _, st := range []order.Status{order.StatusShipped, order.StatusDelivered, order.StatusCancelled} {
		scenarios = append(scenarios, scenario{
			name:  "refused once " + string(st),
			given: historyIn(st),
			when:  changeAddress(newAddr),
			err:   isTransition(st, order.ActionChangeAddress),
		})
	}
	pending := historyIn(order.StatusPending)
	structured, err := order.NewPostalAddress(order.PostalAddressFields{
		Recipient: "Erika Mustermann", Lines: []string{"Unter den Linden 1"}, PostalCode: "10117", Locality: "Berlin", RegionCode: "DE",
	})
	if err != nil {
		t.Fatal(err)
	}
	scenarios = append(scenarios,
		scenario{name: "same address raises nothing", given: pending, when: changeAddress(address)},
		scenario{name: "structured", given: pending, when: changeAddress(structured), then: []order.Event{
			order.ShippingAddressChanged{EventHeader: hdr(len(pending) + 1), ShippingAddress: structured},
		}},
		scenario{name: "no address", given: pending, when: changeAddress(order.PostalAddress{}), err: isInvalid("shipping_address")},
		scenario{name: "blank", given: pending, when: changeAddressText(" \t"), err: isInvalid("shipping_address")},
		scenario{name: "too long", given: pending, when: changeAddressText(strings.Repeat("é", order.MaxAddressLen+1)), err: isInvalid("shipping_address")},
		scenario{name: "invalid UTF-8", given: pending, when: changeAddressText("Main St \xff"), err: isInvalid("shipping_address")},
		scenario{name: "control character", given: pending, when: changeAddressText("Main\x00St"), err: isInvalid("shipping_address")},
	)
	runScenarios(t, scenarios)
}

func TestConfirm(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "pending order is confirmed",
			given: historyIn(order.StatusPending),
			when:  confirm(),
			then:  []order.Event{order.OrderConfirmed{EventHeader: hdr(2)}},
			state: wantStatus(order.StatusConfirmed),
		},
		{name: "twice", given: historyIn(order.StatusConfirmed), when: confirm(), err: isTransition(order.StatusConfirmed, order.ActionConfirm)},
	})
}

func TestPay(t *testing.T) {
	confirmed := historyIn(order.StatusConfirmed)
	runScenarios(t, []scenario{
		{
			name:  "the exact total",
			given: confirmed,
			when:  pay(fixtureTotal, "pay-1"),
			then:  []order.Event{order.OrderPaid{EventHeader: hdr(3), Amount: fixtureTotal, PaymentReference: "pay-1"}},
			state: func(t *testing.T, s order.State) {
				want := &order.Payment{Amount: fixtureTotal, Reference: "pay-1", PaidAt: at(3)}
				if s.Status != order.StatusPaid || !reflect.DeepEqual(s.Payment, want) {
					t.Errorf("status %s payment %+v; want PAID %+v", s.Status, s.Payment, want)
				}
			},
		},
		{
			name:  "without a reference",
			given: confirmed,
			when:  pay(fixtureTotal, ""),
			then:  []order.Event{order.OrderPaid{EventHeader: hdr(3), Amount: fixtureTotal}},
		},
		{name: "one cent short", given: confirmed, when: pay(mustUSD(4497), "pay-1"), err: isRule(order.RulePaymentMismatch)},
		{name: "one cent over", given: confirmed, when: pay(mustUSD(4499), "pay-1"), err: isRule(order.RulePaymentMismatch)},
		{name: "wrong currency", given: confirmed, when: pay(mustMoney(4498, "EUR"), "pay-1"), err: isRule(order.RulePaymentMismatch)},
		{name: "zero money", given: confirmed, when: pay(order.Money{}, "pay-1"), err: isRule(order.RulePaymentMismatch)},
		{name: "reference too long", given: confirmed, when: pay(fixtureTotal, strings.Repeat("r", order.MaxPaymentRefLen+1)), err: isInvalid("payment_reference")},
		{name: "blank reference", given: confirmed, when: pay(fixtureTotal, "  "), err: isInvalid("payment_reference")},
		{name: "before confirmation", given: historyIn(order.StatusPending), when: pay(fixtureTotal, "pay-1"), err: isTransition(order.StatusPending, order.ActionPay)},
		{name: "twice", given: historyIn(order.StatusPaid), when: pay(fixtureTotal, "pay-2"), err: isTransition(order.StatusPaid, order.ActionPay)},
	})
}

func TestShip(t *testing.T) {
	paid := historyIn(order.StatusPaid)
	long := strings.Repeat("x", order.MaxCarrierLen)
	runScenarios(t, []scenario{
		{
			name:  "paid order ships",
			given: paid,
			when:  ship("UPS", "1Z999"),
			then:  []order.Event{order.OrderShipped{EventHeader: hdr(4), Carrier: "UPS", TrackingNumber: "1Z999"}},
			state: func(t *testing.T, s order.State) {
				want := &order.Shipment{Carrier: "UPS", TrackingNumber: "1Z999", ShippedAt: at(4)}
				if s.Status != order.StatusShipped || !reflect.DeepEqual(s.Shipment, want) {
					t.Errorf("status %s shipment %+v; want SHIPPED %+v", s.Status, s.Shipment, want)
				}
			},
		},
		{
			name:  "carrier and tracking at their length limits",
			given: paid,
			when:  ship(long, long),
			then:  []order.Event{order.OrderShipped{EventHeader: hdr(4), Carrier: long, TrackingNumber: long}},
		},
		{name: "blank carrier", given: paid, when: ship(" ", "1Z999"), err: isInvalid("carrier")},
		{name: "carrier too long", given: paid, when: ship(long+"x", "1Z999"), err: isInvalid("carrier")},
		{name: "carrier with a newline", given: paid, when: ship("U\nPS", "1Z999"), err: isInvalid("carrier")},
		{name: "empty tracking number", given: paid, when: ship("UPS", ""), err: isInvalid("tracking_number")},
		{name: "tracking number too long", given: paid, when: ship("UPS", long+"x"), err: isInvalid("tracking_number")},
		{name: "tracking number with a control character", given: paid, when: ship("UPS", "1Z\x07999"), err: isInvalid("tracking_number")},
		{name: "tracking number not UTF-8", given: paid, when: ship("UPS", "1Z\xc3"), err: isInvalid("tracking_number")},
		{name: "unpaid", given: historyIn(order.StatusConfirmed), when: ship("UPS", "1Z999"), err: isTransition(order.StatusConfirmed, order.ActionShip)},
	})
}

func TestDeliver(t *testing.T) {
	runScenarios(t, []scenario{
		{
			name:  "shipped order is delivered",
			given: historyIn(order.StatusShipped),
			when:  deliver(),
			then:  []order.Event{order.OrderDelivered{EventHeader: hdr(5)}},
			state: func(t *testing.T, s order.State) {
				want := &order.Shipment{Carrier: "UPS", TrackingNumber: "1Z999", ShippedAt: at(4), DeliveredAt: at(5)}
				if s.Status != order.StatusDelivered || !reflect.DeepEqual(s.Shipment, want) {
					t.Errorf("status %s shipment %+v; want DELIVERED %+v", s.Status, s.Shipment, want)
				}
			},
		},
		{name: "not shipped", given: historyIn(order.StatusPaid), when: deliver(), err: isTransition(order.StatusPaid, order.ActionDeliver)},
		{name: "twice", given: historyIn(order.StatusDelivered), when: deliver(), err: isTransition(order.StatusDelivered, order.ActionDeliver)},
	})
}

func TestCancel(t *testing.T) {
	wantCancellation := func(want order.Cancellation) func(t *testing.T, s order.State) {
		return func(t *testing.T, s order.State) {
			t.Helper()
			if s.Status != order.StatusCancelled || s.Cancellation == nil || *s.Cancellation != want {
				t.Errorf("status %s cancellation %+v; want CANCELLED %+v", s.Status, s.Cancellation, want)
			}
		}
	}
	var scenarios []scenario
	for _, st := range []order.Status{order.StatusPending, order.StatusConfirmed} {
		given := historyIn(st)
		v := len(given) + 1
		scenarios = append(scenarios, scenario{
			name:  "from " + string(st) + " without refund",
			given: given,
			when:  cancel("changed my mind"),
			then:  []order.Event{cancelledEvent(v, st)},
			state: wantCancellation(order.Cancellation{Reason: "changed my mind", CancelledAt: at(v)}),
		})
	}
	paid := historyIn(order.StatusPaid)
	refunded := cancelledEvent(4, order.StatusPaid)
	refunded.RefundDue, refunded.RefundAmount = true, fixtureTotal
	scenarios = append(scenarios,
		scenario{
			name:  "from PAID with the paid amount due back",
			given: paid,
			when:  cancel("changed my mind"),
			then:  []order.Event{refunded},
			state: wantCancellation(order.Cancellation{Reason: "changed my mind", RefundDue: true, RefundAmount: fixtureTotal, CancelledAt: at(4)}),
		},
		scenario{name: "reason required", given: paid, when: cancel(""), err: isInvalid("reason")},
		scenario{name: "blank reason", given: paid, when: cancel(" \t "), err: isInvalid("reason")},
		scenario{name: "reason too long", given: paid, when: cancel(strings.Repeat("r", order.MaxReasonLen+1)), err: isInvalid("reason")},
		scenario{name: "once shipped", given: historyIn(order.StatusShipped), when: cancel("late"), err: isTransition(order.StatusShipped, order.ActionCancel)},
		scenario{name: "twice", given: historyIn(order.StatusCancelled), when: cancel("again"), err: isTransition(order.StatusCancelled, order.ActionCancel)},
	)
	runScenarios(t, scenarios)
}

func mustQuantity(n int64) order.Quantity {
	q, err := order.NewQuantity(n)
	if err != nil {
		panic(err)
	}
	return q
}
