package protomap_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// Snapshots are built through the aggregate, so they are states the domain
// can actually reach. Each event happens at at(version).

func snapshotOf(t *testing.T, steps ...func(o *order.Order, now time.Time) error) order.State {
	t.Helper()
	o := must(order.Create(fixtureOrder, "user-1", eur, text("1 Main St\nSpringfield"),
		[]order.LineItem{line(1, "sku-a", "Widget", 2, 1999, eur), line(2, "sku-b", "Gadget", 1, 500, eur)}, at(1)))(t)
	for _, step := range steps {
		if err := step(o, at(o.Version()+1)); err != nil {
			t.Fatal(err)
		}
	}
	return o.State()
}

var (
	confirm = func(o *order.Order, now time.Time) error { return o.Confirm(now) }
	pay     = func(o *order.Order, now time.Time) error { return o.Pay(o.State().Total, "pi_123", now) }
	ship    = func(o *order.Order, now time.Time) error { return o.Ship("UPS", "1Z999", now) }
	deliver = func(o *order.Order, now time.Time) error { return o.Deliver(now) }
	cancel  = func(o *order.Order, now time.Time) error { return o.Cancel("changed my mind", now) }
)

// wantOrder is the fixture order as the API shows it at version v.
func wantOrder(status orderv1.OrderStatus, v int) *orderv1.Order {
	return &orderv1.Order{
		Id: fixtureOrder.String(), UserId: "user-1", ShippingAddress: "1 Main St\nSpringfield",
		PostalAddress: &orderv1.PostalAddress{AddressLines: []string{"1 Main St", "Springfield"}},
		Items: []*orderv1.LineItem{
			{Id: idN(1001).String(), ProductId: "sku-a", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99", Subtotal: "39.98"},
			{Id: idN(1002).String(), ProductId: "sku-b", ProductName: "Gadget", Quantity: 1, UnitPrice: "5.00", Subtotal: "5.00"},
		},
		Status: status, Currency: "EUR", TotalAmount: "44.98", Version: int64(v),
		CreateTime: timestamppb.New(at(1)), UpdateTime: timestamppb.New(at(v)),
	}
}

func TestOrderMapsEveryField(t *testing.T) {
	ts := func(v int) *timestamppb.Timestamp { return timestamppb.New(at(v)) }
	tests := []struct {
		name string
		snap order.State
		want *orderv1.Order
	}{
		{"pending", snapshotOf(t), wantOrder(orderv1.OrderStatus_ORDER_STATUS_PENDING, 1)},
		{"confirmed", snapshotOf(t, confirm), wantOrder(orderv1.OrderStatus_ORDER_STATUS_CONFIRMED, 2)},
		{"paid", snapshotOf(t, confirm, pay), func() *orderv1.Order {
			o := wantOrder(orderv1.OrderStatus_ORDER_STATUS_PAID, 3)
			o.Payment = &orderv1.Payment{Amount: "44.98", PaymentReference: "pi_123", PayTime: ts(3)}
			return o
		}()},
		{"shipped: no deliver_time yet", snapshotOf(t, confirm, pay, ship), func() *orderv1.Order {
			o := wantOrder(orderv1.OrderStatus_ORDER_STATUS_SHIPPED, 4)
			o.Payment = &orderv1.Payment{Amount: "44.98", PaymentReference: "pi_123", PayTime: ts(3)}
			o.Shipment = &orderv1.Shipment{Carrier: "UPS", TrackingNumber: "1Z999", ShipTime: ts(4)}
			return o
		}()},
		{"delivered", snapshotOf(t, confirm, pay, ship, deliver), func() *orderv1.Order {
			o := wantOrder(orderv1.OrderStatus_ORDER_STATUS_DELIVERED, 5)
			o.Payment = &orderv1.Payment{Amount: "44.98", PaymentReference: "pi_123", PayTime: ts(3)}
			o.Shipment = &orderv1.Shipment{Carrier: "UPS", TrackingNumber: "1Z999", ShipTime: ts(4), DeliverTime: ts(5)}
			return o
		}()},
		{"structured address", snapshotOf(t, func(o *order.Order, now time.Time) error {
			return o.ChangeShippingAddress(structured(), now)
		}), func() *orderv1.Order {
			o := wantOrder(orderv1.OrderStatus_ORDER_STATUS_PENDING, 2)
			o.ShippingAddress = "Erika Mustermann\nUnter den Linden 1\n3. OG\n10117 Berlin\nBerlin\nDE"
			o.PostalAddress = &orderv1.PostalAddress{
				Recipient: "Erika Mustermann", AddressLines: []string{"Unter den Linden 1", "3. OG"}, PostalCode: "10117",
				Locality: "Berlin", AdministrativeArea: "Berlin", RegionCode: "DE",
			}
			return o
		}()},
		{"cancelled while pending: no refund", snapshotOf(t, cancel), func() *orderv1.Order {
			o := wantOrder(orderv1.OrderStatus_ORDER_STATUS_CANCELLED, 2)
			o.Cancellation = &orderv1.Cancellation{Reason: "changed my mind", CancelTime: ts(2)}
			return o
		}()},
		{"cancelled after payment: refund due", snapshotOf(t, confirm, pay, cancel), func() *orderv1.Order {
			o := wantOrder(orderv1.OrderStatus_ORDER_STATUS_CANCELLED, 4)
			o.Payment = &orderv1.Payment{Amount: "44.98", PaymentReference: "pi_123", PayTime: ts(3)}
			o.Cancellation = &orderv1.Cancellation{Reason: "changed my mind", RefundDue: true, RefundAmount: "44.98", CancelTime: ts(4)}
			return o
		}()},
	}
	var all []*orderv1.Order
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := protomap.Order(tt.snap)
			if !proto.Equal(got, tt.want) {
				t.Errorf("Order(snapshot):\ngot  %s\nwant %s", protojson.Format(got), protojson.Format(tt.want))
			}
			all = append(all, got)
		})
	}

	// Whatever field the schema gains must be mapped: across the cases above
	// every field of Order and of its nested messages is set at least once.
	set := map[protoreflect.FullName]bool{}
	for _, o := range all {
		markSet(o.ProtoReflect(), set)
	}
	checkAllSet(t, (&orderv1.Order{}).ProtoReflect().Descriptor(), set, map[protoreflect.FullName]bool{})
}

// markSet records every populated field of m and of the messages inside it.
func markSet(m protoreflect.Message, set map[protoreflect.FullName]bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		set[fd.FullName()] = true
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				markSet(v.List().Get(i).Message(), set)
			}
		case fd.Message() != nil && !fd.IsMap():
			if fd.Message().FullName().Parent() == "order.v1" {
				markSet(v.Message(), set)
			}
		}
		return true
	})
}

func checkAllSet(t *testing.T, md protoreflect.MessageDescriptor, set, visited map[protoreflect.FullName]bool) {
	t.Helper()
	if visited[md.FullName()] {
		return
	}
	visited[md.FullName()] = true
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !set[fd.FullName()] {
			t.Errorf("no case sets %s: protomap.Order may not map it", fd.FullName())
		}
		if fd.Message() != nil && fd.Message().FullName().Parent() == "order.v1" {
			checkAllSet(t, fd.Message(), set, visited)
		}
	}
}

func TestOrderKeepsTimesExact(t *testing.T) {
	snap := snapshotOf(t)
	snap.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.FixedZone("CET", 3600))
	snap.UpdatedAt = snap.CreatedAt.Add(time.Microsecond)
	got := protomap.Order(snap)
	if !got.GetCreateTime().AsTime().Equal(snap.CreatedAt) || !got.GetUpdateTime().AsTime().Equal(snap.UpdatedAt) {
		t.Fatalf("times %v, %v; want %v, %v", got.GetCreateTime().AsTime(), got.GetUpdateTime().AsTime(), snap.CreatedAt, snap.UpdatedAt)
	}
}

func TestStatusFromProto(t *testing.T) {
	for _, st := range order.Statuses {
		p := protomap.Status(st)
		if p == orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
			t.Errorf("Status(%s) is UNSPECIFIED", st)
			continue
		}
		if p.String() != "ORDER_STATUS_"+string(st) {
			t.Errorf("Status(%s) = %s", st, p)
		}
		back, err := protomap.StatusFromProto(p)
		if err != nil || back != st {
			t.Errorf("StatusFromProto(%s) = %q, %v; want %s", p, back, err, st)
		}
	}
	// Every named enum value but UNSPECIFIED is a domain status.
	values := orderv1.OrderStatus(0).Descriptor().Values()
	if got := values.Len() - 1; got != len(order.Statuses) {
		t.Errorf("OrderStatus has %d values besides UNSPECIFIED; the domain has %d statuses", got, len(order.Statuses))
	}
	for _, bad := range []orderv1.OrderStatus{orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED, 7, 99, -1} {
		st, err := protomap.StatusFromProto(bad)
		if err == nil || st != "" {
			t.Errorf("StatusFromProto(%d) = %q, %v; want an error", bad, st, err)
		}
	}
	if got := protomap.Status("LOST"); got != orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		t.Errorf("Status(LOST) = %s; want UNSPECIFIED", got)
	}
}
