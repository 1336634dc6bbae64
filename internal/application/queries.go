package application

import (
	"context"
	"fmt"

	"github.com/acme/order-service/internal/domain/order"
)

// Page sizes: a request for 0 gets the default; more than the maximum is
// clamped to it.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Queries answers reads from the read model. It is safe for concurrent use.
type Queries struct {
	read ReadModel
}

// NewQueries wires the query handlers to the read model.
func NewQueries(read ReadModel) *Queries { return &Queries{read: read} }

// GetOrder asks for one order.
type GetOrder struct {
	Actor   Actor
	OrderID string
}

func (in GetOrder) target() (string, int) { return in.OrderID, 0 }

// getOrder handles GetOrder.
func (q *Queries) getOrder(ctx context.Context, in GetOrder) (order.State, error) {
	return q.GetOrder(ctx, in.Actor, in.OrderID)
}

// GetOrder returns one order as the read model holds it.
func (q *Queries) GetOrder(ctx context.Context, actor Actor, rawID string) (order.State, error) {
	id, err := parseOrderID(rawID)
	if err != nil {
		return order.State{}, err
	}
	snap, err := q.read.GetOrder(ctx, id)
	if err != nil {
		return order.State{}, fmt.Errorf("get order %s: %w", id, err)
	}
	if !actor.canSee(snap.UserID) {
		return order.State{}, order.ErrNotFound
	}
	return snap, nil
}

// ListOrders asks for a page of one user's orders, newest first.
type ListOrders struct {
	Actor     Actor
	UserID    string // empty: the actor's own orders
	Status    string // empty: any status
	PageSize  int
	PageToken string
}

func (ListOrders) target() (string, int) { return "", 0 }

// OrderPage is one page of orders; NextPageToken is empty on the last page.
type OrderPage struct {
	Orders        []order.State
	NextPageToken string
}

// ListOrders handles ListOrders. Customers can list only their own orders.
func (q *Queries) ListOrders(ctx context.Context, in ListOrders) (OrderPage, error) {
	filter, err := orderFilter(in)
	if err != nil {
		return OrderPage{}, err
	}
	if in.PageToken != "" {
		if filter.After, err = filter.cursorFromToken(in.PageToken); err != nil {
			return OrderPage{}, err
		}
	}
	size := filter.Limit
	filter.Limit = size + 1 // one more tells whether a next page exists
	orders, err := q.read.ListOrders(ctx, filter)
	if err != nil {
		return OrderPage{}, fmt.Errorf("list orders of %s: %w", filter.UserID, err)
	}
	page := OrderPage{Orders: orders}
	if len(orders) > size {
		page.Orders = orders[:size]
		page.NextPageToken = filter.nextToken(orders[size-1])
	}
	return page, nil
}

func orderFilter(in ListOrders) (OrderFilter, error) {
	userID := in.UserID
	if userID == "" {
		userID = in.Actor.ID
	}
	user, err := order.NewUserID(userID)
	if err != nil {
		return OrderFilter{}, err
	}
	if !in.Actor.canSee(user) {
		return OrderFilter{}, &ForbiddenError{Actor: in.Actor, Action: "list another user's orders"}
	}
	var status order.Status
	if in.Status != "" {
		if status, err = order.ParseStatus(in.Status); err != nil {
			return OrderFilter{}, err
		}
	}
	size, err := pageSize(in.PageSize)
	return OrderFilter{UserID: user, Status: status, Limit: size}, err
}

// ListOrderEvents asks for a page of one order's history, oldest first.
type ListOrderEvents struct {
	Actor     Actor
	OrderID   string
	PageSize  int
	PageToken string
}

func (in ListOrderEvents) target() (string, int) { return in.OrderID, 0 }

// EventPage is one page of an order's history.
type EventPage struct {
	Events        []EventRecord
	NextPageToken string
}

// ListOrderEvents handles ListOrderEvents.
func (q *Queries) ListOrderEvents(ctx context.Context, in ListOrderEvents) (EventPage, error) {
	snap, err := q.GetOrder(ctx, in.Actor, in.OrderID)
	if err != nil {
		return EventPage{}, err
	}
	size, err := pageSize(in.PageSize)
	if err != nil {
		return EventPage{}, err
	}
	after := 0
	if in.PageToken != "" {
		if after, err = eventCursorFromToken(in.PageToken, snap.ID); err != nil {
			return EventPage{}, err
		}
	}
	events, err := q.read.ListOrderEvents(ctx, snap.ID, after, size+1)
	if err != nil {
		return EventPage{}, fmt.Errorf("list events of order %s: %w", snap.ID, err)
	}
	page := EventPage{Events: events}
	if len(events) > size {
		page.Events = events[:size]
		page.NextPageToken = encodeToken(eventPageToken{OrderID: snap.ID.String(), Version: events[size-1].Version})
	}
	return page, nil
}

func pageSize(requested int) (int, error) {
	switch {
	case requested < 0:
		return 0, &order.ValidationError{Field: "page_size", Reason: "must not be negative"}
	case requested == 0:
		return DefaultPageSize, nil
	case requested > MaxPageSize:
		return MaxPageSize, nil
	}
	return requested, nil
}
