package protomap_test

import (
	"fmt"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// Micro-benchmarks of the event codec (every append encodes, every load
// decodes) and of the resource mapping (every response). Numbers and the
// command that produced them are in docs/FUZZING.md.

var benchSink any

func BenchmarkMarshalEvent(b *testing.B) {
	for _, n := range []int{3, 100} {
		e := created(n, usd)
		b.Run(fmt.Sprintf("OrderCreated/items=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := protomap.MarshalEvent(e)
				if err != nil {
					b.Fatal(err)
				}
				benchSink = data
			}
		})
	}
}

func BenchmarkUnmarshalEvent(b *testing.B) {
	for _, n := range []int{3, 100} {
		e := created(n, usd)
		data, err := protomap.MarshalEvent(e)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("OrderCreated/items=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				back, err := protomap.UnmarshalEvent(e.EventHeader, order.TypeOrderCreated, data, "")
				if err != nil {
					b.Fatal(err)
				}
				benchSink = back
			}
		})
	}
}

func BenchmarkOrder(b *testing.B) {
	// A delivered order with 3 lines: payment and shipment are mapped too.
	e := created(3, usd)
	o, err := order.Rehydrate([]order.Event{e})
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return o.Confirm(at(2)) },
		func() error { return o.Pay(e.Total, "pi_123", at(3)) },
		func() error { return o.Ship("UPS", "1Z999", at(4)) },
		func() error { return o.Deliver(at(5)) },
	} {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	snap := o.State()
	b.Run("items=3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			benchSink = protomap.Order(snap)
		}
	})
}
