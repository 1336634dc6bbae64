package application

import (
	"context"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// Page sizes: a request for 0 gets the default; more than the maximum is
// clamped to it.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Queries answers reads: the present from the read model, an order's past
// from its event log. It is safe for concurrent use.
type Queries struct {
	read   ReadModel
	events EventStore
}

// NewQueries wires the query handlers to the read model and the event log.
func NewQueries(read ReadModel, events EventStore) *Queries {
	return &Queries{read: read, events: events}
}

// GetOrder asks for one order: as it is now, or, with AsOfVersion or
// AsOfTime (not both), as it was then.
type GetOrder struct {
	Actor   Actor
	OrderID string
	// AsOfVersion, when not 0, asks for the order as it stood at that
	// version, from 1 to its current one.
	AsOfVersion int
	// AsOfTime, when not zero, asks for the order as it stood at that
	// instant: after the last event that occurred at or before it.
	AsOfTime time.Time
}

func (in GetOrder) target() (string, int) { return in.OrderID, 0 }

func (in GetOrder) now() bool { return in.AsOfVersion == 0 && in.AsOfTime.IsZero() }

// getOrder handles GetOrder.
func (q *Queries) getOrder(ctx context.Context, in GetOrder) (order.State, error) {
	if in.now() {
		return q.GetOrder(ctx, in.Actor, in.OrderID)
	}
	return q.pastOrder(ctx, in)
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

// pastOrder rebuilds an order as it was from its events. Who may see it is
// checked before the requested point is, so that another customer's order
// is not found, whatever version or time the request names.
func (q *Queries) pastOrder(ctx context.Context, in GetOrder) (order.State, error) {
	id, err := parseOrderID(in.OrderID)
	if err != nil {
		return order.State{}, err
	}
	if err := checkAsOf(in); err != nil {
		return order.State{}, err
	}
	h, err := loadHistory(ctx, q.events, id)
	if err != nil {
		return order.State{}, err
	}
	created, err := h.at(1)
	if err != nil {
		return order.State{}, err
	}
	if !in.Actor.canSee(created.UserID) {
		return order.State{}, order.ErrNotFound
	}
	version, err := asOfVersion(h, in, created)
	if err != nil {
		return order.State{}, err
	}
	return h.at(version)
}

func checkAsOf(in GetOrder) error {
	switch {
	case in.AsOfVersion < 0:
		return &order.ValidationError{Field: "as_of_version", Reason: "must not be negative"}
	case in.AsOfVersion != 0 && !in.AsOfTime.IsZero():
		return &order.ValidationError{Field: "as_of_time", Reason: "cannot be combined with as_of_version"}
	}
	return nil
}

// asOfVersion is the version a GetOrder for the past asks for, when the
// order's history has it.
func asOfVersion(h history, in GetOrder, created order.State) (int, error) {
	if in.AsOfVersion != 0 {
		if in.AsOfVersion > h.current() {
			return 0, &order.ValidationError{Field: "as_of_version", Reason: fmt.Sprintf("is beyond the order's current version %d", h.current())}
		}
		return in.AsOfVersion, nil
	}
	version := h.versionAt(in.AsOfTime)
	if version == 0 {
		return 0, &order.ValidationError{Field: "as_of_time", Reason: fmt.Sprintf("is before the order was created (%s)", created.CreatedAt.Format(time.RFC3339Nano))}
	}
	return version, nil
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
	Actor   Actor
	OrderID string
	// FromVersion, when above 1, starts the history at that version: a
	// client resumes with the version after the last event it read.
	FromVersion int
	PageSize    int
	PageToken   string
}

func (in ListOrderEvents) target() (string, int) { return in.OrderID, 0 }

// EventPage is one page of an order's history.
type EventPage struct {
	Events        []EventRecord
	NextPageToken string
}

// ListOrderEvents handles ListOrderEvents. A page token belongs to the
// FromVersion it was issued for.
func (q *Queries) ListOrderEvents(ctx context.Context, in ListOrderEvents) (EventPage, error) {
	snap, err := q.GetOrder(ctx, in.Actor, in.OrderID)
	if err != nil {
		return EventPage{}, err
	}
	size, err := pageSize(in.PageSize)
	if err != nil {
		return EventPage{}, err
	}
	if in.FromVersion < 0 {
		return EventPage{}, &order.ValidationError{Field: "from_version", Reason: "must not be negative"}
	}
	from := max(in.FromVersion, 1)
	after := from - 1
	if in.PageToken != "" {
		if after, err = eventCursorFromToken(in.PageToken, snap.ID, from); err != nil {
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
		page.NextPageToken = nextEventToken(snap.ID, from, events[size-1])
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
