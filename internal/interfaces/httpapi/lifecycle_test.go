package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/apitest"
)

// seedJSON is the request of the seed's grpcurl example, byte for byte in
// shape: snake_case names, a decimal string price.
const seedJSON = `{"user_id":"user-123","items":[{"product_id":"p1","product_name":"Widget","quantity":2,"unit_price":"19.99"}],"shipping_address":"1 Main St"}`

func transports(env *apitest.Env) map[string]orderv1.OrderServiceClient {
	return map[string]orderv1.OrderServiceClient{"grpc": env.GRPC, "rest": env.REST}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func seedRequest(t *testing.T, userID string) *orderv1.CreateOrderRequest {
	t.Helper()
	req := &orderv1.CreateOrderRequest{}
	if err := protojson.Unmarshal([]byte(seedJSON), req); err != nil {
		t.Fatalf("seed request: %v", err)
	}
	req.UserId = userID
	return req
}

func TestLifecycle(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	for name, client := range transports(env) {
		t.Run(name, func(t *testing.T) {
			l := lifecycle{t: t, ctx: testContext(t), c: client, user: "user-" + uuid.NewString()}
			delivered := l.walkToDelivered()
			cancelled := l.createAndCancel()
			l.checkListing(delivered, cancelled)
			l.checkHistory(delivered)
		})
	}
}

// lifecycle drives one transport through every method.
type lifecycle struct {
	t    *testing.T
	ctx  context.Context
	c    orderv1.OrderServiceClient
	user string
}

func (l lifecycle) check(o *orderv1.Order, err error, status orderv1.OrderStatus, version int64, total string) *orderv1.Order {
	l.t.Helper()
	if err != nil {
		l.t.Fatalf("call failed: %v", err)
	}
	if o.GetStatus() != status || o.GetVersion() != version || o.GetTotalAmount() != total {
		l.t.Fatalf("order = %v v%d total %s, want %v v%d total %s", o.GetStatus(), o.GetVersion(), o.GetTotalAmount(), status, version, total)
	}
	return o
}

func (l lifecycle) walkToDelivered() string {
	t, ctx, c := l.t, l.ctx, l.c
	t.Helper()
	pending := orderv1.OrderStatus_ORDER_STATUS_PENDING
	created, err := c.CreateOrder(ctx, seedRequest(t, l.user))
	o := l.check(created.GetOrder(), err, pending, 1, "39.98")
	if o.GetCurrency() != "USD" || o.GetUserId() != l.user || len(o.GetItems()) != 1 || o.GetItems()[0].GetSubtotal() != "39.98" {
		t.Fatalf("created order = %v", o)
	}
	id := o.GetId()
	got, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id})
	l.check(got.GetOrder(), err, pending, 1, "39.98")

	added, err := c.AddOrderItem(ctx, &orderv1.AddOrderItemRequest{OrderId: id, ExpectedVersion: 1,
		Item: &orderv1.NewLineItem{ProductId: "p2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5"}})
	l.check(added.GetOrder(), err, pending, 2, "44.98")
	changed, err := c.ChangeOrderItemQuantity(ctx, &orderv1.ChangeOrderItemQuantityRequest{OrderId: id, ProductId: "p1", Quantity: 3})
	l.check(changed.GetOrder(), err, pending, 3, "64.97")
	removed, err := c.RemoveOrderItem(ctx, &orderv1.RemoveOrderItemRequest{OrderId: id, ProductId: "p2", ExpectedVersion: 3})
	l.check(removed.GetOrder(), err, pending, 4, "59.97")
	moved, err := c.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{OrderId: id, ShippingAddress: "2 Side St"})
	if l.check(moved.GetOrder(), err, pending, 5, "59.97").GetShippingAddress() != "2 Side St" {
		t.Fatalf("address not changed: %v", moved.GetOrder())
	}

	confirmed, err := c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: id, ExpectedVersion: 5, RequestId: "confirm-" + id})
	l.check(confirmed.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_CONFIRMED, 6, "59.97")
	paid, err := c.PayOrder(ctx, &orderv1.PayOrderRequest{OrderId: id, Amount: "59.97", Currency: "USD", PaymentReference: "pay-1"})
	if l.check(paid.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_PAID, 7, "59.97").GetPayment().GetAmount() != "59.97" {
		t.Fatalf("payment = %v", paid.GetOrder().GetPayment())
	}
	shipped, err := c.ShipOrder(ctx, &orderv1.ShipOrderRequest{OrderId: id, Carrier: "UPS", TrackingNumber: "1Z999"})
	if l.check(shipped.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_SHIPPED, 8, "59.97").GetShipment().GetTrackingNumber() != "1Z999" {
		t.Fatalf("shipment = %v", shipped.GetOrder().GetShipment())
	}
	delivered, err := c.DeliverOrder(ctx, &orderv1.DeliverOrderRequest{OrderId: id})
	if l.check(delivered.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_DELIVERED, 9, "59.97").GetShipment().GetDeliverTime() == nil {
		t.Fatalf("no deliver time: %v", delivered.GetOrder())
	}
	return id
}

func (l lifecycle) createAndCancel() string {
	l.t.Helper()
	created, err := l.c.CreateOrder(l.ctx, seedRequest(l.t, l.user))
	id := l.check(created.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_PENDING, 1, "39.98").GetId()
	cancelled, err := l.c.CancelOrder(l.ctx, &orderv1.CancelOrderRequest{OrderId: id, Reason: "changed my mind"})
	o := l.check(cancelled.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_CANCELLED, 2, "39.98")
	if o.GetCancellation().GetReason() != "changed my mind" || o.GetCancellation().GetRefundDue() {
		l.t.Fatalf("cancellation = %v", o.GetCancellation())
	}
	return id
}

func (l lifecycle) checkListing(delivered, cancelled string) {
	t, ctx, c := l.t, l.ctx, l.c
	t.Helper()
	first, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: l.user, PageSize: 1})
	if err != nil || len(first.GetOrders()) != 1 || first.GetOrders()[0].GetId() != cancelled || first.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v; want the newest order %s and a token", first, err, cancelled)
	}
	second, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: l.user, PageSize: 1, PageToken: first.GetNextPageToken()})
	if err != nil || len(second.GetOrders()) != 1 || second.GetOrders()[0].GetId() != delivered || second.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v; want the older order %s and no token", second, err, delivered)
	}
	for status, want := range map[orderv1.OrderStatus]string{
		orderv1.OrderStatus_ORDER_STATUS_DELIVERED: delivered,
		orderv1.OrderStatus_ORDER_STATUS_CANCELLED: cancelled,
	} {
		page, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: l.user, Status: status})
		if err != nil || len(page.GetOrders()) != 1 || page.GetOrders()[0].GetId() != want {
			t.Fatalf("orders in %v = %v, %v; want %s", status, page, err, want)
		}
	}
}

func (l lifecycle) checkHistory(id string) {
	t, ctx, c := l.t, l.ctx, l.c
	t.Helper()
	var events []*orderv1.OrderEvent
	token := ""
	for pages := 0; ; pages++ {
		page, err := c.ListOrderEvents(ctx, &orderv1.ListOrderEventsRequest{OrderId: id, PageSize: 4, PageToken: token})
		if err != nil || pages > 3 {
			t.Fatalf("events page %d: %v (pages so far %d)", pages, err, pages)
		}
		events = append(events, page.GetEvents()...)
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	wantTypes := []string{"OrderCreated", "OrderItemAdded", "OrderItemQuantityChanged", "OrderItemRemoved",
		"ShippingAddressChanged", "OrderConfirmed", "OrderPaid", "OrderShipped", "OrderDelivered"}
	if len(events) != len(wantTypes) {
		t.Fatalf("got %d events, want %d", len(events), len(wantTypes))
	}
	for i, e := range events {
		if e.GetEventType() != wantTypes[i] || e.GetVersion() != int64(i+1) || e.GetOrderId() != id ||
			e.GetActorId() != "anonymous" || e.GetOccurTime() == nil || e.GetPayload() == nil {
			t.Fatalf("event %d = %v, want a %s at version %d", i, e, wantTypes[i], i+1)
		}
	}
	if got := events[0].GetOrderCreated(); got.GetOrderId() != id || got.GetTotalAmount() != "39.98" || len(got.GetItems()) != 1 {
		t.Fatalf("OrderCreated payload = %v", got)
	}
	if got := events[6].GetOrderPaid(); got.GetAmount() != "59.97" || got.GetPaymentReference() != "pay-1" {
		t.Fatalf("OrderPaid payload = %v", got)
	}
}

// TestSeedRequest sends the seed's grpcurl JSON unchanged over both
// transports.
func TestSeedRequest(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx := testContext(t)

	req := &orderv1.CreateOrderRequest{}
	if err := protojson.Unmarshal([]byte(seedJSON), req); err != nil {
		t.Fatalf("the seed's JSON does not decode into CreateOrderRequest: %v", err)
	}
	viaGRPC, err := env.GRPC.CreateOrder(ctx, req)
	if err != nil || viaGRPC.GetOrder().GetTotalAmount() != "39.98" || viaGRPC.GetOrder().GetUserId() != "user-123" {
		t.Fatalf("gRPC CreateOrder = %v, %v", viaGRPC, err)
	}

	resp := postJSON(t, env.HTTP.URL+"/v1/orders", "application/json", seedJSON)
	if resp.code != 200 {
		t.Fatalf("REST CreateOrder = %d %s", resp.code, resp.body)
	}
	viaREST := &orderv1.CreateOrderResponse{}
	if err := protojson.Unmarshal(resp.body, viaREST); err != nil || viaREST.GetOrder().GetTotalAmount() != "39.98" {
		t.Fatalf("REST CreateOrder body = %s (%v)", resp.body, err)
	}
	for _, want := range []string{`"user_id":"user-123"`, `"total_amount":"39.98"`, `"status":"ORDER_STATUS_PENDING"`} {
		if !contains(resp.body, want) {
			t.Errorf("REST body %s lacks %s (snake_case names expected)", resp.body, want)
		}
	}
}
