package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/acme/order-service/internal/domain/order"
)

// CreateOrder places a new order.
type CreateOrder struct {
	Meta   CommandMeta
	UserID string
	Items  []NewItem
	// The address, exactly one of: ShippingAddress, free text, or
	// PostalAddress, structured.
	ShippingAddress string
	PostalAddress   *order.PostalAddressFields
	Currency        string // empty: the configured default
}

func (cmd CreateOrder) target() (string, int) { return "", cmd.Meta.ExpectedVersion }

// NewItem is a product line as a caller describes it.
type NewItem struct {
	ProductID   string
	ProductName string
	Quantity    int64
	UnitPrice   string // a decimal amount in the order's currency, e.g. "19.99"
}

// CreateOrder handles CreateOrder.
func (c *Commands) CreateOrder(ctx context.Context, cmd CreateOrder) (order.State, error) {
	fp := fingerprint("CreateOrder", addressFingerprint(
		[]any{cmd.UserID, cmd.ShippingAddress, cmd.Currency, fmt.Sprintf("%+v", cmd.Items)}, cmd.PostalAddress)...)
	if snap, replayed, err := c.replay(ctx, cmd.Meta, fp); replayed || err != nil {
		return snap, err
	}
	user, err := order.NewUserID(cmd.UserID)
	if err != nil {
		return order.State{}, err
	}
	if cmd.Meta.Actor.Role < RoleAdmin && string(user) != cmd.Meta.Actor.ID {
		return order.State{}, &ForbiddenError{Actor: cmd.Meta.Actor, Action: "create an order for another user"}
	}
	currency := c.defaultCurrency
	if cmd.Currency != "" {
		if currency, err = order.ParseCurrency(cmd.Currency); err != nil {
			return order.State{}, err
		}
	}
	address, err := shippingAddress(cmd.ShippingAddress, cmd.PostalAddress)
	if err != nil {
		return order.State{}, err
	}
	items, err := c.lineItems(cmd.Items, currency)
	if err != nil {
		return order.State{}, err
	}
	o, err := order.Create(c.ids.NewID(), user, currency, address, items, c.now())
	if err != nil {
		return order.State{}, err
	}
	switch err := c.commit(ctx, cmd.Meta, fp, o, 0); {
	case errors.Is(err, ErrDuplicateRequest):
		return c.replayAfterRace(ctx, cmd.Meta, fp)
	case err != nil:
		return order.State{}, err
	}
	return o.State(), nil
}

func (c *Commands) lineItems(in []NewItem, currency order.Currency) ([]order.LineItem, error) {
	if len(in) > order.MaxItems {
		return nil, &order.ValidationError{Field: "items", Reason: fmt.Sprintf("at most %d items, got %d", order.MaxItems, len(in))}
	}
	items := make([]order.LineItem, 0, len(in))
	for i, it := range in {
		item, err := c.lineItem(fmt.Sprintf("items[%d].", i), it, currency)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, nil
}

// lineItem validates one item; prefix places its errors ("items[3].quantity").
func (c *Commands) lineItem(prefix string, it NewItem, currency order.Currency) (order.LineItem, error) {
	price, err := order.ParseMoney(prefix+"unit_price", it.UnitPrice, currency)
	if err != nil {
		return order.LineItem{}, err
	}
	item, err := order.NewLineItem(c.ids.NewID(), it.ProductID, it.ProductName, it.Quantity, price)
	if v, ok := err.(*order.ValidationError); ok {
		return order.LineItem{}, &order.ValidationError{Field: prefix + v.Field, Reason: v.Reason}
	}
	return item, err
}

// shippingAddress is the address a command gives: exactly one of a free
// text (order.AddressFromText, the seed's plain string) and a structured
// address.
func shippingAddress(text string, structured *order.PostalAddressFields) (order.PostalAddress, error) {
	switch {
	case structured != nil && text != "":
		return order.PostalAddress{}, &order.ValidationError{Field: "postal_address", Reason: "give shipping_address or postal_address, not both"}
	case structured != nil:
		return order.NewPostalAddress(*structured)
	}
	return order.AddressFromText(text)
}

// addressFingerprint adds a structured address to a command's fingerprint
// fields; without one they stay what they were before addresses had
// structure, so a request retried across the upgrade still matches.
func addressFingerprint(fields []any, structured *order.PostalAddressFields) []any {
	if structured == nil {
		return fields
	}
	return append(fields, fmt.Sprintf("%+v", *structured))
}
