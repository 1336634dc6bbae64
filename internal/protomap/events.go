package protomap

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/domain/order"
)

// ContentType is the media type of an encoded event payload.
const ContentType = "application/json"

// payloadJSON writes field names as in the .proto file (snake_case), like the
// database columns; protojson reads both spellings back.
var payloadJSON = protojson.MarshalOptions{UseProtoNames: true}

// MarshalEvent encodes a domain event's payload as protobuf JSON of its
// order.v1 message: the bytes stored in order_events.data and published as
// the Kafka record value.
func MarshalEvent(e order.Event) ([]byte, error) {
	msg, err := EventPayload(e)
	if err != nil {
		return nil, err
	}
	b, err := payloadJSON.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.EventType(), err)
	}
	return b, nil
}

// EventPayload returns the order.v1 message of a domain event.
func EventPayload(e order.Event) (proto.Message, error) {
	switch e := e.(type) {
	case order.OrderCreated:
		return &orderv1.OrderCreated{
			OrderId: e.OrderID.String(), UserId: string(e.UserID), Currency: string(e.Currency),
			ShippingAddress: e.ShippingAddress.Format(), Items: LineItems(e.Items), TotalAmount: e.Total.String(),
			PostalAddress: PostalAddress(e.ShippingAddress),
		}, nil
	case order.OrderItemAdded:
		return &orderv1.OrderItemAdded{Item: LineItem(e.Item), TotalAmount: e.Total.String()}, nil
	case order.OrderItemRemoved:
		return &orderv1.OrderItemRemoved{ItemId: e.ItemID.String(), ProductId: e.ProductID, TotalAmount: e.Total.String()}, nil
	case order.OrderItemQuantityChanged:
		return &orderv1.OrderItemQuantityChanged{
			ItemId: e.ItemID.String(), ProductId: e.ProductID, Quantity: e.Quantity.Int(),
			Subtotal: e.Subtotal.String(), TotalAmount: e.Total.String(),
		}, nil
	case order.ShippingAddressChanged:
		return &orderv1.ShippingAddressChanged{ShippingAddress: e.ShippingAddress.Format(), PostalAddress: PostalAddress(e.ShippingAddress)}, nil
	case order.OrderConfirmed:
		return &orderv1.OrderConfirmed{}, nil
	case order.OrderPaid:
		return &orderv1.OrderPaid{Amount: e.Amount.String(), Currency: string(e.Amount.Currency()), PaymentReference: e.PaymentReference}, nil
	case order.OrderShipped:
		return &orderv1.OrderShipped{Carrier: e.Carrier, TrackingNumber: e.TrackingNumber}, nil
	case order.OrderDelivered:
		return &orderv1.OrderDelivered{}, nil
	case order.OrderCancelled:
		return &orderv1.OrderCancelled{
			Reason: e.Reason, PreviousStatus: Status(e.PreviousStatus), RefundDue: e.RefundDue,
			RefundAmount: refundAmount(e),
		}, nil
	}
	return nil, fmt.Errorf("encode event: unknown type %T", e)
}

func refundAmount(e order.OrderCancelled) string {
	if !e.RefundDue {
		return ""
	}
	return e.RefundAmount.String()
}

// NewPayload returns an empty message for a stored event type, ready to be
// decoded into.
func NewPayload(eventType string) (proto.Message, error) {
	switch eventType {
	case order.TypeOrderCreated:
		return &orderv1.OrderCreated{}, nil
	case order.TypeOrderItemAdded:
		return &orderv1.OrderItemAdded{}, nil
	case order.TypeOrderItemRemoved:
		return &orderv1.OrderItemRemoved{}, nil
	case order.TypeOrderItemQuantityChanged:
		return &orderv1.OrderItemQuantityChanged{}, nil
	case order.TypeShippingAddressChanged:
		return &orderv1.ShippingAddressChanged{}, nil
	case order.TypeOrderConfirmed:
		return &orderv1.OrderConfirmed{}, nil
	case order.TypeOrderPaid:
		return &orderv1.OrderPaid{}, nil
	case order.TypeOrderShipped:
		return &orderv1.OrderShipped{}, nil
	case order.TypeOrderDelivered:
		return &orderv1.OrderDelivered{}, nil
	case order.TypeOrderCancelled:
		return &orderv1.OrderCancelled{}, nil
	}
	return nil, fmt.Errorf("unknown event type %q", eventType)
}

// UnmarshalEvent decodes a stored payload back into the domain event it was
// made from. The header comes from the row (aggregate_id, version, timestamp).
// Order-level context the payload leaves out, the currency, comes from the
// first event of the history: pass it as currency ("" for OrderCreated).
func UnmarshalEvent(h order.EventHeader, eventType string, data []byte, currency order.Currency) (order.Event, error) {
	msg, err := NewPayload(eventType)
	if err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(data, msg); err != nil {
		return nil, fmt.Errorf("decode %s v%d of order %s: %w", eventType, h.Version, h.OrderID, err)
	}
	e, err := fromPayload(h, msg, currency)
	if err != nil {
		// %v, not %w: a stored event that fails the domain's validation is a
		// corrupt log (an internal error), not the caller's invalid input.
		return nil, fmt.Errorf("decode %s v%d of order %s: %v", eventType, h.Version, h.OrderID, err)
	}
	return e, nil
}

// fromPayload rebuilds the domain event through the domain's own validating
// constructors, so a corrupt log is reported, never silently applied.
func fromPayload(h order.EventHeader, msg proto.Message, currency order.Currency) (order.Event, error) {
	d := decoder{currency: currency}
	var e order.Event
	switch m := msg.(type) {
	case *orderv1.OrderCreated:
		d.currency = order.Currency(m.GetCurrency())
		created := order.OrderCreated{
			EventHeader: h, UserID: order.UserID(m.GetUserId()), Currency: d.currency,
			ShippingAddress: d.address(m.GetPostalAddress(), m.GetShippingAddress()), Items: d.items(m.GetItems()),
			Total: d.money(m.GetTotalAmount()),
		}
		d.checkCreated(created)
		e = created
	case *orderv1.OrderItemAdded:
		e = order.OrderItemAdded{EventHeader: h, Item: d.item(m.GetItem()), Total: d.money(m.GetTotalAmount())}
	case *orderv1.OrderItemRemoved:
		e = order.OrderItemRemoved{EventHeader: h, ItemID: d.id(m.GetItemId()), ProductID: d.text("product_id", m.GetProductId()), Total: d.money(m.GetTotalAmount())}
	case *orderv1.OrderItemQuantityChanged:
		e = order.OrderItemQuantityChanged{
			EventHeader: h, ItemID: d.id(m.GetItemId()), ProductID: m.GetProductId(),
			Quantity: d.quantity(int64(m.GetQuantity())), Subtotal: d.money(m.GetSubtotal()), Total: d.money(m.GetTotalAmount()),
		}
	case *orderv1.ShippingAddressChanged:
		e = order.ShippingAddressChanged{EventHeader: h, ShippingAddress: d.address(m.GetPostalAddress(), m.GetShippingAddress())}
	case *orderv1.OrderConfirmed:
		e = order.OrderConfirmed{EventHeader: h}
	case *orderv1.OrderPaid:
		if m.GetCurrency() != string(d.currency) {
			d.fail(fmt.Errorf("payment in %q for an order in %q", m.GetCurrency(), d.currency))
		}
		e = order.OrderPaid{EventHeader: h, Amount: d.money(m.GetAmount()), PaymentReference: m.GetPaymentReference()}
	case *orderv1.OrderShipped:
		e = order.OrderShipped{EventHeader: h, Carrier: d.text("carrier", m.GetCarrier()), TrackingNumber: d.text("tracking_number", m.GetTrackingNumber())}
	case *orderv1.OrderDelivered:
		e = order.OrderDelivered{EventHeader: h}
	case *orderv1.OrderCancelled:
		c := order.OrderCancelled{EventHeader: h, Reason: d.text("reason", m.GetReason()), PreviousStatus: d.status(m.GetPreviousStatus()), RefundDue: m.GetRefundDue()}
		if c.RefundDue {
			c.RefundAmount = d.money(m.GetRefundAmount())
		}
		d.checkCancelled(c)
		e = c
	default:
		return nil, fmt.Errorf("unknown payload %T", msg)
	}
	return e, d.err
}

// decoder converts wire values and keeps the first error, so the mapping
// above reads as one expression per event.
type decoder struct {
	currency order.Currency
	err      error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) text(field, s string) string {
	if strings.TrimSpace(s) == "" {
		d.fail(fmt.Errorf("%s is empty", field))
	}
	return s
}

func (d *decoder) address(postal *orderv1.PostalAddress, text string) order.PostalAddress {
	a, err := AddressOf(postal, text)
	d.fail(err)
	return a
}

// checkCreated holds a stored OrderCreated to every rule order.Create
// enforces, by running it, and to the total it must have produced.
func (d *decoder) checkCreated(e order.OrderCreated) {
	if d.err != nil {
		return
	}
	o, err := order.Create(e.OrderID, e.UserID, e.Currency, e.ShippingAddress, e.Items, e.OccurredAt)
	if err != nil {
		d.fail(err)
		return
	}
	if total := o.State().Total; total != e.Total {
		d.fail(fmt.Errorf("total %s, but the items add up to %s", e.Total, total))
	}
}

// checkCancelled requires a refund exactly when the cancelled order was paid.
func (d *decoder) checkCancelled(e order.OrderCancelled) {
	switch {
	case d.err != nil:
	case !order.StatusPaid.Allows(order.ActionCancel) || !e.PreviousStatus.Allows(order.ActionCancel):
		d.fail(fmt.Errorf("cancelled while %s", e.PreviousStatus))
	case e.RefundDue != (e.PreviousStatus == order.StatusPaid):
		d.fail(fmt.Errorf("refund_due %v after %s", e.RefundDue, e.PreviousStatus))
	}
}

func (d *decoder) money(s string) order.Money {
	m, err := order.ParseMoney("amount", s, d.currency)
	d.fail(err)
	return m
}

func (d *decoder) id(s string) order.ID {
	id, err := order.ParseID(s)
	d.fail(err)
	return id
}

func (d *decoder) quantity(n int64) order.Quantity {
	q, err := order.NewQuantity(n)
	d.fail(err)
	return q
}

func (d *decoder) status(s orderv1.OrderStatus) order.Status {
	st, err := StatusFromProto(s)
	d.fail(err)
	return st
}

func (d *decoder) item(m *orderv1.LineItem) order.LineItem {
	item, err := order.NewLineItem(d.id(m.GetId()), m.GetProductId(), m.GetProductName(), int64(m.GetQuantity()), d.money(m.GetUnitPrice()))
	d.fail(err)
	return item
}

func (d *decoder) items(ms []*orderv1.LineItem) []order.LineItem {
	items := make([]order.LineItem, len(ms))
	for i, m := range ms {
		items[i] = d.item(m)
	}
	return items
}
