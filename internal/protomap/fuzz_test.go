package protomap_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// fuzzCurrencies is the order-level currency the fuzzed payload is decoded
// in: two valid ones, none, and an unsupported one.
var fuzzCurrencies = []order.Currency{usd, eur, "", "JPY"}

// FuzzUnmarshalEvent feeds arbitrary payloads, under every event type and
// under garbage type names, to UnmarshalEvent. It must never panic; a
// failure must be an internal error (never *order.ValidationError: a corrupt
// log is not the caller's bad input); a success must be an event of the
// requested type with the row's header that encodes and decodes back to
// itself.
//
// typ picks the type: typ%11 < 10 is one of the ten valid names, 10 means
// the free-form garbageType. cur picks the context currency.
func FuzzUnmarshalEvent(f *testing.F) {
	seeds := []order.Event{
		created(2, usd),
		order.OrderItemAdded{EventHeader: hdr(2), Item: line(3, "p", "n", 2, 150, usd), Total: money(300, usd)},
		order.OrderItemRemoved{EventHeader: hdr(3), ItemID: idN(3), ProductID: "p", Total: money(5, usd)},
		order.OrderItemQuantityChanged{EventHeader: hdr(4), ItemID: idN(3), ProductID: "p", Quantity: quantity(3), Subtotal: money(450, usd), Total: money(450, usd)},
		order.ShippingAddressChanged{EventHeader: hdr(5), ShippingAddress: text("b\nc")},
		order.OrderConfirmed{EventHeader: hdr(6)},
		order.OrderPaid{EventHeader: hdr(7), Amount: money(450, usd), PaymentReference: "ref"},
		order.OrderShipped{EventHeader: hdr(8), Carrier: "UPS", TrackingNumber: "1Z"},
		order.OrderDelivered{EventHeader: hdr(9)},
		order.OrderCancelled{EventHeader: hdr(8), Reason: "r", PreviousStatus: order.StatusPaid, RefundDue: true, RefundAmount: money(450, usd)},
	}
	for i, e := range seeds {
		data, err := protomap.MarshalEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), "", data, uint8(0))
	}
	f.Add(uint8(10), "OrderArchived", []byte(`{}`), uint8(0))
	f.Add(uint8(9), "", []byte(`{"reason":"r","previous_status":99}`), uint8(1))
	f.Add(uint8(1), "", []byte(`{"item":{"id":"00000000-0000-0000-0000-000000000000"}}`), uint8(2))
	f.Add(uint8(3), "", []byte(`{"itemId":"00000000-0000-4000-8000-000000000003","quantity":10001}`), uint8(0))

	f.Fuzz(func(t *testing.T, typ uint8, garbageType string, data []byte, cur uint8) {
		eventType := garbageType
		if i := int(typ % 11); i < len(allEventTypes) {
			eventType = allEventTypes[i]
		}
		currency := fuzzCurrencies[int(cur)%len(fuzzCurrencies)]
		h := hdr(3)

		e, err := protomap.UnmarshalEvent(h, eventType, data, currency)
		if err != nil {
			if e != nil {
				t.Fatalf("event %#v returned with error %v", e, err)
			}
			var invalid *order.ValidationError
			if errors.As(err, &invalid) {
				t.Fatalf("UnmarshalEvent(%q, %q) error unwraps to *order.ValidationError: %v", eventType, data, err)
			}
			return
		}
		if e.EventType() != eventType {
			t.Fatalf("decoded a %s from a %q row", e.EventType(), eventType)
		}
		if e.Header() != h {
			t.Fatalf("header %+v; want the row's %+v", e.Header(), h)
		}
		again, err := protomap.MarshalEvent(e)
		if err != nil {
			t.Fatalf("MarshalEvent of decoded %#v: %v", e, err)
		}
		back, err := protomap.UnmarshalEvent(h, eventType, again, currency)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v\nfirst:  %q\nsecond: %s", eventType, err, data, again)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("%s changed in a second round trip:\nfirst  %#v\nsecond %#v\npayload %s", eventType, e, back, again)
		}
	})
}
