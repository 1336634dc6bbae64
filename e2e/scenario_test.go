package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/testkit"
)

// topic is the service's default KAFKA_TOPIC.
const topic = "order-events"

// actorID is who every event is recorded for while authentication is off.
const actorID = "anonymous"

// seedItems are the items of the seed's CreateOrder call (README walkthrough).
func seedItems() []*orderv1.NewLineItem {
	return []*orderv1.NewLineItem{
		{ProductId: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"},
		{ProductId: "sku-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5.00"},
	}
}

// seedCreate is the seed's request shape: user_id, items, shipping_address.
func seedCreate(user, requestID string) *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{
		UserId: user, Items: seedItems(), ShippingAddress: "1 Main St, Springfield", RequestId: requestID,
	}
}

// runLifecycle drives orders through every command and query over c, checks
// each answer and the read model, and returns the ids of the orders it made.
//
// Order A: create (and its retry), add item, change quantity, remove item,
// change address, confirm, pay, ship, deliver. Order B: create, confirm, pay,
// cancel (refund due). Orders C-E fill a second and third page of
// ListOrders.
func runLifecycle(t *testing.T, ctx context.Context, c orderv1.OrderServiceClient, label string) []string {
	user := "user-" + label
	rid := func(s string) string { return label + "-" + s }

	// Create, with the seed's fields; the retry returns the same order.
	createReq := seedCreate(user, rid("create-a"))
	cr, err := c.CreateOrder(ctx, createReq)
	requireOK(t, "CreateOrder", err)
	a := cr.GetOrder()
	if _, err := uuid.Parse(a.GetId()); err != nil {
		t.Fatalf("order id %q is not a UUID", a.GetId())
	}
	if a.GetStatus() != orderv1.OrderStatus_ORDER_STATUS_PENDING || a.GetVersion() != 1 || a.GetUserId() != user ||
		a.GetCurrency() != "USD" || a.GetTotalAmount() != "44.98" || len(a.GetItems()) != 2 ||
		a.GetShippingAddress() != "1 Main St, Springfield" || a.GetCreateTime() == nil {
		t.Fatalf("created order: %v", compact(a))
	}
	if it := item(a, "sku-1"); it.GetSubtotal() != "39.98" || it.GetId() == "" || it.GetQuantity() != 2 {
		t.Errorf("sku-1 line: %v", compact(it))
	}
	retry, err := c.CreateOrder(ctx, createReq)
	requireOK(t, "CreateOrder retry", err)
	sameOrder(t, "CreateOrder retry with the same request_id", retry.GetOrder(), a)

	got, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: a.GetId()})
	requireOK(t, "GetOrder", err)
	sameOrder(t, "GetOrder after create", got.GetOrder(), a)

	// Items change while PENDING; each change is conditional on the version.
	add, err := c.AddOrderItem(ctx, &orderv1.AddOrderItemRequest{
		OrderId: a.GetId(), ExpectedVersion: 1, RequestId: rid("add"),
		Item: &orderv1.NewLineItem{ProductId: "sku-3", ProductName: "Gizmo", Quantity: 1, UnitPrice: "2.50"},
	})
	requireOK(t, "AddOrderItem", err)
	a = add.GetOrder()
	expectOrder(t, "AddOrderItem", a, 2, orderv1.OrderStatus_ORDER_STATUS_PENDING, "47.48")
	if len(a.GetItems()) != 3 || item(a, "sku-3").GetSubtotal() != "2.50" {
		t.Errorf("after AddOrderItem: %v", compact(a))
	}

	qty, err := c.ChangeOrderItemQuantity(ctx, &orderv1.ChangeOrderItemQuantityRequest{
		OrderId: a.GetId(), ProductId: "sku-1", Quantity: 3, ExpectedVersion: 2, RequestId: rid("qty"),
	})
	requireOK(t, "ChangeOrderItemQuantity", err)
	a = qty.GetOrder()
	expectOrder(t, "ChangeOrderItemQuantity", a, 3, orderv1.OrderStatus_ORDER_STATUS_PENDING, "67.47")
	if it := item(a, "sku-1"); it.GetQuantity() != 3 || it.GetSubtotal() != "59.97" {
		t.Errorf("sku-1 after ChangeOrderItemQuantity: %v", compact(it))
	}

	rm, err := c.RemoveOrderItem(ctx, &orderv1.RemoveOrderItemRequest{
		OrderId: a.GetId(), ProductId: "sku-2", ExpectedVersion: 3, RequestId: rid("remove"),
	})
	requireOK(t, "RemoveOrderItem", err)
	a = rm.GetOrder()
	expectOrder(t, "RemoveOrderItem", a, 4, orderv1.OrderStatus_ORDER_STATUS_PENDING, "62.47")
	if len(a.GetItems()) != 2 || item(a, "sku-2") != nil {
		t.Errorf("after RemoveOrderItem: %v", compact(a))
	}

	addr, err := c.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{
		OrderId: a.GetId(), ShippingAddress: "742 Evergreen Terrace", ExpectedVersion: 4, RequestId: rid("address"),
	})
	requireOK(t, "ChangeShippingAddress", err)
	a = addr.GetOrder()
	expectOrder(t, "ChangeShippingAddress", a, 5, orderv1.OrderStatus_ORDER_STATUS_PENDING, "62.47")
	if a.GetShippingAddress() != "742 Evergreen Terrace" {
		t.Errorf("address after ChangeShippingAddress: %q", a.GetShippingAddress())
	}

	// The normal path to DELIVERED.
	conf, err := c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: a.GetId(), ExpectedVersion: 5, RequestId: rid("confirm")})
	requireOK(t, "ConfirmOrder", err)
	a = conf.GetOrder()
	expectOrder(t, "ConfirmOrder", a, 6, orderv1.OrderStatus_ORDER_STATUS_CONFIRMED, "62.47")

	pay, err := c.PayOrder(ctx, &orderv1.PayOrderRequest{
		OrderId: a.GetId(), Amount: "62.47", Currency: "USD", PaymentReference: "pay-" + label, ExpectedVersion: 6, RequestId: rid("pay"),
	})
	requireOK(t, "PayOrder", err)
	a = pay.GetOrder()
	expectOrder(t, "PayOrder", a, 7, orderv1.OrderStatus_ORDER_STATUS_PAID, "62.47")
	if p := a.GetPayment(); p.GetAmount() != "62.47" || p.GetPaymentReference() != "pay-"+label || p.GetPayTime() == nil {
		t.Errorf("payment: %v", compact(a))
	}

	ship, err := c.ShipOrder(ctx, &orderv1.ShipOrderRequest{
		OrderId: a.GetId(), Carrier: "UPS", TrackingNumber: "1Z" + label, RequestId: rid("ship"), // no expected_version: unchecked
	})
	requireOK(t, "ShipOrder", err)
	a = ship.GetOrder()
	expectOrder(t, "ShipOrder", a, 8, orderv1.OrderStatus_ORDER_STATUS_SHIPPED, "62.47")
	if s := a.GetShipment(); s.GetCarrier() != "UPS" || s.GetTrackingNumber() != "1Z"+label || s.GetShipTime() == nil {
		t.Errorf("shipment: %v", compact(a))
	}

	del, err := c.DeliverOrder(ctx, &orderv1.DeliverOrderRequest{OrderId: a.GetId(), ExpectedVersion: 8, RequestId: rid("deliver")})
	requireOK(t, "DeliverOrder", err)
	a = del.GetOrder()
	expectOrder(t, "DeliverOrder", a, 9, orderv1.OrderStatus_ORDER_STATUS_DELIVERED, "62.47")
	if a.GetShipment().GetDeliverTime() == nil {
		t.Errorf("no deliver_time: %v", compact(a))
	}
	got, err = c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: a.GetId()})
	requireOK(t, "GetOrder", err)
	sameOrder(t, "GetOrder after DeliverOrder (read model)", got.GetOrder(), a)

	// Order B is paid, then cancelled: a refund is due.
	crB, err := c.CreateOrder(ctx, &orderv1.CreateOrderRequest{
		UserId: user, ShippingAddress: "2 Side Rd", Currency: "EUR", RequestId: rid("create-b"),
		Items: []*orderv1.NewLineItem{{ProductId: "sku-9", ProductName: "Gizmo", Quantity: 4, UnitPrice: "12.50"}},
	})
	requireOK(t, "CreateOrder B", err)
	b := crB.GetOrder()
	expectOrder(t, "CreateOrder B", b, 1, orderv1.OrderStatus_ORDER_STATUS_PENDING, "50.00")
	_, err = c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: b.GetId(), ExpectedVersion: 1})
	requireOK(t, "ConfirmOrder B", err)
	_, err = c.PayOrder(ctx, &orderv1.PayOrderRequest{OrderId: b.GetId(), Amount: "50", ExpectedVersion: 2})
	requireOK(t, "PayOrder B", err)
	cancel, err := c.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: b.GetId(), Reason: "changed my mind", ExpectedVersion: 3, RequestId: rid("cancel-b")})
	requireOK(t, "CancelOrder B", err)
	b = cancel.GetOrder()
	expectOrder(t, "CancelOrder B", b, 4, orderv1.OrderStatus_ORDER_STATUS_CANCELLED, "50.00")
	if cn := b.GetCancellation(); cn.GetReason() != "changed my mind" || !cn.GetRefundDue() || cn.GetRefundAmount() != "50.00" || cn.GetCancelTime() == nil {
		t.Errorf("cancellation of a paid order: %v", compact(b))
	}
	if b.GetCurrency() != "EUR" {
		t.Errorf("order B currency %q, want EUR", b.GetCurrency())
	}

	// Three more orders, then page through all five, newest first.
	ids := []string{a.GetId(), b.GetId()}
	for i := range 3 {
		r, err := c.CreateOrder(ctx, seedCreate(user, rid(fmt.Sprintf("create-%d", i))))
		requireOK(t, "CreateOrder", err)
		ids = append(ids, r.GetOrder().GetId())
	}
	listed := listAll(t, ctx, c, &orderv1.ListOrdersRequest{UserId: user, PageSize: 2}, []int{2, 2, 1})
	if want := reversed(ids); !slices.Equal(listed, want) {
		t.Errorf("ListOrders pages = %v, want newest first %v", listed, want)
	}
	delivered := listAll(t, ctx, c, &orderv1.ListOrdersRequest{UserId: user, Status: orderv1.OrderStatus_ORDER_STATUS_DELIVERED}, []int{1})
	if !slices.Equal(delivered, []string{a.GetId()}) {
		t.Errorf("ListOrders status=DELIVERED = %v, want [%s]", delivered, a.GetId())
	}

	// The history: versions 1..N, the right types and payloads, the actor.
	checkHistory(t, listEvents(t, ctx, c, a.GetId(), 4), a.GetId(), []string{
		"OrderCreated", "OrderItemAdded", "OrderItemQuantityChanged", "OrderItemRemoved",
		"ShippingAddressChanged", "OrderConfirmed", "OrderPaid", "OrderShipped", "OrderDelivered",
	})
	evB := listEvents(t, ctx, c, b.GetId(), 0)
	checkHistory(t, evB, b.GetId(), []string{"OrderCreated", "OrderConfirmed", "OrderPaid", "OrderCancelled"})
	if oc := evB[len(evB)-1].GetOrderCancelled(); oc.GetPreviousStatus() != orderv1.OrderStatus_ORDER_STATUS_PAID || !oc.GetRefundDue() || oc.GetRefundAmount() != "50.00" {
		t.Errorf("OrderCancelled payload: %v", compact(oc))
	}
	return ids
}

// expectOrder checks the fields every transition changes.
func expectOrder(t testing.TB, what string, o *orderv1.Order, version int64, st orderv1.OrderStatus, total string) {
	t.Helper()
	if o.GetVersion() != version || o.GetStatus() != st || o.GetTotalAmount() != total {
		t.Fatalf("%s: version %d status %s total %s, want %d %s %s\n%v", what,
			o.GetVersion(), o.GetStatus(), o.GetTotalAmount(), version, st, total, compact(o))
	}
	if o.GetUpdateTime() == nil || o.GetUpdateTime().AsTime().Before(o.GetCreateTime().AsTime()) {
		t.Errorf("%s: update_time %v before create_time %v", what, o.GetUpdateTime(), o.GetCreateTime())
	}
}

func item(o *orderv1.Order, productID string) *orderv1.LineItem {
	for _, it := range o.GetItems() {
		if it.GetProductId() == productID {
			return it
		}
	}
	return nil
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// listAll pages through ListOrders and checks the page sizes.
func listAll(t testing.TB, ctx context.Context, c orderv1.OrderServiceClient, req *orderv1.ListOrdersRequest, pageSizes []int) []string {
	t.Helper()
	var sizes []int
	var out []string
	req = proto.CloneOf(req)
	for page := 0; page < 100; page++ {
		resp, err := c.ListOrders(ctx, req)
		requireOK(t, "ListOrders", err)
		sizes = append(sizes, len(resp.GetOrders()))
		for _, o := range resp.GetOrders() {
			out = append(out, o.GetId())
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if !slices.Equal(sizes, pageSizes) {
		t.Errorf("ListOrders(%v) page sizes %v, want %v", compact(req), sizes, pageSizes)
	}
	return out
}

// listEvents pages through ListOrderEvents (page size 0 = server default).
func listEvents(t testing.TB, ctx context.Context, c orderv1.OrderServiceClient, orderID string, pageSize int32) []*orderv1.OrderEvent {
	t.Helper()
	req := &orderv1.ListOrderEventsRequest{OrderId: orderID, PageSize: pageSize}
	var out []*orderv1.OrderEvent
	for page := 0; page < 100; page++ {
		resp, err := c.ListOrderEvents(ctx, req)
		requireOK(t, "ListOrderEvents", err)
		if pageSize > 0 && len(resp.GetEvents()) > int(pageSize) {
			t.Errorf("ListOrderEvents page of %d events, page_size %d", len(resp.GetEvents()), pageSize)
		}
		out = append(out, resp.GetEvents()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
	t.Fatalf("ListOrderEvents %s: more than 100 pages", orderID)
	return nil
}

// checkHistory checks an order's log: versions 1..N, types, ids, actor, and
// a payload matching each type.
func checkHistory(t testing.TB, events []*orderv1.OrderEvent, orderID string, types []string) {
	t.Helper()
	var got []string
	for i, e := range events {
		got = append(got, e.GetEventType())
		if e.GetVersion() != int64(i+1) || e.GetOrderId() != orderID || e.GetActorId() != actorID || e.GetOccurTime() == nil {
			t.Errorf("event %d of %s: %v", i+1, orderID, compact(e))
		}
		if _, err := uuid.Parse(e.GetEventId()); err != nil {
			t.Errorf("event %d of %s: event_id %q is not a UUID", i+1, orderID, e.GetEventId())
		}
		if p := payloadOf(e); p == nil || string(p.ProtoReflect().Descriptor().Name()) != e.GetEventType() {
			t.Errorf("event %d of %s: payload does not match type %s: %v", i+1, orderID, e.GetEventType(), compact(e))
		}
	}
	if !slices.Equal(got, types) {
		t.Errorf("history of %s: %v, want %v", orderID, got, types)
	}
}

// payloadOf returns the set member of the event's payload oneof.
func payloadOf(e *orderv1.OrderEvent) proto.Message {
	m := e.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("payload"))
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message().Interface()
}

// historyOf reads the logs of the orders through c.
func historyOf(t testing.TB, ctx context.Context, c orderv1.OrderServiceClient, ids []string) map[string][]*orderv1.OrderEvent {
	t.Helper()
	out := make(map[string][]*orderv1.OrderEvent, len(ids))
	for _, id := range ids {
		out[id] = listEvents(t, ctx, c, id, 1000)
	}
	return out
}

func countEvents(history map[string][]*orderv1.OrderEvent) int {
	n := 0
	for _, evs := range history {
		n += len(evs)
	}
	return n
}

// headersOf returns a record's headers as a map (the last value of a key wins).
func headersOf(r *kgo.Record) map[string]string {
	h := make(map[string]string, len(r.Headers))
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}

// checkRecords asserts that records are exactly the events of history, once
// each, in per-order version order, each with its key, CloudEvents headers
// and the event's payload as JSON. source is the expected ce_source.
func checkRecords(t testing.TB, records []*kgo.Record, history map[string][]*orderv1.OrderEvent, source string) {
	t.Helper()
	byID := make(map[string]*orderv1.OrderEvent)
	for _, evs := range history {
		for _, e := range evs {
			byID[e.GetEventId()] = e
		}
	}
	if len(records) != len(byID) {
		t.Errorf("%d Kafka records for %d events", len(records), len(byID))
	}
	seen := make(map[string]bool)
	lastVersion := make(map[string]int64) // per order, in log order
	for _, r := range records {
		h := headersOf(r)
		where := fmt.Sprintf("record %d/%d (ce_id %s)", r.Partition, r.Offset, h["ce_id"])
		e, ok := byID[h["ce_id"]]
		if !ok {
			t.Errorf("%s: no such event in the history; headers %v", where, h)
			continue
		}
		if seen[e.GetEventId()] {
			t.Errorf("%s: published more than once", where)
		}
		seen[e.GetEventId()] = true
		want := map[string]string{
			"ce_specversion":  "1.0",
			"ce_type":         "order.v1." + e.GetEventType(),
			"ce_source":       source,
			"ce_subject":      e.GetOrderId(),
			"ce_orderversion": strconv.FormatInt(e.GetVersion(), 10),
			"content-type":    "application/json",
		}
		for k, v := range want {
			if h[k] != v {
				t.Errorf("%s: header %s = %q, want %q", where, k, h[k], v)
			}
		}
		if string(r.Key) != e.GetOrderId() {
			t.Errorf("%s: key %q, want the order id %s", where, r.Key, e.GetOrderId())
		}
		if ts, err := time.Parse(time.RFC3339Nano, h["ce_time"]); err != nil || !ts.Equal(e.GetOccurTime().AsTime()) {
			t.Errorf("%s: ce_time %q, want %s", where, h["ce_time"], e.GetOccurTime().AsTime().Format(time.RFC3339Nano))
		}
		if v := e.GetVersion(); v <= lastVersion[e.GetOrderId()] {
			t.Errorf("%s: order %s version %d after version %d", where, e.GetOrderId(), v, lastVersion[e.GetOrderId()])
		} else {
			lastVersion[e.GetOrderId()] = v
		}
		checkValue(t, where, r.Value, e)
	}
}

// checkValue asserts the record value is the event's payload as protojson.
func checkValue(t testing.TB, where string, value []byte, e *orderv1.OrderEvent) {
	t.Helper()
	if !json.Valid(value) {
		t.Errorf("%s: value is not JSON: %q", where, value)
		return
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("order.v1." + e.GetEventType()))
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	decoded := mt.New().Interface()
	if err := protojson.Unmarshal(value, decoded); err != nil {
		t.Errorf("%s: value %s does not decode as %s: %v", where, value, e.GetEventType(), err)
		return
	}
	if !proto.Equal(decoded, payloadOf(e)) {
		t.Errorf("%s: value %s, want the payload %s", where, value, compact(payloadOf(e)))
	}
}

// readTopic reads every record of the topic up to the end offsets as they
// stand when it is called, with a franz-go consumer.
func readTopic(ctx context.Context, brokers []string, topic string) ([]*kgo.Record, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	remaining := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var records []*kgo.Record
	for len(remaining) > 0 {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return nil, fmt.Errorf("read %s: %v", topic, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; ok && r.Offset < end {
				records = append(records, r)
				if r.Offset+1 >= end {
					delete(remaining, r.Partition)
				}
			}
		})
	}
	return records, nil
}

// awaitRecords reads the topic until it holds every event of history (by
// ce_id), and returns all its records.
func awaitRecords(t testing.TB, read func(context.Context) ([]*kgo.Record, error), history map[string][]*orderv1.OrderEvent, timeout time.Duration) []*kgo.Record {
	t.Helper()
	var records []*kgo.Record
	testkit.Eventually(t, timeout, "waiting for the events on Kafka", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if records, err = read(ctx); err != nil {
			return err
		}
		have := make(map[string]bool, len(records))
		for _, r := range records {
			have[headersOf(r)["ce_id"]] = true
		}
		missing := 0
		for _, evs := range history {
			for _, e := range evs {
				if !have[e.GetEventId()] {
					missing++
				}
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d events not on the topic yet (%d records)", missing, countEvents(history), len(records))
		}
		return nil
	})
	return records
}
