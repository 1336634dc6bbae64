package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// opSpec is how one RPC is sent, and how its journaled payload is sent again.
type opSpec struct {
	newRequest func() proto.Message
	call       func(ctx context.Context, c orderv1.OrderServiceClient, req proto.Message) (*orderv1.Order, error)
}

func unary[Req proto.Message, Resp interface{ GetOrder() *orderv1.Order }](
	newReq func() Req,
	rpc func(c orderv1.OrderServiceClient, ctx context.Context, req Req) (Resp, error),
) opSpec {
	return opSpec{
		newRequest: func() proto.Message { return newReq() },
		call: func(ctx context.Context, c orderv1.OrderServiceClient, req proto.Message) (*orderv1.Order, error) {
			resp, err := rpc(c, ctx, req.(Req))
			if err != nil {
				return nil, err
			}
			return resp.GetOrder(), nil
		},
	}
}

// ops are the mutations the load sends, by RPC name.
var ops = map[string]opSpec{
	"CreateOrder": unary(func() *orderv1.CreateOrderRequest { return &orderv1.CreateOrderRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.CreateOrderRequest) (*orderv1.CreateOrderResponse, error) {
			return c.CreateOrder(ctx, r)
		}),
	"AddOrderItem": unary(func() *orderv1.AddOrderItemRequest { return &orderv1.AddOrderItemRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.AddOrderItemRequest) (*orderv1.AddOrderItemResponse, error) {
			return c.AddOrderItem(ctx, r)
		}),
	"RemoveOrderItem": unary(func() *orderv1.RemoveOrderItemRequest { return &orderv1.RemoveOrderItemRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.RemoveOrderItemRequest) (*orderv1.RemoveOrderItemResponse, error) {
			return c.RemoveOrderItem(ctx, r)
		}),
	"ChangeOrderItemQuantity": unary(func() *orderv1.ChangeOrderItemQuantityRequest { return &orderv1.ChangeOrderItemQuantityRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.ChangeOrderItemQuantityRequest) (*orderv1.ChangeOrderItemQuantityResponse, error) {
			return c.ChangeOrderItemQuantity(ctx, r)
		}),
	"ChangeShippingAddress": unary(func() *orderv1.ChangeShippingAddressRequest { return &orderv1.ChangeShippingAddressRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.ChangeShippingAddressRequest) (*orderv1.ChangeShippingAddressResponse, error) {
			return c.ChangeShippingAddress(ctx, r)
		}),
	"ConfirmOrder": unary(func() *orderv1.ConfirmOrderRequest { return &orderv1.ConfirmOrderRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.ConfirmOrderRequest) (*orderv1.ConfirmOrderResponse, error) {
			return c.ConfirmOrder(ctx, r)
		}),
	"PayOrder": unary(func() *orderv1.PayOrderRequest { return &orderv1.PayOrderRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.PayOrderRequest) (*orderv1.PayOrderResponse, error) {
			return c.PayOrder(ctx, r)
		}),
	"ShipOrder": unary(func() *orderv1.ShipOrderRequest { return &orderv1.ShipOrderRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.ShipOrderRequest) (*orderv1.ShipOrderResponse, error) {
			return c.ShipOrder(ctx, r)
		}),
	"DeliverOrder": unary(func() *orderv1.DeliverOrderRequest { return &orderv1.DeliverOrderRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.DeliverOrderRequest) (*orderv1.DeliverOrderResponse, error) {
			return c.DeliverOrder(ctx, r)
		}),
	"CancelOrder": unary(func() *orderv1.CancelOrderRequest { return &orderv1.CancelOrderRequest{} },
		func(c orderv1.OrderServiceClient, ctx context.Context, r *orderv1.CancelOrderRequest) (*orderv1.CancelOrderResponse, error) {
			return c.CancelOrder(ctx, r)
		}),
}

// opName is the RPC name of a request message (CreateOrderRequest → CreateOrder).
func opName(req proto.Message) string {
	return strings.TrimSuffix(string(req.ProtoReflect().Descriptor().Name()), "Request")
}

var payloadJSON = protojson.MarshalOptions{UseProtoNames: true}

// sender sends requests and journals every attempt.
type sender struct {
	client   orderv1.OrderServiceClient
	journal  *journal
	scenario string
	timeout  time.Duration // per attempt
}

// outcome of one attempt.
type outcome struct {
	Code  codes.Code
	Order *orderv1.Order
	Err   error
	Entry Entry
}

// noAnswer reports an attempt whose fate the client cannot know: the request
// may or may not have been applied, so only a retry with the same request id
// tells.
func (o outcome) noAnswer() bool { return isNoAnswer(o.Code, o.Err) }

func isNoAnswer(code codes.Code, err error) bool {
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown:
		return true
	case codes.Internal:
		// The service's own INTERNAL says "internal error"; anything else is
		// the transport reporting a broken stream.
		return err != nil && status.Convert(err).Message() != "internal error"
	}
	return false
}

// send makes one attempt and journals it.
func (s *sender) send(ctx context.Context, phase string, worker, attempt int, req proto.Message, timeout time.Duration) outcome {
	op := opName(req)
	spec, ok := ops[op]
	if !ok {
		panic("faultcheck: no op " + op)
	}
	payload, err := payloadJSON.Marshal(req)
	if err != nil {
		panic(err)
	}
	e := Entry{Scenario: s.scenario, Phase: phase, Worker: worker, Op: op, Attempt: attempt, Request: payload}
	if r, ok := req.(interface{ GetRequestId() string }); ok {
		e.RequestID = r.GetRequestId()
	}
	if r, ok := req.(interface{ GetOrderId() string }); ok {
		e.Target = r.GetOrderId()
	}
	if r, ok := req.(interface{ GetExpectedVersion() int64 }); ok {
		e.ExpectedVersion = r.GetExpectedVersion()
	}
	if timeout <= 0 {
		timeout = s.timeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e.Sent = time.Now()
	ord, err := spec.call(cctx, s.client, req)
	e.LatencyMS = float64(time.Since(e.Sent).Microseconds()) / 1000
	st := status.Convert(err)
	e.Code = st.Code().String()
	if err != nil {
		e.Message = truncate(st.Message(), 300)
	} else {
		e.OrderID, e.Version = ord.GetId(), ord.GetVersion()
	}
	s.journal.Add(e)
	return outcome{Code: st.Code(), Order: ord, Err: err, Entry: e}
}

// resend sends a journaled payload again (same request id, same bytes).
func (s *sender) resend(ctx context.Context, phase string, e Entry, attempt int, timeout time.Duration) (outcome, error) {
	spec, ok := ops[e.Op]
	if !ok {
		return outcome{}, fmt.Errorf("journal names unknown op %q", e.Op)
	}
	req := spec.newRequest()
	if err := protojson.Unmarshal(e.Request, req); err != nil {
		return outcome{}, fmt.Errorf("journal payload of %s: %w", e.RequestID, err)
	}
	return s.send(ctx, phase, e.Worker, attempt, req, timeout), nil
}

// sendUntilAnswered retries the same request while it gets no answer, with a
// capped exponential backoff, for at most retryFor and not after stop ends.
// Requests run under ctx, not stop: stopping the load lets the request in
// flight finish instead of cancelling it.
func (s *sender) sendUntilAnswered(ctx, stop context.Context, phase string, worker int, req proto.Message, retryFor time.Duration) outcome {
	deadline := time.Now().Add(retryFor)
	backoff := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		o := s.send(ctx, phase, worker, attempt, req, 0)
		if !o.noAnswer() || stop.Err() != nil || time.Now().After(deadline) {
			return o
		}
		t := time.NewTimer(backoff) // pacing between attempts, not a wait for a condition
		select {
		case <-stop.Done():
			t.Stop()
			return o
		case <-t.C:
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
