package grpcapi

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/protomap"
)

// Service implements orderv1.OrderServiceServer: it decodes each request into
// an application command or query, runs it, and encodes the result. Errors
// are returned as they come; the error-mapping interceptor translates them.
type Service struct {
	orderv1.UnimplementedOrderServiceServer

	app *application.Service
}

var _ orderv1.OrderServiceServer = (*Service)(nil)

// NewService wires the service to the application's handlers.
func NewService(app *application.Service) *Service {
	return &Service{app: app}
}

// actor is the authenticated caller. A missing actor means the service runs
// without the authentication interceptor: refuse rather than guess.
func actor(ctx context.Context) (application.Actor, error) {
	a, ok := ActorFrom(ctx)
	if !ok {
		return application.Actor{}, status.Error(codes.Unauthenticated, "no authenticated caller")
	}
	return a, nil
}

// meta collects what every command carries besides its payload.
func meta(ctx context.Context, expectedVersion int64, requestID string) (application.CommandMeta, error) {
	a, err := actor(ctx)
	if err != nil {
		return application.CommandMeta{}, err
	}
	correlation := incomingID(ctx, MetadataCorrelationID)
	if correlation == "" {
		correlation = RequestIDFrom(ctx)
	}
	return application.CommandMeta{
		Actor: a, ExpectedVersion: int(expectedVersion), RequestID: requestID,
		CorrelationID: correlation, TraceParent: TraceParentFrom(ctx),
	}, nil
}

func newItem(it *orderv1.NewLineItem) application.NewItem {
	return application.NewItem{
		ProductID: it.GetProductId(), ProductName: it.GetProductName(),
		Quantity: int64(it.GetQuantity()), UnitPrice: it.GetUnitPrice(),
	}
}

// CreateOrder implements orderv1.OrderServiceServer.
func (s *Service) CreateOrder(ctx context.Context, req *orderv1.CreateOrderRequest) (*orderv1.CreateOrderResponse, error) {
	m, err := meta(ctx, 0, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	items := make([]application.NewItem, len(req.GetItems()))
	for i, it := range req.GetItems() {
		items[i] = newItem(it)
	}
	snap, err := s.app.CreateOrder.Handle(ctx, application.CreateOrder{
		Meta: m, UserID: req.GetUserId(), Items: items,
		ShippingAddress: req.GetShippingAddress(), PostalAddress: protomap.PostalAddressFields(req.GetPostalAddress()),
		Currency: req.GetCurrency(),
	})
	if err != nil {
		return nil, err
	}
	return &orderv1.CreateOrderResponse{Order: protomap.Order(snap)}, nil
}

// GetOrder implements orderv1.OrderServiceServer.
func (s *Service) GetOrder(ctx context.Context, req *orderv1.GetOrderRequest) (*orderv1.GetOrderResponse, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	q := application.GetOrder{Actor: a, OrderID: req.GetOrderId(), AsOfVersion: int(req.GetAsOfVersion())}
	if req.GetAsOfTime() != nil {
		q.AsOfTime = req.GetAsOfTime().AsTime()
	}
	snap, err := s.app.GetOrder.Handle(ctx, q)
	if err != nil {
		return nil, err
	}
	return &orderv1.GetOrderResponse{Order: protomap.Order(snap)}, nil
}

// ListOrders implements orderv1.OrderServiceServer.
func (s *Service) ListOrders(ctx context.Context, req *orderv1.ListOrdersRequest) (*orderv1.ListOrdersResponse, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	statusFilter, err := statusName(req.GetStatus())
	if err != nil {
		return nil, err
	}
	page, err := s.app.ListOrders.Handle(ctx, application.ListOrders{
		Actor: a, UserID: req.GetUserId(), Status: statusFilter,
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	orders := make([]*orderv1.Order, len(page.Orders))
	for i, snap := range page.Orders {
		orders[i] = protomap.Order(snap)
	}
	return &orderv1.ListOrdersResponse{Orders: orders, NextPageToken: page.NextPageToken}, nil
}

// statusName is the application's status filter: "" for UNSPECIFIED (any).
func statusName(s orderv1.OrderStatus) (string, error) {
	if s == orderv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		return "", nil
	}
	st, err := protomap.StatusFromProto(s)
	return string(st), err
}

// AddOrderItem implements orderv1.OrderServiceServer.
func (s *Service) AddOrderItem(ctx context.Context, req *orderv1.AddOrderItemRequest) (*orderv1.AddOrderItemResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.AddOrderItem.Handle(ctx, application.AddOrderItem{Meta: m, OrderID: req.GetOrderId(), Item: newItem(req.GetItem())})
	if err != nil {
		return nil, err
	}
	return &orderv1.AddOrderItemResponse{Order: protomap.Order(snap)}, nil
}

// RemoveOrderItem implements orderv1.OrderServiceServer.
func (s *Service) RemoveOrderItem(ctx context.Context, req *orderv1.RemoveOrderItemRequest) (*orderv1.RemoveOrderItemResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.RemoveOrderItem.Handle(ctx, application.RemoveOrderItem{Meta: m, OrderID: req.GetOrderId(), ProductID: req.GetProductId()})
	if err != nil {
		return nil, err
	}
	return &orderv1.RemoveOrderItemResponse{Order: protomap.Order(snap)}, nil
}

// ChangeOrderItemQuantity implements orderv1.OrderServiceServer.
func (s *Service) ChangeOrderItemQuantity(ctx context.Context, req *orderv1.ChangeOrderItemQuantityRequest) (*orderv1.ChangeOrderItemQuantityResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.ChangeOrderItemQuantity.Handle(ctx, application.ChangeOrderItemQuantity{
		Meta: m, OrderID: req.GetOrderId(), ProductID: req.GetProductId(), Quantity: int64(req.GetQuantity()),
	})
	if err != nil {
		return nil, err
	}
	return &orderv1.ChangeOrderItemQuantityResponse{Order: protomap.Order(snap)}, nil
}

// ChangeShippingAddress implements orderv1.OrderServiceServer.
func (s *Service) ChangeShippingAddress(ctx context.Context, req *orderv1.ChangeShippingAddressRequest) (*orderv1.ChangeShippingAddressResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.ChangeShippingAddress.Handle(ctx, application.ChangeShippingAddress{
		Meta: m, OrderID: req.GetOrderId(), ShippingAddress: req.GetShippingAddress(),
		PostalAddress: protomap.PostalAddressFields(req.GetPostalAddress()),
	})
	if err != nil {
		return nil, err
	}
	return &orderv1.ChangeShippingAddressResponse{Order: protomap.Order(snap)}, nil
}

// ConfirmOrder implements orderv1.OrderServiceServer.
func (s *Service) ConfirmOrder(ctx context.Context, req *orderv1.ConfirmOrderRequest) (*orderv1.ConfirmOrderResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.ConfirmOrder.Handle(ctx, application.ConfirmOrder{Meta: m, OrderID: req.GetOrderId()})
	if err != nil {
		return nil, err
	}
	return &orderv1.ConfirmOrderResponse{Order: protomap.Order(snap)}, nil
}

// PayOrder implements orderv1.OrderServiceServer.
func (s *Service) PayOrder(ctx context.Context, req *orderv1.PayOrderRequest) (*orderv1.PayOrderResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.PayOrder.Handle(ctx, application.PayOrder{
		Meta: m, OrderID: req.GetOrderId(), Amount: req.GetAmount(),
		Currency: req.GetCurrency(), PaymentReference: req.GetPaymentReference(),
	})
	if err != nil {
		return nil, err
	}
	return &orderv1.PayOrderResponse{Order: protomap.Order(snap)}, nil
}

// ShipOrder implements orderv1.OrderServiceServer.
func (s *Service) ShipOrder(ctx context.Context, req *orderv1.ShipOrderRequest) (*orderv1.ShipOrderResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.ShipOrder.Handle(ctx, application.ShipOrder{
		Meta: m, OrderID: req.GetOrderId(), Carrier: req.GetCarrier(), TrackingNumber: req.GetTrackingNumber(),
	})
	if err != nil {
		return nil, err
	}
	return &orderv1.ShipOrderResponse{Order: protomap.Order(snap)}, nil
}

// DeliverOrder implements orderv1.OrderServiceServer.
func (s *Service) DeliverOrder(ctx context.Context, req *orderv1.DeliverOrderRequest) (*orderv1.DeliverOrderResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.DeliverOrder.Handle(ctx, application.DeliverOrder{Meta: m, OrderID: req.GetOrderId()})
	if err != nil {
		return nil, err
	}
	return &orderv1.DeliverOrderResponse{Order: protomap.Order(snap)}, nil
}

// CancelOrder implements orderv1.OrderServiceServer.
func (s *Service) CancelOrder(ctx context.Context, req *orderv1.CancelOrderRequest) (*orderv1.CancelOrderResponse, error) {
	m, err := meta(ctx, req.GetExpectedVersion(), req.GetRequestId())
	if err != nil {
		return nil, err
	}
	snap, err := s.app.CancelOrder.Handle(ctx, application.CancelOrder{Meta: m, OrderID: req.GetOrderId(), Reason: req.GetReason()})
	if err != nil {
		return nil, err
	}
	return &orderv1.CancelOrderResponse{Order: protomap.Order(snap)}, nil
}

// ListOrderEvents implements orderv1.OrderServiceServer.
func (s *Service) ListOrderEvents(ctx context.Context, req *orderv1.ListOrderEventsRequest) (*orderv1.ListOrderEventsResponse, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.app.ListOrderEvents.Handle(ctx, application.ListOrderEvents{
		Actor: a, OrderID: req.GetOrderId(), FromVersion: int(req.GetFromVersion()),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	events := make([]*orderv1.OrderEvent, len(page.Events))
	for i, r := range page.Events {
		if events[i], err = orderEvent(r); err != nil {
			return nil, err
		}
	}
	return &orderv1.ListOrderEventsResponse{Events: events, NextPageToken: page.NextPageToken}, nil
}
