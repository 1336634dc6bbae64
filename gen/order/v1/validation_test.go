// This file is hand-written: it pins the request rules declared in
// proto/order/v1/*.proto (protovalidate) so that a change to them is a
// deliberate one. The generators never touch *_test.go files.

package orderv1_test

import (
	"errors"
	"strings"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

const orderID = "6f1c1c52-4a4e-4c1f-9d0c-0c4f8a7a2b11"

func validCreate() *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{
		UserId: "user-123",
		Items: []*orderv1.NewLineItem{
			{ProductId: "p-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"},
			{ProductId: "p-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5"},
		},
		ShippingAddress: "1 Main St, Springfield",
	}
}

func TestSeedRequestDecodesAndValidates(t *testing.T) {
	// The body of the grpcurl call in the README, with items filled in.
	body := `{"user_id":"user-123","items":[{"product_id":"p-1","product_name":"Widget","quantity":2,"unit_price":"19.99"}],"shipping_address":"1 Main St"}`
	var req orderv1.CreateOrderRequest
	if err := protojson.Unmarshal([]byte(body), &req); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if req.GetUserId() != "user-123" || len(req.GetItems()) != 1 || req.GetShippingAddress() != "1 Main St" {
		t.Fatalf("decoded %v", &req)
	}
	if err := protovalidate.Validate(&req); err != nil {
		t.Fatalf("valid request rejected: %v", err)
	}
}

func TestRequestRules(t *testing.T) {
	longString := func(n int) string { return strings.Repeat("a", n) }
	withCreate := func(edit func(*orderv1.CreateOrderRequest)) proto.Message {
		req := validCreate()
		edit(req)
		return req
	}
	withPrice := func(price string) proto.Message {
		return withCreate(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = price })
	}
	tests := []struct {
		name string
		msg  proto.Message
		// ruleID is the violated rule, or "" when the message is valid.
		ruleID string
	}{
		{"create: valid", validCreate(), ""},
		{"money: integer", withPrice("5"), ""},
		{"money: one fraction digit", withPrice("0.5"), ""},
		{"money: zero", withPrice("0"), ""},
		{"money: maximum", withPrice("99999999.99"), ""},
		{"money: too large", withPrice("100000000"), "string.amount"},
		{"money: three fraction digits", withPrice("19.999"), "string.amount"},
		{"money: leading zero", withPrice("01.5"), "string.amount"},
		{"money: negative", withPrice("-1"), "string.amount"},
		{"money: trailing dot", withPrice("1."), "string.amount"},
		{"money: exponent", withPrice("1e3"), "string.amount"},
		{"money: empty", withPrice(""), "string.amount"},
		{"currency: empty means default", withCreate(func(r *orderv1.CreateOrderRequest) { r.Currency = "" }), ""},
		{"currency: ISO code", withCreate(func(r *orderv1.CreateOrderRequest) { r.Currency = "EUR" }), ""},
		{"currency: lower case", withCreate(func(r *orderv1.CreateOrderRequest) { r.Currency = "eur" }), "string.currency_code"},
		{"currency: too long", withCreate(func(r *orderv1.CreateOrderRequest) { r.Currency = "EURO" }), "string.currency_code"},
		{"user_id: empty", withCreate(func(r *orderv1.CreateOrderRequest) { r.UserId = "" }), "string.min_len"},
		{"user_id: 255 chars", withCreate(func(r *orderv1.CreateOrderRequest) { r.UserId = longString(255) }), ""},
		{"user_id: 256 chars", withCreate(func(r *orderv1.CreateOrderRequest) { r.UserId = longString(256) }), "string.max_len"},
		{"items: none", withCreate(func(r *orderv1.CreateOrderRequest) { r.Items = nil }), "repeated.min_items"},
		{"items: 101", withCreate(func(r *orderv1.CreateOrderRequest) {
			r.Items = nil
			for i := range 101 {
				r.Items = append(r.Items, &orderv1.NewLineItem{ProductId: "p" + strings.Repeat("x", i), ProductName: "n", Quantity: 1, UnitPrice: "1"})
			}
		}), "repeated.max_items"},
		{"items: duplicate product", withCreate(func(r *orderv1.CreateOrderRequest) { r.Items[1].ProductId = r.Items[0].ProductId }), "items.unique_product_id"},
		{"item: quantity 0", withCreate(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = 0 }), "int32.gte_lte"},
		{"item: quantity 10001", withCreate(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = 10001 }), "int32.gte_lte"},
		{"item: quantity 10000", withCreate(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = 10000 }), ""},
		{"item: empty product name", withCreate(func(r *orderv1.CreateOrderRequest) { r.Items[0].ProductName = "" }), "string.min_len"},
		// An empty address, or both forms, the application refuses, naming
		// the field: the edge cannot tell which of the two a client meant.
		{"address: empty", withCreate(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = "" }), ""},
		{"address: structured instead", withCreate(func(r *orderv1.CreateOrderRequest) {
			r.ShippingAddress, r.PostalAddress = "", &orderv1.PostalAddress{AddressLines: []string{"1 Main St"}, Locality: "Berlin", RegionCode: "DE"}
		}), ""},
		{"address: text and structured", withCreate(func(r *orderv1.CreateOrderRequest) {
			r.PostalAddress = &orderv1.PostalAddress{AddressLines: []string{"1 Main St"}, Locality: "Berlin", RegionCode: "DE"}
		}), ""},
		{"address: blank", withCreate(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = " \t\n " }), "shipping_address.not_blank"},
		{"address: 1001 chars", withCreate(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = longString(1001) }), "string.max_len"},
		{"address: 1000 multi-byte chars", withCreate(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = strings.Repeat("é", 1000) }), ""},
		{"request_id: 128 chars", withCreate(func(r *orderv1.CreateOrderRequest) { r.RequestId = longString(128) }), ""},
		{"request_id: 129 chars", withCreate(func(r *orderv1.CreateOrderRequest) { r.RequestId = longString(129) }), "string.max_len"},
		{"request_id: printable with space", withCreate(func(r *orderv1.CreateOrderRequest) { r.RequestId = "retry 1/key-~!" }), ""},
		{"request_id: control char", withCreate(func(r *orderv1.CreateOrderRequest) { r.RequestId = "a\nb" }), "string.printable_ascii"},
		{"request_id: non-ASCII", withCreate(func(r *orderv1.CreateOrderRequest) { r.RequestId = "clé" }), "string.printable_ascii"},

		{"get: valid", &orderv1.GetOrderRequest{OrderId: orderID}, ""},
		{"get: not a UUID", &orderv1.GetOrderRequest{OrderId: "order-1"}, "string.uuid"},
		{"get: empty", &orderv1.GetOrderRequest{}, "string.uuid_empty"},

		{"list: valid", &orderv1.ListOrdersRequest{UserId: "u", Status: orderv1.OrderStatus_ORDER_STATUS_PAID, PageSize: 1000}, ""},
		{"list: no user", &orderv1.ListOrdersRequest{}, "string.min_len"},
		{"list: undefined status", &orderv1.ListOrdersRequest{UserId: "u", Status: 99}, "enum.defined_only"},
		{"list: page size 1001", &orderv1.ListOrdersRequest{UserId: "u", PageSize: 1001}, "int32.gte_lte"},
		{"list: negative page size", &orderv1.ListOrdersRequest{UserId: "u", PageSize: -1}, "int32.gte_lte"},
		{"list: page token 513", &orderv1.ListOrdersRequest{UserId: "u", PageToken: longString(513)}, "string.max_len"},

		{"add item: valid", &orderv1.AddOrderItemRequest{OrderId: orderID, Item: validCreate().Items[0]}, ""},
		{"add item: missing item", &orderv1.AddOrderItemRequest{OrderId: orderID}, "required"},
		{"add item: negative version", &orderv1.AddOrderItemRequest{OrderId: orderID, Item: validCreate().Items[0], ExpectedVersion: -1}, "int64.gte"},
		{"remove item: empty product", &orderv1.RemoveOrderItemRequest{OrderId: orderID}, "string.min_len"},
		{"change quantity: 0", &orderv1.ChangeOrderItemQuantityRequest{OrderId: orderID, ProductId: "p", Quantity: 0}, "int32.gte_lte"},
		{"change address: blank", &orderv1.ChangeShippingAddressRequest{OrderId: orderID, ShippingAddress: "  "}, "shipping_address.not_blank"},
		{"change address: structured", &orderv1.ChangeShippingAddressRequest{OrderId: orderID, PostalAddress: &orderv1.PostalAddress{AddressLines: []string{"1 Main St"}}}, ""},
		{"confirm: valid", &orderv1.ConfirmOrderRequest{OrderId: orderID, ExpectedVersion: 3}, ""},
		{"pay: valid", &orderv1.PayOrderRequest{OrderId: orderID, Amount: "59.97", Currency: "USD"}, ""},
		{"pay: bad amount", &orderv1.PayOrderRequest{OrderId: orderID, Amount: "59.975"}, "string.amount"},
		{"pay: bad currency", &orderv1.PayOrderRequest{OrderId: orderID, Amount: "1", Currency: "US"}, "string.currency_code"},
		{"pay: reference 256", &orderv1.PayOrderRequest{OrderId: orderID, Amount: "1", PaymentReference: longString(256)}, "string.max_len"},
		{"ship: valid", &orderv1.ShipOrderRequest{OrderId: orderID, Carrier: "UPS", TrackingNumber: "1Z"}, ""},
		{"ship: no carrier", &orderv1.ShipOrderRequest{OrderId: orderID, TrackingNumber: "1Z"}, "string.min_len"},
		{"ship: tracking 101", &orderv1.ShipOrderRequest{OrderId: orderID, Carrier: "UPS", TrackingNumber: longString(101)}, "string.max_len"},
		{"deliver: valid", &orderv1.DeliverOrderRequest{OrderId: orderID}, ""},
		{"cancel: no reason", &orderv1.CancelOrderRequest{OrderId: orderID}, "string.min_len"},
		{"cancel: reason 501", &orderv1.CancelOrderRequest{OrderId: orderID, Reason: longString(501)}, "string.max_len"},
		{"events: valid", &orderv1.ListOrderEventsRequest{OrderId: orderID, PageSize: 10}, ""},
		{"events: page size 1001", &orderv1.ListOrderEventsRequest{OrderId: orderID, PageSize: 1001}, "int32.gte_lte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := protovalidate.Validate(tt.msg)
			if tt.ruleID == "" {
				if err != nil {
					t.Fatalf("valid message rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want violation of %q", tt.ruleID)
			}
			var verr *protovalidate.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error %v is not a validation error", err)
			}
			var ids []string
			for _, v := range verr.Violations {
				ids = append(ids, v.Proto.GetRuleId())
			}
			if len(ids) != 1 || ids[0] != tt.ruleID {
				t.Fatalf("violations %v, want exactly [%s]", ids, tt.ruleID)
			}
		})
	}
}

func TestEventPayloadsRoundTripAsProtoJSON(t *testing.T) {
	// Each payload is stored alone in order_events.data; it must survive a
	// protojson round trip unchanged.
	payloads := []proto.Message{
		&orderv1.OrderCreated{OrderId: orderID, UserId: "u", Currency: "USD", ShippingAddress: "a",
			Items: []*orderv1.LineItem{{Id: orderID, ProductId: "p", ProductName: "n", Quantity: 2, UnitPrice: "1.50", Subtotal: "3.00"}}, TotalAmount: "3.00"},
		&orderv1.OrderItemAdded{Item: &orderv1.LineItem{Id: orderID, ProductId: "p"}, TotalAmount: "3"},
		&orderv1.OrderItemRemoved{ItemId: orderID, ProductId: "p", TotalAmount: "0"},
		&orderv1.OrderItemQuantityChanged{ItemId: orderID, ProductId: "p", Quantity: 3, Subtotal: "4.50", TotalAmount: "4.50"},
		&orderv1.ShippingAddressChanged{ShippingAddress: "b"},
		&orderv1.OrderConfirmed{},
		&orderv1.OrderPaid{Amount: "4.50", Currency: "USD", PaymentReference: "ref"},
		&orderv1.OrderShipped{Carrier: "UPS", TrackingNumber: "1Z"},
		&orderv1.OrderDelivered{},
		&orderv1.OrderCancelled{Reason: "r", PreviousStatus: orderv1.OrderStatus_ORDER_STATUS_PAID, RefundDue: true, RefundAmount: "4.50"},
	}
	oneof := (&orderv1.OrderEvent{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	if got := oneof.Fields().Len(); got != len(payloads) {
		t.Fatalf("OrderEvent.payload has %d cases, test covers %d", got, len(payloads))
	}
	for _, p := range payloads {
		data, err := protojson.Marshal(p)
		if err != nil {
			t.Fatalf("marshal %T: %v", p, err)
		}
		back := p.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(data, back); err != nil {
			t.Fatalf("unmarshal %T from %s: %v", p, data, err)
		}
		if !proto.Equal(p, back) {
			t.Errorf("%T changed in a round trip: %s", p, data)
		}
	}
}
