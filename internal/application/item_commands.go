package application

import (
	"context"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// AddOrderItem adds a product line to a pending order.
type AddOrderItem struct {
	Meta    CommandMeta
	OrderID string
	Item    NewItem
}

func (cmd AddOrderItem) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// AddOrderItem handles AddOrderItem.
func (c *Commands) AddOrderItem(ctx context.Context, cmd AddOrderItem) (order.State, error) {
	fp := fingerprint("AddOrderItem", cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.Item)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionAddItem, fp, func(o *order.Order, now time.Time) error {
		item, err := c.lineItem("item.", cmd.Item, o.Currency())
		if err != nil {
			return err
		}
		return o.AddItem(item, now)
	})
}

// RemoveOrderItem removes a product line from a pending order.
type RemoveOrderItem struct {
	Meta      CommandMeta
	OrderID   string
	ProductID string
}

func (cmd RemoveOrderItem) target() (string, int) { return cmd.OrderID, cmd.Meta.ExpectedVersion }

// RemoveOrderItem handles RemoveOrderItem.
func (c *Commands) RemoveOrderItem(ctx context.Context, cmd RemoveOrderItem) (order.State, error) {
	fp := fingerprint("RemoveOrderItem", cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.ProductID)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionRemoveItem, fp, func(o *order.Order, now time.Time) error {
		return o.RemoveItem(cmd.ProductID, now)
	})
}

// ChangeOrderItemQuantity sets a line's quantity on a pending order.
type ChangeOrderItemQuantity struct {
	Meta      CommandMeta
	OrderID   string
	ProductID string
	Quantity  int64
}

func (cmd ChangeOrderItemQuantity) target() (string, int) {
	return cmd.OrderID, cmd.Meta.ExpectedVersion
}

// ChangeOrderItemQuantity handles ChangeOrderItemQuantity.
func (c *Commands) ChangeOrderItemQuantity(ctx context.Context, cmd ChangeOrderItemQuantity) (order.State, error) {
	fp := fingerprint("ChangeOrderItemQuantity", cmd.OrderID, cmd.Meta.ExpectedVersion, cmd.ProductID, cmd.Quantity)
	return c.mutate(ctx, cmd.Meta, cmd.OrderID, order.ActionChangeQuantity, fp, func(o *order.Order, now time.Time) error {
		return o.ChangeItemQuantity(cmd.ProductID, cmd.Quantity, now)
	})
}
