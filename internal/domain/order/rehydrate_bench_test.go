package order_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// benchHistory records a history of exactly n events (n ≥ 5) through the
// aggregate: OrderCreated with 3 lines, items added (up to 20) then
// quantities changed back and forth while pending, then confirm, pay, ship
// and deliver. Every command loads an order this way before deciding.
func benchHistory(tb testing.TB, n int) []order.Event {
	tb.Helper()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	now := func(o *order.Order) time.Time { return t0.Add(time.Duration(o.Version()) * time.Second) }
	var next uint64
	newID := func() order.ID {
		next++
		var id order.ID
		id[0], id[6], id[8], id[15] = 0xbe, 0x40, 0x80, byte(next)
		id[14] = byte(next >> 8)
		return id
	}
	price, err := order.NewMoney(1999, "USD")
	if err != nil {
		tb.Fatal(err)
	}
	newLine := func(i int) order.LineItem {
		l, err := order.NewLineItem(newID(), fmt.Sprintf("sku-%d", i), fmt.Sprintf("Product %d", i), 1, price)
		if err != nil {
			tb.Fatal(err)
		}
		return l
	}
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	o, err := order.Create(newID(), "user-1", "USD", textAddress("1 Main St"), []order.LineItem{newLine(0), newLine(1), newLine(2)}, t0)
	check(err)
	for i := 0; o.Version() < n-4; i++ {
		if i < 20 {
			check(o.AddItem(newLine(3+i), now(o)))
		} else {
			check(o.ChangeItemQuantity("sku-0", int64(2+i%2), now(o)))
		}
	}
	check(o.Confirm(now(o)))
	check(o.Pay(o.State().Total, "pi_123", now(o)))
	check(o.Ship("UPS", "1Z999", now(o)))
	check(o.Deliver(now(o)))
	history := o.PendingEvents()
	if len(history) != n {
		tb.Fatalf("built %d events; want %d", len(history), n)
	}
	return history
}

var rehydrateSink *order.Order

func BenchmarkRehydrate(b *testing.B) {
	for _, n := range []int{10, 100} {
		history := benchHistory(b, n)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				o, err := order.Rehydrate(history)
				if err != nil {
					b.Fatal(err)
				}
				rehydrateSink = o
			}
		})
	}
}
