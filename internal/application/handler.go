package application

import (
	"context"

	"github.com/acme/order-service/internal/domain/order"
)

// Handler runs one command or query: the one shape every use case has, so
// that cross-cutting concerns (tracing, metrics) wrap them all in one place.
type Handler[Req, Res any] interface {
	Handle(ctx context.Context, req Req) (Res, error)
}

// HandlerFunc is a function used as a Handler.
type HandlerFunc[Req, Res any] func(ctx context.Context, req Req) (Res, error)

// Handle implements Handler.
func (f HandlerFunc[Req, Res]) Handle(ctx context.Context, req Req) (Res, error) { return f(ctx, req) }

// Kind says whether a handler changes orders or only reads them.
type Kind string

// The kinds of handler.
const (
	KindCommand Kind = "command"
	KindQuery   Kind = "query"
)

// Info names a handler: "CreateOrder", KindCommand.
type Info struct {
	Name string
	Kind Kind
}

// Call is one run of a handler as its middlewares see it.
type Call struct {
	Info
	// OrderID is the order the request addresses, as the caller sent it
	// (unvalidated); empty for requests about no single order.
	OrderID string
	// ExpectedVersion is the version the caller expects the order to be
	// at; 0 when it sent none.
	ExpectedVersion int

	run func(ctx context.Context) error // the handler itself
}

// Next runs the rest of a handler's chain, and in the end the handler.
type Next func(ctx context.Context, call *Call) error

// Middleware wraps a handler. NewService calls it once per handler, with
// the handler's Info; the Next it returns runs on every call and must call
// next (with the context it wants the handler to see) and return its
// error, or return an error of its own without calling it.
type Middleware func(info Info, next Next) Next

// request is what a handler's request tells its middlewares: the order it
// addresses and the version the caller expects (see Call).
type request interface {
	target() (orderID string, expectedVersion int)
}

type infoKey struct{}

// InfoFrom returns the handler a context runs in, for code the handler
// calls (an Observer labelling its metrics by command).
func InfoFrom(ctx context.Context) (Info, bool) {
	info, ok := ctx.Value(infoKey{}).(Info)
	return info, ok
}

// decorate wraps h in mws, the first outermost.
func decorate[Req request, Res any](mws []Middleware, kind Kind, name string, h HandlerFunc[Req, Res]) Handler[Req, Res] {
	info := Info{Name: name, Kind: kind}
	next := Next(func(ctx context.Context, call *Call) error { return call.run(ctx) })
	for i := len(mws) - 1; i >= 0; i-- {
		next = mws[i](info, next)
	}
	return HandlerFunc[Req, Res](func(ctx context.Context, req Req) (Res, error) {
		var res Res
		call := &Call{Info: info, run: func(ctx context.Context) error {
			var err error
			res, err = h(ctx, req)
			return err
		}}
		call.OrderID, call.ExpectedVersion = req.target()
		err := next(context.WithValue(ctx, infoKey{}, info), call)
		return res, err
	})
}

// Ports are what the application needs from the outside world.
type Ports struct {
	Events   EventStore
	Requests IdempotencyStore
	Read     ReadModel
	Clock    Clock
	IDs      IDSource
}

// Service is the application as the interfaces call it: one handler per
// command and query, each wrapped in the middlewares NewService was given.
// Calls look like app.CreateOrder.Handle(ctx, cmd).
type Service struct {
	CreateOrder             Handler[CreateOrder, order.State]
	AddOrderItem            Handler[AddOrderItem, order.State]
	RemoveOrderItem         Handler[RemoveOrderItem, order.State]
	ChangeOrderItemQuantity Handler[ChangeOrderItemQuantity, order.State]
	ChangeShippingAddress   Handler[ChangeShippingAddress, order.State]
	ConfirmOrder            Handler[ConfirmOrder, order.State]
	PayOrder                Handler[PayOrder, order.State]
	ShipOrder               Handler[ShipOrder, order.State]
	DeliverOrder            Handler[DeliverOrder, order.State]
	CancelOrder             Handler[CancelOrder, order.State]

	GetOrder        Handler[GetOrder, order.State]
	ListOrders      Handler[ListOrders, OrderPage]
	ListOrderEvents Handler[ListOrderEvents, EventPage]
}

// NewService builds every handler on the ports and wraps each in mws, the
// first outermost. It fails when cfg does not validate.
func NewService(p Ports, cfg CommandsConfig, mws ...Middleware) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := NewCommands(p.Events, p.Requests, p.Clock, p.IDs, cfg)
	q := NewQueries(p.Read, p.Events)
	return &Service{
		CreateOrder:             decorate(mws, KindCommand, "CreateOrder", c.CreateOrder),
		AddOrderItem:            decorate(mws, KindCommand, "AddOrderItem", c.AddOrderItem),
		RemoveOrderItem:         decorate(mws, KindCommand, "RemoveOrderItem", c.RemoveOrderItem),
		ChangeOrderItemQuantity: decorate(mws, KindCommand, "ChangeOrderItemQuantity", c.ChangeOrderItemQuantity),
		ChangeShippingAddress:   decorate(mws, KindCommand, "ChangeShippingAddress", c.ChangeShippingAddress),
		ConfirmOrder:            decorate(mws, KindCommand, "ConfirmOrder", c.ConfirmOrder),
		PayOrder:                decorate(mws, KindCommand, "PayOrder", c.PayOrder),
		ShipOrder:               decorate(mws, KindCommand, "ShipOrder", c.ShipOrder),
		DeliverOrder:            decorate(mws, KindCommand, "DeliverOrder", c.DeliverOrder),
		CancelOrder:             decorate(mws, KindCommand, "CancelOrder", c.CancelOrder),

		GetOrder:        decorate(mws, KindQuery, "GetOrder", q.getOrder),
		ListOrders:      decorate(mws, KindQuery, "ListOrders", q.ListOrders),
		ListOrderEvents: decorate(mws, KindQuery, "ListOrderEvents", q.ListOrderEvents),
	}, nil
}
