package badinput

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// badCase is one malformed request, sent over both transports unless it
// only exists on one.
type badCase struct {
	name string
	// field is what the BadRequest must name; "" when the refusal is not
	// about one field (size, content type, a body that is not JSON).
	field string
	// msg is sent as is over gRPC and mapped to its route over REST.
	msg proto.Message
	// grpcRaw (with rpc) replaces msg over gRPC: bytes no marshaller makes.
	rpc     string
	grpcRaw []byte
	// rest replaces the mapped msg over REST.
	rest *restReq
	// restField replaces field over REST ("-": none).
	restField      string
	noGRPC, noREST bool
	// grpcCode and httpStatus: defaults INVALID_ARGUMENT and 400.
	grpcCode   codes.Code
	httpStatus int
}

// fixture is the state the cases aim at: a PENDING victim and a CONFIRMED
// one, and genuine page tokens to forge from.
type fixture struct {
	pending, confirmed *orderv1.Order
	ordersToken        string // ListOrders(user victim, page_size 1)
	eventsToken        string // ListOrderEvents(confirmed, page_size 1)
	pendingRequestID   string // the request id that created pending
}

const victimUser = "victim"

func validItem(sku string) *orderv1.NewLineItem {
	return &orderv1.NewLineItem{ProductId: sku, ProductName: "Widget " + sku, Quantity: 2, UnitPrice: "19.99"}
}

func validCreate() *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{
		UserId: victimUser, Items: []*orderv1.NewLineItem{validItem("sku-1"), validItem("sku-2")},
		ShippingAddress: "1 Main St, Springfield",
	}
}

// create returns validCreate changed by edit.
func create(edit func(r *orderv1.CreateOrderRequest)) *orderv1.CreateOrderRequest {
	r := validCreate()
	edit(r)
	return r
}

// rawCreate encodes a CreateOrderRequest by hand: user id, one item and the
// address as given, invalid UTF-8 and all.
func rawCreate(userID, productID, address string) []byte {
	var item []byte
	item = protowire.AppendTag(item, 1, protowire.BytesType)
	item = protowire.AppendString(item, productID)
	item = protowire.AppendTag(item, 2, protowire.BytesType)
	item = protowire.AppendString(item, "Widget")
	item = protowire.AppendTag(item, 3, protowire.VarintType)
	item = protowire.AppendVarint(item, 1)
	item = protowire.AppendTag(item, 4, protowire.BytesType)
	item = protowire.AppendString(item, "1.00")
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, userID)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, item)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, address)
	return b
}

func rawJSON(s string) *restReq {
	return &restReq{method: http.MethodPost, path: "/v1/orders", body: []byte(s)}
}

const itemJSON = `{"product_id":"sku-1","product_name":"Widget","quantity":1,"unit_price":"1.00"}`

// badCases lists the malformed requests. Over 40 reach both transports.
func badCases(fx fixture) []badCase {
	pending, confirmed := fx.pending.GetId(), fx.confirmed.GetId()
	long := func(n int) string { return strings.Repeat("a", n) }
	items := func(n int) []*orderv1.NewLineItem {
		out := make([]*orderv1.NewLineItem, n)
		for i := range out {
			out[i] = validItem(fmt.Sprintf("sku-%d", i))
		}
		return out
	}
	truncatedCreate, _ := proto.Marshal(validCreate())
	truncatedCreate = append(truncatedCreate, 0x1a, 0x40) // shipping_address: 64 bytes announced, none sent
	var wrongWireType []byte
	wrongWireType = protowire.AppendTag(wrongWireType, 1, protowire.VarintType) // user_id as a number
	wrongWireType = protowire.AppendVarint(wrongWireType, 42)
	rest := rawCreate("u", "sku-1", "x")
	wrongWireType = append(wrongWireType, rest[protowire.SizeTag(1)+protowire.SizeBytes(1):]...)

	return []badCase{
		// Quantities.
		{name: "quantity zero", field: "items[0].quantity", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = 0 })},
		{name: "quantity negative", field: "items[0].quantity", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = -3 })},
		{name: "quantity above 10000", field: "items[1].quantity", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[1].Quantity = 10001 })},
		{name: "quantity int32 max", field: "items[0].quantity", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = 1<<31 - 1 })},
		{name: "quantity int32 min", field: "items[0].quantity", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].Quantity = -1 << 31 })},
		{name: "quantity beyond int32 (JSON)", field: "items[0].quantity", noGRPC: true,
			rest: rawJSON(`{"user_id":"u","items":[{"product_id":"a","product_name":"A","quantity":4294967296,"unit_price":"1.00"}],"shipping_address":"x"}`)},
		{name: "quantity as a string (JSON)", field: "items[0].quantity", noGRPC: true,
			rest: rawJSON(`{"user_id":"u","items":[{"product_id":"a","product_name":"A","quantity":"two","unit_price":"1.00"}],"shipping_address":"x"}`)},
		{name: "subtotal beyond DECIMAL(10,2)", field: "items[0].quantity", msg: create(func(r *orderv1.CreateOrderRequest) {
			r.Items[0].Quantity, r.Items[0].UnitPrice = 10000, "99999999.99"
		})},
		{name: "change quantity to zero", field: "quantity", msg: &orderv1.ChangeOrderItemQuantityRequest{OrderId: pending, ProductId: "sku-1", Quantity: 0}},
		{name: "change quantity negative", field: "quantity", msg: &orderv1.ChangeOrderItemQuantityRequest{OrderId: pending, ProductId: "sku-1", Quantity: -5}},
		{name: "add item quantity zero", field: "item.quantity", msg: &orderv1.AddOrderItemRequest{OrderId: pending,
			Item: &orderv1.NewLineItem{ProductId: "sku-9", ProductName: "Nine", Quantity: 0, UnitPrice: "1.00"}}},

		// Prices and amounts.
		{name: "price with three decimals", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "1.999" })},
		{name: "price beyond DECIMAL(10,2)", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "100000000.00" })},
		{name: "price negative", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "-1.00" })},
		{name: "price in exponent notation", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "1e3" })},
		{name: "price empty", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "" })},
		{name: "price NaN", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "NaN" })},
		{name: "price with leading zeros", field: "items[0].unit_price", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].UnitPrice = "007.00" })},
		{name: "total beyond DECIMAL(10,2)", field: "items", msg: create(func(r *orderv1.CreateOrderRequest) {
			r.Items[0].Quantity, r.Items[0].UnitPrice = 1, "60000000.00"
			r.Items[1].Quantity, r.Items[1].UnitPrice = 1, "60000000.00"
		})},
		{name: "pay amount with three decimals", field: "amount", msg: &orderv1.PayOrderRequest{OrderId: confirmed, Amount: "79.960"}},
		{name: "pay amount negative", field: "amount", msg: &orderv1.PayOrderRequest{OrderId: confirmed, Amount: "-79.96"}},
		{name: "pay currency lower case", field: "currency", msg: &orderv1.PayOrderRequest{OrderId: confirmed, Amount: "79.96", Currency: "usd"}},
		{name: "pay in another currency", msg: &orderv1.PayOrderRequest{OrderId: confirmed, Amount: fx.confirmed.GetTotalAmount(), Currency: "EUR"},
			grpcCode: codes.FailedPrecondition},

		// Items.
		{name: "101 items", field: "items", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items = items(101) })},
		{name: "no items", field: "items", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items = nil })},
		{name: "duplicate products", field: "items", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[1].ProductId = r.Items[0].ProductId })},
		{name: "empty product id", field: "items[0].product_id", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].ProductId = "" })},
		{name: "product name of 256 characters", field: "items[0].product_name", msg: create(func(r *orderv1.CreateOrderRequest) { r.Items[0].ProductName = long(256) })},
		{name: "null item (JSON)", field: "items[0]", noGRPC: true,
			rest: rawJSON(`{"user_id":"u","items":[null],"shipping_address":"x"}`)},
		{name: "add item without item", field: "item", msg: &orderv1.AddOrderItemRequest{OrderId: pending}},
		{name: "add a product already in the order", msg: &orderv1.AddOrderItemRequest{OrderId: pending, Item: validItem("sku-1")},
			grpcCode: codes.FailedPrecondition},
		{name: "remove product id of 256 characters", field: "product_id", msg: &orderv1.RemoveOrderItemRequest{OrderId: pending, ProductId: long(256)}},

		// Addresses and other text.
		{name: "empty address", field: "shipping_address", msg: create(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = "" })},
		{name: "blank address", field: "shipping_address", msg: create(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = " \t\n " })},
		{name: "address of 1001 characters", field: "shipping_address", msg: create(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = long(1001) })},
		{name: "address of 100 KB", field: "shipping_address", msg: create(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = long(100 << 10) })},
		{name: "change address to 100 KB", field: "shipping_address", msg: &orderv1.ChangeShippingAddressRequest{OrderId: pending, ShippingAddress: long(100 << 10)}},
		{name: "change address to blank", field: "shipping_address", msg: &orderv1.ChangeShippingAddressRequest{OrderId: pending, ShippingAddress: "   "}},
		{name: "empty user id", field: "user_id", msg: create(func(r *orderv1.CreateOrderRequest) { r.UserId = "" })},
		{name: "user id of 256 characters", field: "user_id", msg: create(func(r *orderv1.CreateOrderRequest) { r.UserId = long(256) })},
		{name: "cancel without reason", field: "reason", msg: &orderv1.CancelOrderRequest{OrderId: pending}},
		{name: "cancel reason of 501 characters", field: "reason", msg: &orderv1.CancelOrderRequest{OrderId: pending, Reason: long(501)}},
		{name: "ship without carrier", field: "carrier", msg: &orderv1.ShipOrderRequest{OrderId: confirmed, TrackingNumber: "T1"}},
		{name: "tracking number of 101 characters", field: "tracking_number", msg: &orderv1.ShipOrderRequest{OrderId: confirmed, Carrier: "C", TrackingNumber: long(101)}},
		{name: "payment reference of 256 characters", field: "payment_reference", msg: &orderv1.PayOrderRequest{OrderId: confirmed, Amount: "79.96", PaymentReference: long(256)}},

		// Invalid UTF-8: raw bytes in a protobuf string, raw bytes in JSON.
		{name: "invalid UTF-8 in user id", field: "user_id", rpc: "CreateOrder", grpcRaw: rawCreate("us\xffer", "sku-1", "x"),
			rest: rawJSON("{\"user_id\":\"us\xffer\",\"items\":[" + itemJSON + "],\"shipping_address\":\"x\"}")},
		{name: "invalid UTF-8 in address", field: "shipping_address", rpc: "CreateOrder", grpcRaw: rawCreate("u", "sku-1", "Main St \xc3\x28"),
			rest: rawJSON("{\"user_id\":\"u\",\"items\":[" + itemJSON + "],\"shipping_address\":\"Main St \xc3\x28\"}")},
		{name: "invalid UTF-8 in product id", field: "items[0].product_id", rpc: "CreateOrder", grpcRaw: rawCreate("u", "sku-\xed\xa0\x80", "x"),
			rest: rawJSON("{\"user_id\":\"u\",\"items\":[{\"product_id\":\"sku-\xed\xa0\x80\",\"product_name\":\"W\",\"quantity\":1,\"unit_price\":\"1.00\"}],\"shipping_address\":\"x\"}")},

		{name: "lone surrogate escape in JSON", field: "shipping_address", noGRPC: true,
			rest: rawJSON(`{"user_id":"u","items":[` + itemJSON + `],"shipping_address":"Main \ud800 St"}`)},

		// Enums.
		{name: "unknown status value", field: "status", msg: &orderv1.ListOrdersRequest{UserId: victimUser, Status: orderv1.OrderStatus(99)}},
		{name: "unknown status name (REST)", field: "status", noGRPC: true,
			rest: &restReq{method: http.MethodGet, path: "/v1/orders?user_id=victim&status=ORDER_STATUS_LOST"}},

		// Identifiers.
		{name: "order id not a UUID", field: "order_id", msg: &orderv1.GetOrderRequest{OrderId: "not-a-uuid"}},
		{name: "order id with SQL", field: "order_id", msg: &orderv1.GetOrderRequest{OrderId: "1' OR '1'='1"}},
		{name: "order id too long", field: "order_id", msg: &orderv1.GetOrderRequest{OrderId: pending + pending}},
		{name: "order id empty", field: "order_id", msg: &orderv1.GetOrderRequest{}, noREST: true},
		{name: "confirm a malformed order id", field: "order_id", msg: &orderv1.ConfirmOrderRequest{OrderId: "12345"}},
		{name: "events of a malformed order id", field: "order_id", msg: &orderv1.ListOrderEventsRequest{OrderId: "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"}},
		{name: "request id of 129 characters", field: "request_id", msg: create(func(r *orderv1.CreateOrderRequest) { r.RequestId = long(129) })},
		{name: "request id with a control character", field: "request_id", msg: &orderv1.ConfirmOrderRequest{OrderId: pending, RequestId: "abc\x01def"}},
		{name: "request id reused with another payload", field: "request_id", msg: create(func(r *orderv1.CreateOrderRequest) {
			r.RequestId, r.ShippingAddress = fx.pendingRequestID, "another address"
		})},
		{name: "negative expected version", field: "expected_version", msg: &orderv1.ConfirmOrderRequest{OrderId: pending, ExpectedVersion: -1}},
		{name: "currency lower case", field: "currency", msg: create(func(r *orderv1.CreateOrderRequest) { r.Currency = "usd" })},
		{name: "currency unknown", field: "currency", msg: create(func(r *orderv1.CreateOrderRequest) { r.Currency = "ABC" })},
		{name: "currency with three decimals (BHD)", field: "currency", msg: create(func(r *orderv1.CreateOrderRequest) { r.Currency = "BHD" })},
		{name: "currency too long", field: "currency", msg: create(func(r *orderv1.CreateOrderRequest) { r.Currency = "EURO" })},

		// Pagination.
		{name: "negative page size", field: "page_size", msg: &orderv1.ListOrdersRequest{UserId: victimUser, PageSize: -1}},
		{name: "page size 1001", field: "page_size", msg: &orderv1.ListOrdersRequest{UserId: victimUser, PageSize: 1001}},
		{name: "page size not a number (REST)", field: "page_size", noGRPC: true,
			rest: &restReq{method: http.MethodGet, path: "/v1/orders?user_id=victim&page_size=ten"}},
		{name: "forged page token", field: "page_token", msg: &orderv1.ListOrdersRequest{UserId: victimUser, PageToken: "Zm9yZ2VkLXRva2Vu"}},
		{name: "truncated page token", field: "page_token", msg: &orderv1.ListOrdersRequest{UserId: victimUser, PageToken: fx.ordersToken[:len(fx.ordersToken)/2]}},
		{name: "tampered page token", field: "page_token", msg: &orderv1.ListOrdersRequest{UserId: victimUser, PageToken: tamper(fx.ordersToken)}},
		{name: "page token of another query", field: "page_token", msg: &orderv1.ListOrdersRequest{UserId: "someone-else", PageToken: fx.ordersToken}},
		{name: "page token of 513 characters", field: "page_token", msg: &orderv1.ListOrdersRequest{UserId: victimUser, PageToken: long(513)}},
		{name: "orders token used for events", field: "page_token", msg: &orderv1.ListOrderEventsRequest{OrderId: confirmed, PageToken: fx.ordersToken}},
		{name: "truncated events token", field: "page_token", msg: &orderv1.ListOrderEventsRequest{OrderId: confirmed, PageToken: fx.eventsToken[:len(fx.eventsToken)/2]}},
		{name: "negative events page size", field: "page_size", msg: &orderv1.ListOrderEventsRequest{OrderId: confirmed, PageSize: -10}},
		{name: "list without user id", field: "user_id", msg: &orderv1.ListOrdersRequest{}},

		// Size.
		{name: "message of 2 MiB", msg: create(func(r *orderv1.CreateOrderRequest) { r.ShippingAddress = long(2 << 20) }),
			grpcCode: codes.ResourceExhausted, httpStatus: http.StatusRequestEntityTooLarge},

		// Encoding: what only one transport can get wrong.
		{name: "truncated protobuf", rpc: "CreateOrder", grpcRaw: truncatedCreate, noREST: true},
		{name: "string field sent as a varint", field: "user_id", rpc: "CreateOrder", grpcRaw: wrongWireType, noREST: true},
		{name: "wrong content type", noGRPC: true, httpStatus: http.StatusUnsupportedMediaType,
			rest: &restReq{method: http.MethodPost, path: "/v1/orders", contentType: "text/plain", body: []byte(`{"user_id":"u"}`)}},
		{name: "XML body", noGRPC: true, httpStatus: http.StatusUnsupportedMediaType,
			rest: &restReq{method: http.MethodPost, path: "/v1/orders", contentType: "application/xml", body: []byte(`<order/>`)}},
		{name: "malformed JSON", noGRPC: true, rest: rawJSON(`{"user_id":"u","items":[`)},
		{name: "JSON array body", noGRPC: true, rest: rawJSON(`[{"user_id":"u"}]`)},
		{name: "unknown JSON field", field: "shiping_address", noGRPC: true,
			rest: rawJSON(`{"user_id":"u","items":[` + itemJSON + `],"shiping_address":"x"}`)},
		{name: "duplicate JSON key", field: "user_id", noGRPC: true,
			rest: rawJSON(`{"user_id":"u","user_id":"v","items":[` + itemJSON + `],"shipping_address":"x"}`)},
		{name: "number for a string field (JSON)", field: "user_id", noGRPC: true,
			rest: rawJSON(`{"user_id":123,"items":[` + itemJSON + `],"shipping_address":"x"}`)},
	}
}

// tamper changes one character in the middle of a token.
func tamper(token string) string {
	b := []byte(token)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
