package order_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

func TestEventTypes(t *testing.T) {
	tests := []struct {
		event order.Event
		want  string
	}{
		{order.OrderCreated{}, "OrderCreated"},
		{order.OrderItemAdded{}, "OrderItemAdded"},
		{order.OrderItemRemoved{}, "OrderItemRemoved"},
		{order.OrderItemQuantityChanged{}, "OrderItemQuantityChanged"},
		{order.ShippingAddressChanged{}, "ShippingAddressChanged"},
		{order.OrderConfirmed{}, "OrderConfirmed"},
		{order.OrderPaid{}, "OrderPaid"},
		{order.OrderShipped{}, "OrderShipped"},
		{order.OrderDelivered{}, "OrderDelivered"},
		{order.OrderCancelled{}, "OrderCancelled"},
	}
	for _, tt := range tests {
		if got := tt.event.EventType(); got != tt.want {
			t.Errorf("%T.EventType() = %q; want %q", tt.event, got, tt.want)
		}
	}
	h := hdr(7)
	if got := (order.OrderPaid{EventHeader: h}).Header(); got != h {
		t.Errorf("Header() = %+v; want %+v", got, h)
	}
}

func TestSnapshotDiff(t *testing.T) {
	// A delivered order plus a made-up cancellation: every part is set.
	base := rehydrate(t, historyIn(order.StatusDelivered)).State()
	base.Cancellation = &order.Cancellation{Reason: "r", CancelledAt: at(6)}

	elsewhere := time.FixedZone("UTC+2", 2*60*60)
	tests := []struct {
		name   string
		change func(s *order.State)
		want   string // the field named in the only difference; "" for none
	}{
		{"identical", func(s *order.State) {}, ""},
		{"same instants in another zone", func(s *order.State) {
			s.CreatedAt = s.CreatedAt.In(elsewhere)
			s.UpdatedAt = s.UpdatedAt.In(elsewhere)
			s.Payment.PaidAt = s.Payment.PaidAt.In(elsewhere)
			s.Shipment.ShippedAt = s.Shipment.ShippedAt.In(elsewhere)
			s.Cancellation.CancelledAt = s.Cancellation.CancelledAt.In(elsewhere)
		}, ""},
		{"id", func(s *order.State) { s.ID = otherOrder }, "id"},
		{"user", func(s *order.State) { s.UserID = "user-2" }, "user_id"},
		{"currency", func(s *order.State) { s.Currency = "EUR" }, "currency"},
		{"address", func(s *order.State) { s.ShippingAddress = textAddress("elsewhere") }, "shipping_address"},
		{"status", func(s *order.State) { s.Status = order.StatusShipped }, "status"},
		{"total", func(s *order.State) { s.Total = mustUSD(1) }, "total"},
		{"created", func(s *order.State) { s.CreatedAt = s.CreatedAt.Add(time.Second) }, "created_at"},
		{"updated", func(s *order.State) { s.UpdatedAt = s.UpdatedAt.Add(time.Second) }, "updated_at"},
		{"version", func(s *order.State) { s.Version++ }, "version"},
		{"items reordered", func(s *order.State) { slices.Reverse(s.Items) }, "items"},
		{"item quantity", func(s *order.State) { s.Items[0] = mustLine(101, "sku-a", "Widget", 3, 1999) }, "items"},
		{"payment reference", func(s *order.State) { s.Payment.Reference = "other" }, "payment"},
		{"payment time", func(s *order.State) { s.Payment.PaidAt = t0 }, "payment"},
		{"no payment", func(s *order.State) { s.Payment = nil }, "payment"},
		{"shipment carrier", func(s *order.State) { s.Shipment.Carrier = "DHL" }, "shipment"},
		{"delivery time", func(s *order.State) { s.Shipment.DeliveredAt = time.Time{} }, "shipment"},
		{"no shipment", func(s *order.State) { s.Shipment = nil }, "shipment"},
		{"refund", func(s *order.State) { s.Cancellation.RefundDue = true }, "cancellation"},
		{"no cancellation", func(s *order.State) { s.Cancellation = nil }, "cancellation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := base.Clone()
			tt.change(&changed)
			for _, d := range [][]string{base.Diff(changed), changed.Diff(base)} {
				if tt.want == "" {
					if len(d) != 0 {
						t.Errorf("Diff = %q; want none", d)
					}
					continue
				}
				if len(d) != 1 || !strings.HasPrefix(d[0], tt.want+": ") {
					t.Errorf("Diff = %q; want one difference in %s", d, tt.want)
				}
			}
		})
	}
}
