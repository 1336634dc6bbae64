package order

import "time"

// Event is a fact that happened to one order. Each carries everything needed
// to apply it with no lookups; applying events in version order is the only
// way an order's state changes.
type Event interface {
	// Header returns the order, version and time shared by every event.
	Header() EventHeader
	// EventType is the event's stable name, as stored in order_events.event_type.
	EventType() string
}

// EventHeader is the part every event has.
type EventHeader struct {
	OrderID    ID
	Version    int // 1 for OrderCreated, then +1 per event
	OccurredAt time.Time
}

// Header returns the header; embedding it makes a struct an Event.
func (h EventHeader) Header() EventHeader { return h }

// OrderCreated starts an order's history.
type OrderCreated struct {
	EventHeader
	UserID          UserID
	Currency        Currency
	ShippingAddress PostalAddress
	Items           []LineItem
	Total           Money
}

// OrderItemAdded records a new product line.
type OrderItemAdded struct {
	EventHeader
	Item  LineItem
	Total Money
}

// OrderItemRemoved records that a product line was taken out.
type OrderItemRemoved struct {
	EventHeader
	ItemID    ID
	ProductID string
	Total     Money
}

// OrderItemQuantityChanged records a line's new quantity.
type OrderItemQuantityChanged struct {
	EventHeader
	ItemID    ID
	ProductID string
	Quantity  Quantity
	Subtotal  Money
	Total     Money
}

// ShippingAddressChanged records a new destination.
type ShippingAddressChanged struct {
	EventHeader
	ShippingAddress PostalAddress
}

// OrderConfirmed records that the order was accepted for fulfilment.
type OrderConfirmed struct {
	EventHeader
}

// OrderPaid records a payment equal to the order's total.
type OrderPaid struct {
	EventHeader
	Amount           Money
	PaymentReference string
}

// OrderShipped records the hand-over to a carrier.
type OrderShipped struct {
	EventHeader
	Carrier        string
	TrackingNumber string
}

// OrderDelivered records the delivery to the customer.
type OrderDelivered struct {
	EventHeader
}

// OrderCancelled records a cancellation; when the order was paid, a refund of
// RefundAmount is due.
type OrderCancelled struct {
	EventHeader
	Reason         string
	PreviousStatus Status
	RefundDue      bool
	RefundAmount   Money
}

// The stable event type names.
const (
	TypeOrderCreated             = "OrderCreated"
	TypeOrderItemAdded           = "OrderItemAdded"
	TypeOrderItemRemoved         = "OrderItemRemoved"
	TypeOrderItemQuantityChanged = "OrderItemQuantityChanged"
	TypeShippingAddressChanged   = "ShippingAddressChanged"
	TypeOrderConfirmed           = "OrderConfirmed"
	TypeOrderPaid                = "OrderPaid"
	TypeOrderShipped             = "OrderShipped"
	TypeOrderDelivered           = "OrderDelivered"
	TypeOrderCancelled           = "OrderCancelled"
)

// EventType implements Event.
func (OrderCreated) EventType() string { return TypeOrderCreated }

// EventType implements Event.
func (OrderItemAdded) EventType() string { return TypeOrderItemAdded }

// EventType implements Event.
func (OrderItemRemoved) EventType() string { return TypeOrderItemRemoved }

// EventType implements Event.
func (OrderItemQuantityChanged) EventType() string { return TypeOrderItemQuantityChanged }

// EventType implements Event.
func (ShippingAddressChanged) EventType() string { return TypeShippingAddressChanged }

// EventType implements Event.
func (OrderConfirmed) EventType() string { return TypeOrderConfirmed }

// EventType implements Event.
func (OrderPaid) EventType() string { return TypeOrderPaid }

// EventType implements Event.
func (OrderShipped) EventType() string { return TypeOrderShipped }

// EventType implements Event.
func (OrderDelivered) EventType() string { return TypeOrderDelivered }

// EventType implements Event.
func (OrderCancelled) EventType() string { return TypeOrderCancelled }
