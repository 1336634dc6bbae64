package order_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
)

// chooser drives a random command sequence: a seeded math/rand/v2 generator
// for the property test, the fuzz input for the fuzz target.
type chooser interface {
	IntN(n int) int
}

// byteChooser reads choices from fuzz bytes; once they run out it answers 0.
type byteChooser struct{ data []byte }

func (b *byteChooser) IntN(n int) int {
	if len(b.data) == 0 {
		return 0
	}
	v := int(b.data[0])
	b.data = b.data[1:]
	return v % n
}

func (b *byteChooser) more() bool { return len(b.data) > 0 }

// The catalogue the sequences draw from. A zero price and prices that do not
// divide evenly keep the arithmetic honest.
var catalogue = []struct {
	product string
	cents   int64
}{
	{"p0", 199}, {"p1", 1999}, {"p2", 250}, {"p3", 12345}, {"p4", 1}, {"p5", 0},
}

var addresses = []order.PostalAddress{textAddress("1 Main St"), textAddress("2 Elm St\nApt 3"), textAddress("Unter den Linden 1\r\nBerlin")}

// model is an independent, minimal account of what the order should be.
type model struct {
	status  order.Status
	lines   []modelLine
	address order.PostalAddress
	paid    int64 // minor units; -1 until paid
}

type modelLine struct {
	product string
	qty     int64
	cents   int64
}

func (m *model) find(product string) int {
	for i, l := range m.lines {
		if l.product == product {
			return i
		}
	}
	return -1
}

func (m *model) total() int64 {
	var sum int64
	for _, l := range m.lines {
		sum += l.qty * l.cents
	}
	return sum
}

func checkModel(t *testing.T, s order.State, m *model) {
	t.Helper()
	if s.Status != m.status || s.ShippingAddress != m.address || s.Total.Minor() != m.total() {
		t.Fatalf("order is %s %q total %s; model says %s %q total %d", s.Status, s.ShippingAddress.Format(), s.Total, m.status, m.address.Format(), m.total())
	}
	if len(s.Items) != len(m.lines) {
		t.Fatalf("order has %d lines; model says %d", len(s.Items), len(m.lines))
	}
	for i, l := range s.Items {
		if l.ProductID() != m.lines[i].product || int64(l.Quantity().Int()) != m.lines[i].qty {
			t.Fatalf("line %d is %s × %d; model says %s × %d", i, l.ProductID(), l.Quantity().Int(), m.lines[i].product, m.lines[i].qty)
		}
	}
	if (s.Payment != nil) != (m.paid >= 0) {
		t.Fatalf("payment %+v; model paid %d", s.Payment, m.paid)
	}
	if c := s.Cancellation; c != nil && (c.RefundDue != (m.paid >= 0) || c.RefundAmount.Minor() != max(m.paid, 0)) {
		t.Fatalf("cancellation %+v; model paid %d", c, m.paid)
	}
}

// runCommandSequence creates an order, then runs up to steps commands drawn
// from c (while more reports input left), predicting each outcome with the
// model. After every step the recorded history must replay to the live state.
func runCommandSequence(t *testing.T, c chooser, steps int, more func() bool) {
	t.Helper()
	ids := &idSource{n: 100}
	newLine := func() (order.LineItem, modelLine) {
		p := catalogue[c.IntN(len(catalogue))]
		ml := modelLine{product: p.product, qty: 1 + int64(c.IntN(5)), cents: p.cents}
		return mustLineIn(ids.next(), p.product, "Product "+p.product, ml.qty, mustUSD(p.cents)), ml
	}

	m := &model{status: order.StatusPending, address: addresses[c.IntN(len(addresses))], paid: -1}
	var items []order.LineItem
	for range 1 + c.IntN(3) {
		l, ml := newLine()
		if m.find(ml.product) < 0 {
			items = append(items, l)
			m.lines = append(m.lines, ml)
		}
	}
	o, err := order.Create(orderID, userID, usd, m.address, items, at(1))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	var history []order.Event
	seen := 0 // events of o.PendingEvents() already in history
	collect := func() []order.Event {
		fresh := o.PendingEvents()[seen:]
		seen += len(fresh)
		history = append(history, fresh...)
		return fresh
	}
	collect()
	checkReplay(t, history, o.State())

	for step := 0; step < steps && more(); step++ {
		before := o.State()
		now := at(len(history) + 1)
		pick := c.IntN(len(order.Actions) + 1)
		if pick == len(order.Actions) { // reload the order from its history
			o, seen = rehydrate(t, history), 0
			if got := o.State(); !reflect.DeepEqual(got, before) {
				t.Fatalf("step %d: reloaded order differs:\ngot  %+v\nwant %+v", step, got, before)
			}
			continue
		}
		action := order.Actions[pick]

		var (
			wantErr  errCheck // nil: success
			wantType string   // event expected on success; "" for none
			update   func()   // applies a success to the model
			desc     string
		)
		switch action {
		case order.ActionAddItem:
			l, ml := newLine()
			desc, err = fmt.Sprintf("add %s × %d", ml.product, ml.qty), o.AddItem(l, now)
			if m.find(ml.product) >= 0 {
				wantErr = isRule(order.RuleProductAlreadyInOrder)
			} else {
				wantType, update = order.TypeOrderItemAdded, func() { m.lines = append(m.lines, ml) }
			}
		case order.ActionRemoveItem:
			p := catalogue[c.IntN(len(catalogue))].product
			desc, err = "remove "+p, o.RemoveItem(p, now)
			switch i := m.find(p); {
			case i < 0:
				wantErr = isRule(order.RuleProductNotInOrder)
			case len(m.lines) == 1:
				wantErr = isRule(order.RuleLastItem)
			default:
				wantType, update = order.TypeOrderItemRemoved, func() { m.lines = append(m.lines[:i:i], m.lines[i+1:]...) }
			}
		case order.ActionChangeQuantity:
			p, q := catalogue[c.IntN(len(catalogue))].product, 1+int64(c.IntN(5))
			desc, err = fmt.Sprintf("set %s to %d", p, q), o.ChangeItemQuantity(p, q, now)
			switch i := m.find(p); {
			case i < 0:
				wantErr = isRule(order.RuleProductNotInOrder)
			case m.lines[i].qty != q:
				wantType, update = order.TypeOrderItemQuantityChanged, func() { m.lines[i].qty = q }
			}
		case order.ActionChangeAddress:
			a := addresses[c.IntN(len(addresses))]
			desc, err = fmt.Sprintf("address %q", a.Format()), o.ChangeShippingAddress(a, now)
			if a != m.address {
				wantType, update = order.TypeShippingAddressChanged, func() { m.address = a }
			}
		case order.ActionConfirm:
			desc, err = "confirm", o.Confirm(now)
			wantType, update = order.TypeOrderConfirmed, func() { m.status = order.StatusConfirmed }
		case order.ActionPay:
			amount := m.total()
			if c.IntN(4) == 0 {
				amount++ // a wrong amount now and then
			}
			desc, err = fmt.Sprintf("pay %d", amount), o.Pay(mustUSD(amount), "pay", now)
			if amount != m.total() {
				wantErr = isRule(order.RulePaymentMismatch)
			} else {
				wantType, update = order.TypeOrderPaid, func() { m.status, m.paid = order.StatusPaid, amount }
			}
		case order.ActionShip:
			desc, err = "ship", o.Ship("UPS", fmt.Sprintf("T%d", step), now)
			wantType, update = order.TypeOrderShipped, func() { m.status = order.StatusShipped }
		case order.ActionDeliver:
			desc, err = "deliver", o.Deliver(now)
			wantType, update = order.TypeOrderDelivered, func() { m.status = order.StatusDelivered }
		case order.ActionCancel:
			desc, err = "cancel", o.Cancel("no longer needed", now)
			wantType, update = order.TypeOrderCancelled, func() { m.status = order.StatusCancelled }
		}
		if !lifecycleAllows(m.status, action) {
			wantErr = isTransition(m.status, action)
		}

		fresh := collect()
		if wantErr != nil || wantType == "" {
			if wantErr != nil {
				if msg := wantErr(err); msg != "" {
					t.Fatalf("step %d %s: %s", step, desc, msg)
				}
			} else if err != nil {
				t.Fatalf("step %d %s: unexpected error %v", step, desc, err)
			}
			if len(fresh) != 0 {
				t.Fatalf("step %d %s: raised %v; want no event", step, desc, fresh)
			}
			if got := o.State(); !reflect.DeepEqual(got, before) {
				t.Fatalf("step %d %s: state changed without an event:\ngot  %+v\nwant %+v", step, desc, got, before)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %s: unexpected error %v", step, desc, err)
		}
		if len(fresh) != 1 || fresh[0].EventType() != wantType {
			t.Fatalf("step %d %s: raised %v; want one %s", step, desc, fresh, wantType)
		}
		update()
		s := o.State()
		checkModel(t, s, m)
		checkInvariants(t, s)
		checkReplay(t, history, s)
	}
	checkReplay(t, history, o.State())
}

func TestCommandSequencesReplayToTheLiveOrder(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x0bde5))
			runCommandSequence(t, r, 60, func() bool { return true })
		})
	}
}

func FuzzCommandSequence(f *testing.F) {
	f.Add([]byte{})
	// The whole lifecycle, byte by byte: address 0; 2 lines (p0 × 1, p2 × 2);
	// add p3 × 2; set p0 to 5; address 1; reload; confirm; pay the exact
	// total; ship; deliver.
	f.Add([]byte{0, 1, 0, 0, 2, 1, 0, 3, 1, 2, 0, 4, 3, 1, 9, 4, 5, 1, 6, 7})
	// Confirm, pay, then cancel with a refund.
	f.Add([]byte{0, 0, 1, 1, 4, 5, 1, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &byteChooser{data: data}
		runCommandSequence(t, c, 200, c.more)
	})
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{
		"0", "5", "0.5", "19.99", "99999999.99",
		"", "-1", "1.234", "1e3", "01.00", "100000000", " 1", "1.", ".5", "+1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := order.ParseMoney("amount", s, usd)
		if err != nil {
			var ve *order.ValidationError
			if !errors.As(err, &ve) || ve.Field != "amount" {
				t.Fatalf("ParseMoney(%q) error %T %v; want a ValidationError on amount", s, err, err)
			}
			return
		}
		if m.Minor() < 0 || m.Minor() > order.MaxAmount || m.Currency() != usd {
			t.Fatalf("ParseMoney(%q) = %d %s: out of bounds", s, m.Minor(), m.Currency())
		}
		if strings.Trim(s, "0123456789.") != "" || strings.Count(s, ".") > 1 {
			t.Fatalf("ParseMoney accepted %q", s)
		}
		back, err := order.ParseMoney("amount", m.String(), usd)
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q).String() = %q reparses to %v, %v", s, m.String(), back, err)
		}
		if frac := s[strings.IndexByte(s, '.')+1:]; strings.Contains(s, ".") && len(frac) == 2 && m.String() != s {
			t.Fatalf("ParseMoney(%q).String() = %q; want the input back", s, m.String())
		}
	})
}
