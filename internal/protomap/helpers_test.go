package protomap_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// Fixtures shared by the tests, the fuzz target and the benchmarks of this
// package. They are valid by construction: a panic means a broken fixture.

var (
	fixtureTime  = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	fixtureOrder = idN(1)
)

const (
	usd order.Currency = "USD"
	eur order.Currency = "EUR"
)

// idN returns a deterministic, non-nil, version-4-shaped id.
func idN(n int) order.ID {
	id, err := order.ParseID(fmt.Sprintf("00000000-0000-4000-8000-%012d", n))
	if err != nil {
		panic(err)
	}
	return id
}

// hdr is the header of the fixture order's event with version v; events are
// one minute apart.
func hdr(v int) order.EventHeader {
	return order.EventHeader{OrderID: fixtureOrder, Version: v, OccurredAt: at(v)}
}

func at(v int) time.Time { return fixtureTime.Add(time.Duration(v-1) * time.Minute) }

func money(minor int64, c order.Currency) order.Money {
	m, err := order.NewMoney(minor, c)
	if err != nil {
		panic(err)
	}
	return m
}

func line(n int, product, name string, qty, cents int64, c order.Currency) order.LineItem {
	l, err := order.NewLineItem(idN(1000+n), product, name, qty, money(cents, c))
	if err != nil {
		panic(err)
	}
	return l
}

func quantity(n int64) order.Quantity {
	q, err := order.NewQuantity(n)
	if err != nil {
		panic(err)
	}
	return q
}

// lines returns n distinct lines priced 1.00, 2.00, … in currency c.
func lines(n int, c order.Currency) []order.LineItem {
	out := make([]order.LineItem, n)
	for i := range out {
		out[i] = line(i, fmt.Sprintf("sku-%03d", i), fmt.Sprintf("Product %d", i), int64(1+i%3), int64(100*(i+1)), c)
	}
	return out
}

// created is an OrderCreated of the fixture order with n lines.
func created(n int, c order.Currency) order.OrderCreated {
	items := lines(n, c)
	total := money(0, c)
	for _, l := range items {
		var err error
		if total, err = total.Add(l.Subtotal()); err != nil {
			panic(err)
		}
	}
	return order.OrderCreated{
		EventHeader: hdr(1), UserID: "user-1", Currency: c,
		ShippingAddress: text("1 Main St\nSpringfield"), Items: items, Total: total,
	}
}

// must turns a (value, error) pair into a getter that fails the test (or
// benchmark) on the error: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// text is the address of a valid free text.
func text(s string) order.PostalAddress {
	a, err := order.AddressFromText(s)
	if err != nil {
		panic(err)
	}
	return a
}

// structured is a structured address with every part set.
func structured() order.PostalAddress {
	a, err := order.NewPostalAddress(order.PostalAddressFields{
		Recipient: "Erika Mustermann", Lines: []string{"Unter den Linden 1", "3. OG"}, PostalCode: "10117",
		Locality: "Berlin", AdministrativeArea: "Berlin", RegionCode: "DE",
	})
	if err != nil {
		panic(err)
	}
	return a
}
