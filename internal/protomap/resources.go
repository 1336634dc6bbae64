package protomap

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/domain/order"
)

// Order returns the API resource for an order's state.
func Order(s order.State) *orderv1.Order {
	o := &orderv1.Order{
		Id: s.ID.String(), UserId: string(s.UserID), Items: LineItems(s.Items),
		ShippingAddress: s.ShippingAddress.Format(), PostalAddress: PostalAddress(s.ShippingAddress), Status: Status(s.Status), Currency: string(s.Currency),
		TotalAmount: s.Total.String(), Version: int64(s.Version),
		CreateTime: timestamppb.New(s.CreatedAt), UpdateTime: timestamppb.New(s.UpdatedAt),
	}
	if p := s.Payment; p != nil {
		o.Payment = &orderv1.Payment{Amount: p.Amount.String(), PaymentReference: p.Reference, PayTime: timestamppb.New(p.PaidAt)}
	}
	if sh := s.Shipment; sh != nil {
		o.Shipment = &orderv1.Shipment{
			Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber,
			ShipTime: timestamppb.New(sh.ShippedAt), DeliverTime: optionalTime(sh.DeliveredAt),
		}
	}
	if c := s.Cancellation; c != nil {
		o.Cancellation = &orderv1.Cancellation{Reason: c.Reason, RefundDue: c.RefundDue, CancelTime: timestamppb.New(c.CancelledAt)}
		if c.RefundDue {
			o.Cancellation.RefundAmount = c.RefundAmount.String()
		}
	}
	return o
}

func optionalTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// LineItem returns the wire form of a line.
func LineItem(l order.LineItem) *orderv1.LineItem {
	return &orderv1.LineItem{
		Id: l.ID().String(), ProductId: l.ProductID(), ProductName: l.ProductName(),
		Quantity: l.Quantity().Int(), UnitPrice: l.UnitPrice().String(), Subtotal: l.Subtotal().String(),
	}
}

// LineItems returns the wire form of lines.
func LineItems(ls []order.LineItem) []*orderv1.LineItem {
	out := make([]*orderv1.LineItem, len(ls))
	for i, l := range ls {
		out[i] = LineItem(l)
	}
	return out
}

var statusToProto = map[order.Status]orderv1.OrderStatus{
	order.StatusPending:   orderv1.OrderStatus_ORDER_STATUS_PENDING,
	order.StatusConfirmed: orderv1.OrderStatus_ORDER_STATUS_CONFIRMED,
	order.StatusPaid:      orderv1.OrderStatus_ORDER_STATUS_PAID,
	order.StatusShipped:   orderv1.OrderStatus_ORDER_STATUS_SHIPPED,
	order.StatusDelivered: orderv1.OrderStatus_ORDER_STATUS_DELIVERED,
	order.StatusCancelled: orderv1.OrderStatus_ORDER_STATUS_CANCELLED,
}

// Status returns the wire enum of a status.
func Status(s order.Status) orderv1.OrderStatus { return statusToProto[s] }

// StatusFromProto returns the domain status of a wire enum; UNSPECIFIED and
// unknown numbers are errors.
func StatusFromProto(s orderv1.OrderStatus) (order.Status, error) {
	for st, p := range statusToProto {
		if p == s {
			return st, nil
		}
	}
	return "", &order.ValidationError{Field: "status", Reason: fmt.Sprintf("%v is not an order status", s)}
}
