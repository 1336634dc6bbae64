package application

import (
	"context"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// ChangeShippingAddress sets a new destination until the order ships.
type ChangeShippingAddress struct {
	Meta    CommandMeta
	OrderID string
	// The new address, exactly one of: ShippingAddress, free text, or
	// PostalAddress, structured.
	ShippingAddress string
	PostalAddress   *order.PostalAddressFields
}

func (cmd ChangeShippingAddress) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// ChangeShippingAddress handles ChangeShippingAddress.
func (c *Commands) ChangeShippingAddress(ctx context.Context, cmd ChangeShippingAddress) (order.State, error) {
	fp := fingerprint("ChangeShippingAddress", addressFingerprint(
		[]any{cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.ShippingAddress}, cmd.PostalAddress)...)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionChangeAddress, fp, func(o *order.Order, now time.Time) error {
		address, err := shippingAddress(cmd.ShippingAddress, cmd.PostalAddress)
		if err != nil {
			return err
		}
		return o.ChangeShippingAddress(address, now)
	})
}

// ConfirmOrder accepts a pending order for fulfilment.
type ConfirmOrder struct {
	Meta    CommandMeta
	OrderID string
}

func (cmd ConfirmOrder) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// ConfirmOrder handles ConfirmOrder.
func (c *Commands) ConfirmOrder(ctx context.Context, cmd ConfirmOrder) (order.State, error) {
	fp := fingerprint("ConfirmOrder", cmd.OrderID, cmd.Meta.ExpectedVersion)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionConfirm, fp, func(o *order.Order, now time.Time) error {
		return o.Confirm(now)
	})
}

// PayOrder records a payment of the order's total.
type PayOrder struct {
	Meta             CommandMeta
	OrderID          string
	Amount           string // decimal, e.g. "39.98"
	Currency         string // empty: the order's currency
	PaymentReference string
}

func (cmd PayOrder) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// PayOrder handles PayOrder.
func (c *Commands) PayOrder(ctx context.Context, cmd PayOrder) (order.State, error) {
	fp := fingerprint("PayOrder", cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.Amount, cmd.Currency, cmd.PaymentReference)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionPay, fp, func(o *order.Order, now time.Time) error {
		currency := o.Currency()
		if cmd.Currency != "" {
			var err error
			if currency, err = order.ParseCurrency(cmd.Currency); err != nil {
				return err
			}
		}
		amount, err := order.ParseMoney("amount", cmd.Amount, currency)
		if err != nil {
			return err
		}
		return o.Pay(amount, cmd.PaymentReference, now)
	})
}

// ShipOrder records the hand-over of a paid order to a carrier.
type ShipOrder struct {
	Meta           CommandMeta
	OrderID        string
	Carrier        string
	TrackingNumber string
}

func (cmd ShipOrder) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// ShipOrder handles ShipOrder.
func (c *Commands) ShipOrder(ctx context.Context, cmd ShipOrder) (order.State, error) {
	fp := fingerprint("ShipOrder", cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.Carrier, cmd.TrackingNumber)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionShip, fp, func(o *order.Order, now time.Time) error {
		return o.Ship(cmd.Carrier, cmd.TrackingNumber, now)
	})
}

// DeliverOrder records the delivery of a shipped order.
type DeliverOrder struct {
	Meta    CommandMeta
	OrderID string
}

func (cmd DeliverOrder) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// DeliverOrder handles DeliverOrder.
func (c *Commands) DeliverOrder(ctx context.Context, cmd DeliverOrder) (order.State, error) {
	fp := fingerprint("DeliverOrder", cmd.OrderID, cmd.Meta.ExpectedVersion)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionDeliver, fp, func(o *order.Order, now time.Time) error {
		return o.Deliver(now)
	})
}

// CancelOrder ends an order that has not shipped.
type CancelOrder struct {
	Meta    CommandMeta
	OrderID string
	Reason  string
}

func (cmd CancelOrder) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// CancelOrder handles CancelOrder.
func (c *Commands) CancelOrder(ctx context.Context, cmd CancelOrder) (order.State, error) {
	fp := fingerprint("CancelOrder", cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.Reason)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionCancel, fp, func(o *order.Order, now time.Time) error {
		return o.Cancel(cmd.Reason, now)
	})
}
