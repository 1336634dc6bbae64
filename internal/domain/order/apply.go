package order

import (
	"fmt"
	"slices"
)

// HistoryError reports a stored history that cannot be applied: a gap in the
// versions, an event for another order, or an event that makes no sense in
// the state it arrives in. It means the log is corrupt, never bad user input.
type HistoryError struct {
	OrderID ID
	Version int
	Problem string
}

func (e *HistoryError) Error() string {
	return fmt.Sprintf("order %s history at version %d: %s", e.OrderID, e.Version, e.Problem)
}

// apply is the only place state changes. It trusts the values inside an
// event (the command methods checked them when it was raised) but not where
// the event stands: its version, its order and whether the lifecycle allows
// it in the current status.
func (o *Order) apply(e Event) error {
	h := e.Header()
	if err := o.checkPosition(e, h); err != nil {
		return err
	}
	if a, ok := actionOf(e); ok && !o.state.Status.Allows(a) {
		return &HistoryError{OrderID: o.state.ID, Version: h.Version, Problem: fmt.Sprintf("%s while %s", e.EventType(), o.state.Status)}
	}
	s := &o.state
	switch e := e.(type) {
	case OrderCreated:
		*s = State{
			ID: h.OrderID, UserID: e.UserID, Currency: e.Currency, Items: slices.Clone(e.Items),
			ShippingAddress: e.ShippingAddress, Status: StatusPending, Total: e.Total, CreatedAt: h.OccurredAt,
		}
	case OrderItemAdded:
		s.Items = append(s.Items, e.Item)
		s.Total = e.Total
	case OrderItemRemoved:
		i := slices.IndexFunc(s.Items, func(l LineItem) bool { return l.id == e.ItemID })
		if i < 0 {
			return &HistoryError{OrderID: s.ID, Version: h.Version, Problem: "removed unknown item " + e.ItemID.String()}
		}
		s.Items = slices.Delete(slices.Clone(s.Items), i, i+1)
		s.Total = e.Total
	case OrderItemQuantityChanged:
		if err := o.setQuantity(e); err != nil {
			return err
		}
		s.Total = e.Total
	case ShippingAddressChanged:
		s.ShippingAddress = e.ShippingAddress
	case OrderConfirmed:
		s.Status = StatusConfirmed
	case OrderPaid:
		s.Status = StatusPaid
		s.Payment = &Payment{Amount: e.Amount, Reference: e.PaymentReference, PaidAt: h.OccurredAt}
	case OrderShipped:
		s.Status = StatusShipped
		s.Shipment = &Shipment{Carrier: e.Carrier, TrackingNumber: e.TrackingNumber, ShippedAt: h.OccurredAt}
	case OrderDelivered:
		// The status check above guarantees SHIPPED, hence a shipment.
		s.Status = StatusDelivered
		shipment := *s.Shipment
		shipment.DeliveredAt = h.OccurredAt
		s.Shipment = &shipment
	case OrderCancelled:
		s.Status = StatusCancelled
		s.Cancellation = &Cancellation{Reason: e.Reason, RefundDue: e.RefundDue, RefundAmount: e.RefundAmount, CancelledAt: h.OccurredAt}
	default:
		return &HistoryError{OrderID: h.OrderID, Version: h.Version, Problem: fmt.Sprintf("unknown event %T", e)}
	}
	s.Version = h.Version
	s.UpdatedAt = h.OccurredAt
	return nil
}

func (o *Order) checkPosition(e Event, h EventHeader) error {
	_, created := e.(OrderCreated)
	switch {
	case o.state.Version == 0 && !created:
		return &HistoryError{OrderID: h.OrderID, Version: h.Version, Problem: "history does not start with " + TypeOrderCreated}
	case o.state.Version > 0 && created:
		return &HistoryError{OrderID: h.OrderID, Version: h.Version, Problem: "a second " + TypeOrderCreated}
	case h.Version != o.state.Version+1:
		return &HistoryError{OrderID: h.OrderID, Version: h.Version, Problem: fmt.Sprintf("expected version %d", o.state.Version+1)}
	case o.state.Version > 0 && h.OrderID != o.state.ID:
		return &HistoryError{OrderID: o.state.ID, Version: h.Version, Problem: "event of another order " + h.OrderID.String()}
	case h.OrderID.IsZero():
		return &HistoryError{OrderID: h.OrderID, Version: h.Version, Problem: "event without an order id"}
	}
	return nil
}

func (o *Order) setQuantity(e OrderItemQuantityChanged) error {
	i := slices.IndexFunc(o.state.Items, func(l LineItem) bool { return l.id == e.ItemID })
	if i < 0 {
		return &HistoryError{OrderID: e.OrderID, Version: e.Version, Problem: "quantity changed on unknown item " + e.ItemID.String()}
	}
	items := slices.Clone(o.state.Items)
	items[i].quantity = e.Quantity
	items[i].subtotal = e.Subtotal
	o.state.Items = items
	return nil
}

// actionOf names the lifecycle action an event records, so that replay can
// hold a stored history to the same state machine as live commands.
func actionOf(e Event) (Action, bool) {
	switch e.(type) {
	case OrderItemAdded:
		return ActionAddItem, true
	case OrderItemRemoved:
		return ActionRemoveItem, true
	case OrderItemQuantityChanged:
		return ActionChangeQuantity, true
	case ShippingAddressChanged:
		return ActionChangeAddress, true
	case OrderConfirmed:
		return ActionConfirm, true
	case OrderPaid:
		return ActionPay, true
	case OrderShipped:
		return ActionShip, true
	case OrderDelivered:
		return ActionDeliver, true
	case OrderCancelled:
		return ActionCancel, true
	}
	return "", false
}
