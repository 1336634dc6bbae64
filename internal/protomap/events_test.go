package protomap_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// allEventTypes is every stored event type name.
var allEventTypes = []string{
	order.TypeOrderCreated, order.TypeOrderItemAdded, order.TypeOrderItemRemoved,
	order.TypeOrderItemQuantityChanged, order.TypeShippingAddressChanged, order.TypeOrderConfirmed,
	order.TypeOrderPaid, order.TypeOrderShipped, order.TypeOrderDelivered, order.TypeOrderCancelled,
}

// lifecycles runs the aggregate through every transition and returns the
// histories it recorded, so the round trip is tested on events exactly as the
// domain raises them.
func lifecycles(t *testing.T) [][]order.Event {
	t.Helper()
	widget := line(1, "sku-a", "Widget", 2, 1999, eur)
	gadget := line(2, "sku-b", "Gadget", 1, 500, eur)
	gizmo := line(3, "sku-c", "Gizmo – größe 日本", 3, 250, eur)
	createAt := func(n int, a order.PostalAddress) *order.Order {
		return must(order.Create(idN(n), "user-1", eur, a, []order.LineItem{widget, gadget}, at(1)))(t)
	}
	create := func(n int) *order.Order { return createAt(n, text("1 Main St")) }
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	delivered := create(1)
	check(delivered.AddItem(gizmo, at(2)))
	check(delivered.ChangeItemQuantity("sku-a", 3, at(3)))
	check(delivered.RemoveItem("sku-b", at(4)))
	check(delivered.ChangeShippingAddress(structured(), at(5)))
	check(delivered.Confirm(at(6)))
	total := delivered.State().Total
	check(delivered.Pay(total, "ref-1", at(7)))
	check(delivered.Ship("UPS", "1Z999AA10123456784", at(8)))
	check(delivered.Deliver(at(9)))

	refunded := createAt(2, text("2 Elm St\r\nApt 3"))
	check(refunded.Confirm(at(2)))
	check(refunded.Pay(refunded.State().Total, "", at(3)))
	check(refunded.Cancel("changed my mind", at(4)))

	cancelledPending := create(3)
	check(cancelledPending.Cancel("duplicate order", at(2)))

	cancelledConfirmed := create(4)
	check(cancelledConfirmed.Confirm(at(2)))
	check(cancelledConfirmed.Cancel("out of stock", at(3)))

	var out [][]order.Event
	for _, o := range []*order.Order{delivered, refunded, cancelledPending, cancelledConfirmed} {
		out = append(out, o.PendingEvents())
	}
	return out
}

// roundTrip encodes an event and decodes it with its own header.
func roundTrip(t *testing.T, e order.Event, currency order.Currency) (order.Event, []byte) {
	t.Helper()
	data, err := protomap.MarshalEvent(e)
	if err != nil {
		t.Fatalf("MarshalEvent(%s): %v", e.EventType(), err)
	}
	back, err := protomap.UnmarshalEvent(e.Header(), e.EventType(), data, currency)
	if err != nil {
		t.Fatalf("UnmarshalEvent(%s, %s): %v", e.EventType(), data, err)
	}
	return back, data
}

func TestDomainEventsRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, history := range lifecycles(t) {
		currency := history[0].(order.OrderCreated).Currency
		decoded := make([]order.Event, len(history))
		for i, e := range history {
			back, data := roundTrip(t, e, currency)
			if !reflect.DeepEqual(back, e) {
				t.Errorf("%s changed in a round trip through %s:\ngot  %#v\nwant %#v", e.EventType(), data, back, e)
			}
			decoded[i] = back
			seen[e.EventType()] = true
		}
		// The decoded history replays to the state the live order reached.
		live := must(order.Rehydrate(history))(t).State()
		replayed := must(order.Rehydrate(decoded))(t).State()
		if d := replayed.Diff(live); len(d) > 0 {
			t.Errorf("decoded history of %s replays differently: %v", live.ID, d)
		}
	}
	for _, typ := range allEventTypes {
		if !seen[typ] {
			t.Errorf("the lifecycles raised no %s: the round trip does not cover it", typ)
		}
	}
}

func TestEdgeCaseEventsRoundTrip(t *testing.T) {
	maxPrice := money(order.MaxAmount, usd)
	big := must(order.NewLineItem(idN(9), "sku-max", strings.Repeat("é", order.MaxIdentifierLen), 1, maxPrice))(t)
	free := line(7, "sku-free", "Sample", order.MaxQuantity, 0, usd)
	events := []order.Event{
		created(1, usd),
		created(order.MaxItems, usd),
		order.OrderCreated{
			EventHeader: hdr(1), UserID: "ユーザー \"quoted\" \\ <tag>", Currency: "CHF",
			ShippingAddress: text("Bahnhofstrasse 1\r\n8001 Zürich\n\u2028"), Items: []order.LineItem{line(1, "p", "n", 1, 1, "CHF")}, Total: money(1, "CHF"),
		},
		order.OrderItemAdded{EventHeader: hdr(2), Item: big, Total: maxPrice},
		order.OrderItemAdded{EventHeader: hdr(2), Item: free, Total: money(0, usd)},
		order.OrderItemRemoved{EventHeader: hdr(3), ItemID: idN(7), ProductID: "sku-free", Total: money(5, usd)},
		order.OrderItemQuantityChanged{
			EventHeader: hdr(4), ItemID: idN(1000), ProductID: "sku-000",
			Quantity: quantity(order.MaxQuantity), Subtotal: money(1_000_000, usd), Total: money(1_000_000, usd),
		},
		order.ShippingAddressChanged{EventHeader: hdr(5), ShippingAddress: text("x")},
		order.ShippingAddressChanged{EventHeader: hdr(5), ShippingAddress: text("1\n2\n3\n4\n5\n6\n7")},
		order.ShippingAddressChanged{EventHeader: hdr(5), ShippingAddress: structured()},
		order.OrderConfirmed{EventHeader: hdr(6)},
		order.OrderPaid{EventHeader: hdr(7), Amount: money(0, usd), PaymentReference: ""},
		order.OrderPaid{EventHeader: hdr(7), Amount: money(12345, usd), PaymentReference: "pi_3N…"},
		order.OrderShipped{EventHeader: hdr(8), Carrier: "DHL Express", TrackingNumber: "JD014600003828"},
		order.OrderDelivered{EventHeader: hdr(9)},
		order.OrderCancelled{EventHeader: hdr(2), Reason: "r", PreviousStatus: order.StatusPending},
		order.OrderCancelled{EventHeader: hdr(3), Reason: "r", PreviousStatus: order.StatusConfirmed},
		order.OrderCancelled{EventHeader: hdr(4), Reason: "refund", PreviousStatus: order.StatusPaid, RefundDue: true, RefundAmount: money(0, usd)},
		order.OrderCancelled{EventHeader: hdr(4), Reason: "refund", PreviousStatus: order.StatusPaid, RefundDue: true, RefundAmount: maxPrice},
	}
	for i, e := range events {
		t.Run(fmt.Sprintf("%d_%s", i, e.EventType()), func(t *testing.T) {
			back, data := roundTrip(t, e, usd)
			if !reflect.DeepEqual(back, e) {
				t.Errorf("changed in a round trip through %s:\ngot  %#v\nwant %#v", data, back, e)
			}
		})
	}
}

func TestUnmarshalEventTakesTheHeaderFromTheRow(t *testing.T) {
	data := must(protomap.MarshalEvent(order.OrderConfirmed{EventHeader: hdr(6)}))(t)
	row := order.EventHeader{OrderID: idN(42), Version: 17, OccurredAt: time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))}
	e := must(protomap.UnmarshalEvent(row, order.TypeOrderConfirmed, data, usd))(t)
	if got := e.Header(); got != row {
		t.Fatalf("header %+v; want the row's %+v", got, row)
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// jsonKeys collects the object keys of a decoded JSON value, nested objects
// as "outer.inner" (array elements share their array's name).
func jsonKeys(prefix string, v any, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			into[prefix+k] = true
			jsonKeys(prefix+k+".", child, into)
		}
	case []any:
		for _, child := range v {
			jsonKeys(prefix, child, into)
		}
	}
}

func TestPayloadJSONUsesProtoFieldNames(t *testing.T) {
	item := []string{"id", "product_id", "product_name", "quantity", "unit_price", "subtotal"}
	prefixed := func(p string, names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = p + n
		}
		return out
	}
	tests := []struct {
		event order.Event
		keys  []string
	}{
		{created(2, usd), append([]string{"order_id", "user_id", "currency", "shipping_address", "items", "total_amount", "postal_address", "postal_address.address_lines"}, prefixed("items.", item)...)},
		{order.OrderItemAdded{EventHeader: hdr(2), Item: line(3, "p", "n", 2, 150, usd), Total: money(300, usd)},
			append([]string{"item", "total_amount"}, prefixed("item.", item)...)},
		{order.OrderItemRemoved{EventHeader: hdr(3), ItemID: idN(3), ProductID: "p", Total: money(5, usd)},
			[]string{"item_id", "product_id", "total_amount"}},
		{order.OrderItemQuantityChanged{EventHeader: hdr(4), ItemID: idN(3), ProductID: "p", Quantity: quantity(3), Subtotal: money(450, usd), Total: money(450, usd)},
			[]string{"item_id", "product_id", "quantity", "subtotal", "total_amount"}},
		{order.ShippingAddressChanged{EventHeader: hdr(5), ShippingAddress: text("b")}, []string{"shipping_address", "postal_address", "postal_address.address_lines"}},
		{order.OrderConfirmed{EventHeader: hdr(6)}, nil},
		{order.OrderPaid{EventHeader: hdr(7), Amount: money(450, usd), PaymentReference: "ref"}, []string{"amount", "currency", "payment_reference"}},
		{order.OrderShipped{EventHeader: hdr(8), Carrier: "UPS", TrackingNumber: "1Z"}, []string{"carrier", "tracking_number"}},
		{order.OrderDelivered{EventHeader: hdr(9)}, nil},
		{order.OrderCancelled{EventHeader: hdr(8), Reason: "r", PreviousStatus: order.StatusPaid, RefundDue: true, RefundAmount: money(450, usd)},
			[]string{"reason", "previous_status", "refund_due", "refund_amount"}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.event.EventType()] = true
		data := must(protomap.MarshalEvent(tt.event))(t)
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s payload is not JSON: %v: %s", tt.event.EventType(), err, data)
		}
		keys := map[string]bool{}
		jsonKeys("", doc, keys)
		var got []string
		for k := range keys {
			got = append(got, k)
			if last := k[strings.LastIndexByte(k, '.')+1:]; !snakeCase.MatchString(last) {
				t.Errorf("%s payload has key %q: not a snake_case proto name: %s", tt.event.EventType(), k, data)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.keys))
		if !slices.Equal(got, want) {
			t.Errorf("%s payload keys %v; want %v: %s", tt.event.EventType(), got, want, data)
		}
	}
	for _, typ := range allEventTypes {
		if !covered[typ] {
			t.Errorf("no key check for %s", typ)
		}
	}

	// Values: money as decimal strings, enums by name, the quantity as a number.
	data := must(protomap.MarshalEvent(order.OrderCancelled{EventHeader: hdr(8), Reason: "r", PreviousStatus: order.StatusPaid, RefundDue: true, RefundAmount: money(450, usd)}))(t)
	var cancelled map[string]any
	if err := json.Unmarshal(data, &cancelled); err != nil {
		t.Fatal(err)
	}
	if cancelled["previous_status"] != "ORDER_STATUS_PAID" || cancelled["refund_amount"] != "4.50" || cancelled["refund_due"] != true {
		t.Errorf("OrderCancelled payload %s", data)
	}
	data = must(protomap.MarshalEvent(order.OrderItemQuantityChanged{EventHeader: hdr(4), ItemID: idN(3), ProductID: "p", Quantity: quantity(3), Subtotal: money(450, usd), Total: money(450, usd)}))(t)
	var changed map[string]any
	if err := json.Unmarshal(data, &changed); err != nil {
		t.Fatal(err)
	}
	if changed["quantity"] != 3.0 || changed["subtotal"] != "4.50" || changed["item_id"] != idN(3).String() {
		t.Errorf("OrderItemQuantityChanged payload %s", data)
	}
}

func TestUnmarshalEventReadsLowerCamelCaseToo(t *testing.T) {
	data := fmt.Sprintf(`{"itemId":%q,"productId":"p","quantity":3,"subtotal":"4.50","totalAmount":"4.50"}`, idN(3))
	got := must(protomap.UnmarshalEvent(hdr(4), order.TypeOrderItemQuantityChanged, []byte(data), usd))(t)
	want := order.OrderItemQuantityChanged{EventHeader: hdr(4), ItemID: idN(3), ProductID: "p", Quantity: quantity(3), Subtotal: money(450, usd), Total: money(450, usd)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v; want %#v", got, want)
	}
}

func TestUnmarshalEventRejectsCorruptPayloadsAsInternalErrors(t *testing.T) {
	validCreated := string(must(protomap.MarshalEvent(created(2, usd)))(t))
	item := func(id string, quantity int, price string) string {
		return fmt.Sprintf(`{"id":%q,"product_id":"p","product_name":"n","quantity":%d,"unit_price":%q}`, id, quantity, price)
	}
	createdWith := func(currency, total, items string) string {
		return fmt.Sprintf(`{"order_id":%q,"user_id":"u","currency":%q,"shipping_address":"a","items":[%s],"total_amount":%q}`,
			fixtureOrder, currency, items, total)
	}
	goodItem := item(idN(5).String(), 1, "1.00")
	tests := []struct {
		name      string
		eventType string
		data      string
		currency  order.Currency
	}{
		// Unknown event types.
		{"type: empty", "", validCreated, ""},
		{"type: unknown", "OrderArchived", validCreated, ""},
		{"type: wrong case", "orderCreated", validCreated, ""},
		{"type: trailing space", "OrderCreated ", validCreated, ""},
		{"type: proto full name", "order.v1.OrderCreated", validCreated, ""},

		// Malformed JSON.
		{"json: empty", order.TypeOrderConfirmed, "", usd},
		{"json: truncated", order.TypeOrderCreated, validCreated[:len(validCreated)/2], ""},
		{"json: array", order.TypeOrderConfirmed, `[]`, usd},
		{"json: null", order.TypeOrderConfirmed, `null`, usd},
		{"json: string", order.TypeOrderShipped, `"UPS"`, usd},
		{"json: two documents", order.TypeOrderConfirmed, `{} {}`, usd},
		{"json: unknown field", order.TypeOrderConfirmed, `{"confirmed_by":"x"}`, usd},
		{"json: number for a money string", order.TypeOrderItemRemoved, fmt.Sprintf(`{"item_id":%q,"product_id":"p","total_amount":5}`, idN(5)), usd},
		{"json: string for the quantity", order.TypeOrderItemQuantityChanged, fmt.Sprintf(`{"item_id":%q,"product_id":"p","quantity":"many","subtotal":"1","total_amount":"1"}`, idN(5)), usd},
		{"json: quantity beyond int32", order.TypeOrderItemQuantityChanged, fmt.Sprintf(`{"item_id":%q,"product_id":"p","quantity":4294967297,"subtotal":"1","total_amount":"1"}`, idN(5)), usd},
		{"json: invalid UTF-8", order.TypeShippingAddressChanged, "{\"shipping_address\":\"\xff\xfe\"}", usd},
		{"json: duplicate field", order.TypeShippingAddressChanged, `{"shipping_address":"a","shipping_address":"b"}`, usd},

		// Invalid money.
		{"money: three decimals", order.TypeOrderCreated, createdWith("USD", "1.234", goodItem), ""},
		{"money: negative", order.TypeOrderCreated, createdWith("USD", "-1.00", goodItem), ""},
		{"money: empty total", order.TypeOrderCreated, createdWith("USD", "", goodItem), ""},
		{"money: exponent", order.TypeOrderItemRemoved, fmt.Sprintf(`{"item_id":%q,"product_id":"p","total_amount":"1e3"}`, idN(5)), usd},
		{"money: too large", order.TypeOrderItemQuantityChanged, fmt.Sprintf(`{"item_id":%q,"product_id":"p","quantity":1,"subtotal":"100000000.00","total_amount":"1"}`, idN(5)), usd},
		{"money: bad unit price", order.TypeOrderCreated, createdWith("USD", "1.00", item(idN(5).String(), 1, "1,00")), ""},
		{"money: unsupported currency", order.TypeOrderCreated, createdWith("JPY", "1.00", goodItem), ""},
		{"money: no currency in created", order.TypeOrderCreated, createdWith("", "1.00", goodItem), ""},
		{"money: no currency in context", order.TypeOrderItemRemoved, fmt.Sprintf(`{"item_id":%q,"product_id":"p","total_amount":"1.00"}`, idN(5)), ""},
		{"money: paid without currency", order.TypeOrderPaid, `{"amount":"1.00","payment_reference":"r"}`, usd},
		{"money: paid in lower case", order.TypeOrderPaid, `{"amount":"1.00","currency":"usd"}`, usd},
		{"money: refund due without amount", order.TypeOrderCancelled, `{"reason":"r","previous_status":"ORDER_STATUS_PAID","refund_due":true}`, usd},

		// Invalid ids.
		{"id: not a UUID", order.TypeOrderItemRemoved, `{"item_id":"not-a-uuid","product_id":"p","total_amount":"1.00"}`, usd},
		{"id: missing", order.TypeOrderItemQuantityChanged, `{"product_id":"p","quantity":1,"subtotal":"1","total_amount":"1"}`, usd},
		{"id: braces", order.TypeOrderItemRemoved, fmt.Sprintf(`{"item_id":"{%s}","product_id":"p","total_amount":"1.00"}`, idN(5).String()[1:35]), usd},
		{"id: empty line id", order.TypeOrderCreated, createdWith("USD", "1.00", item("", 1, "1.00")), ""},
		{"id: nil UUID line", order.TypeOrderItemAdded, `{"item":` + item("00000000-0000-0000-0000-000000000000", 1, "1.00") + `,"total_amount":"1.00"}`, usd},
		{"id: item missing", order.TypeOrderItemAdded, `{"total_amount":"1.00"}`, usd},

		// Invalid quantities.
		{"quantity: zero", order.TypeOrderItemQuantityChanged, fmt.Sprintf(`{"item_id":%q,"product_id":"p","subtotal":"1","total_amount":"1"}`, idN(5)), usd},
		{"quantity: negative", order.TypeOrderItemQuantityChanged, fmt.Sprintf(`{"item_id":%q,"product_id":"p","quantity":-1,"subtotal":"1","total_amount":"1"}`, idN(5)), usd},
		{"quantity: above maximum", order.TypeOrderItemQuantityChanged, fmt.Sprintf(`{"item_id":%q,"product_id":"p","quantity":10001,"subtotal":"1","total_amount":"1"}`, idN(5)), usd},
		{"quantity: zero on a created line", order.TypeOrderCreated, createdWith("USD", "1.00", item(idN(5).String(), 0, "1.00")), ""},
		{"quantity: too many on an added line", order.TypeOrderItemAdded, `{"item":` + item(idN(5).String(), 10001, "1.00") + `,"total_amount":"1.00"}`, usd},

		// Other values the domain's constructors refuse.
		{"line: empty product id", order.TypeOrderItemAdded, fmt.Sprintf(`{"item":{"id":%q,"product_name":"n","quantity":1,"unit_price":"1"},"total_amount":"1"}`, idN(5)), usd},
		{"line: subtotal overflow", order.TypeOrderItemAdded, `{"item":` + item(idN(5).String(), 10000, "99999999.99") + `,"total_amount":"1.00"}`, usd},
		{"status: missing", order.TypeOrderCancelled, `{"reason":"r"}`, usd},
		{"status: unspecified", order.TypeOrderCancelled, `{"reason":"r","previous_status":"ORDER_STATUS_UNSPECIFIED"}`, usd},
		{"status: unknown number", order.TypeOrderCancelled, `{"reason":"r","previous_status":99}`, usd},
		{"status: unknown name", order.TypeOrderCancelled, `{"reason":"r","previous_status":"ORDER_STATUS_LOST"}`, usd},

		// Payloads no command could have produced.
		{"created: no items", order.TypeOrderCreated, createdWith("USD", "0.00", ""), ""},
		{"created: total differs from the lines", order.TypeOrderCreated, createdWith("USD", "9.99", goodItem), ""},
		{"created: blank user", order.TypeOrderCreated, strings.Replace(createdWith("USD", "1.00", goodItem), `"user_id":"u"`, `"user_id":"  "`, 1), ""},
		{"address: empty", order.TypeShippingAddressChanged, `{}`, usd},
		{"shipped: no carrier", order.TypeOrderShipped, `{"tracking_number":"t"}`, usd},
		{"cancelled: no reason", order.TypeOrderCancelled, `{"previous_status":"ORDER_STATUS_PENDING"}`, usd},
		{"cancelled: after delivery", order.TypeOrderCancelled, `{"reason":"r","previous_status":"ORDER_STATUS_DELIVERED"}`, usd},
		{"cancelled: paid without refund", order.TypeOrderCancelled, `{"reason":"r","previous_status":"ORDER_STATUS_PAID"}`, usd},
		{"paid: another currency than the order's", order.TypeOrderPaid, `{"amount":"1.00","currency":"GBP"}`, usd},
		{"removed: no product", order.TypeOrderItemRemoved, fmt.Sprintf(`{"item_id":%q,"total_amount":"1.00"}`, idN(5)), usd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := protomap.UnmarshalEvent(hdr(2), tt.eventType, []byte(tt.data), tt.currency)
			if err == nil {
				t.Fatalf("UnmarshalEvent(%q, %s) = %#v; want an error", tt.eventType, tt.data, e)
			}
			if e != nil {
				t.Errorf("returned event %#v alongside the error %v", e, err)
			}
			var invalid *order.ValidationError
			if errors.As(err, &invalid) {
				t.Errorf("error %q unwraps to *order.ValidationError (field %q): a corrupt log would reach the client as its own invalid input", err, invalid.Field)
			}
		})
	}
}

func TestMarshalEventRejectsUnknownEvents(t *testing.T) {
	if _, err := protomap.MarshalEvent(foreignEvent{}); err == nil {
		t.Fatal("MarshalEvent of a foreign event type succeeded")
	}
}

// foreignEvent implements order.Event but is none of the domain's events.
type foreignEvent struct{ order.EventHeader }

func (foreignEvent) EventType() string { return "Foreign" }

func TestNewPayloadKnowsEveryEventType(t *testing.T) {
	for _, typ := range allEventTypes {
		msg, err := protomap.NewPayload(typ)
		if err != nil {
			t.Errorf("NewPayload(%s): %v", typ, err)
			continue
		}
		if got := string(msg.ProtoReflect().Descriptor().Name()); got != typ {
			t.Errorf("NewPayload(%s) is a %s", typ, got)
		}
	}
}
