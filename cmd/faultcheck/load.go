package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// load is the closed-loop load client: each worker creates an order and
// drives it through one of a few lifecycles, step by step, always with a
// request_id, usually with expected_version. A step that gets no answer is
// retried with the same request id; one that still gets none abandons the
// order (its fate is settled by the checker's retry).
type load struct {
	s        *sender
	workers  int
	retryFor time.Duration
	seed     uint64

	sent, acked atomic.Int64
}

type flowStep func(o *orderv1.Order, rid string, expected int64) proto.Message

// flows are the lifecycles a worker drives an order through.
var flows = [][]flowStep{
	{confirmStep, payStep, shipStep, deliverStep},
	{addItemStep, changeQuantityStep, changeAddressStep, confirmStep, cancelStep},
	{removeItemStep, confirmStep, payStep, cancelStep},
	{changeAddressStep, changeAddressStep, confirmStep, changeAddressStep, payStep, shipStep},
}

// Run runs the workers until stop ends; requests run under ctx, so the ones
// in flight when stop ends are answered, not cancelled.
func (l *load) Run(ctx, stop context.Context, phase string) {
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Go(func() { l.worker(ctx, stop, phase, w) })
	}
	wg.Wait()
}

func (l *load) worker(ctx, stop context.Context, phase string, w int) {
	rng := rand.New(rand.NewPCG(l.seed, uint64(w)))
	n := 0
	nextID := func() string {
		n++
		return fmt.Sprintf("%s-%s-w%d-%d", l.s.scenario, phase, w, n)
	}
	user := fmt.Sprintf("fault-user-%d", w%8)
	for stop.Err() == nil {
		o, ok := l.step(ctx, stop, phase, w, newCreate(rng, user, nextID()))
		if !ok {
			continue
		}
		flow := flows[rng.IntN(len(flows))]
		for _, step := range flow {
			if stop.Err() != nil {
				return
			}
			expected := o.GetVersion()
			if rng.IntN(4) == 0 {
				expected = 0 // unconditional: the server appends at what it loaded
			}
			if o, ok = l.step(ctx, stop, phase, w, step(o, nextID(), expected)); !ok {
				break // abandoned; a no-answer is settled by the checker's retry
			}
		}
	}
}

// step sends one request until it is answered (or the retry budget ends)
// and reports whether it succeeded.
func (l *load) step(ctx, stop context.Context, phase string, w int, req proto.Message) (*orderv1.Order, bool) {
	o := l.s.sendUntilAnswered(ctx, stop, phase, w, req, l.retryFor)
	l.sent.Add(int64(o.Entry.Attempt))
	if o.Code != codes.OK {
		return nil, false
	}
	l.acked.Add(1)
	return o.Order, true
}

var products = []string{"Widget", "Gadget", "Gizmo", "Doohickey", "Sprocket", "Flange"}

func newItem(rng *rand.Rand, sku int) *orderv1.NewLineItem {
	return &orderv1.NewLineItem{
		ProductId:   fmt.Sprintf("sku-%d", sku),
		ProductName: products[sku%len(products)],
		Quantity:    int32(1 + rng.IntN(5)),
		UnitPrice:   fmt.Sprintf("%d.%02d", 1+rng.IntN(500), rng.IntN(100)),
	}
}

func newCreate(rng *rand.Rand, user, rid string) *orderv1.CreateOrderRequest {
	n := 2 + rng.IntN(2)
	items := make([]*orderv1.NewLineItem, n)
	for i := range items {
		items[i] = newItem(rng, i+1)
	}
	return &orderv1.CreateOrderRequest{
		UserId: user, Items: items, RequestId: rid,
		ShippingAddress: fmt.Sprintf("%d Fault Lane, Chaos City", rng.IntN(10000)),
	}
}

func confirmStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.ConfirmOrderRequest{OrderId: o.GetId(), ExpectedVersion: v, RequestId: rid}
}

func payStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.PayOrderRequest{OrderId: o.GetId(), Amount: o.GetTotalAmount(), PaymentReference: "pay-" + rid,
		ExpectedVersion: v, RequestId: rid}
}

func shipStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.ShipOrderRequest{OrderId: o.GetId(), Carrier: "FaultEx", TrackingNumber: "trk-" + rid,
		ExpectedVersion: v, RequestId: rid}
}

func deliverStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.DeliverOrderRequest{OrderId: o.GetId(), ExpectedVersion: v, RequestId: rid}
}

func cancelStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.CancelOrderRequest{OrderId: o.GetId(), Reason: "fault test", ExpectedVersion: v, RequestId: rid}
}

func addItemStep(o *orderv1.Order, rid string, v int64) proto.Message {
	item := &orderv1.NewLineItem{ProductId: "sku-added", ProductName: "Added", Quantity: 2, UnitPrice: "3.50"}
	return &orderv1.AddOrderItemRequest{OrderId: o.GetId(), Item: item, ExpectedVersion: v, RequestId: rid}
}

func changeQuantityStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.ChangeOrderItemQuantityRequest{OrderId: o.GetId(), ProductId: o.GetItems()[0].GetProductId(),
		Quantity: o.GetItems()[0].GetQuantity() + 1, ExpectedVersion: v, RequestId: rid}
}

func removeItemStep(o *orderv1.Order, rid string, v int64) proto.Message {
	items := o.GetItems()
	return &orderv1.RemoveOrderItemRequest{OrderId: o.GetId(), ProductId: items[len(items)-1].GetProductId(),
		ExpectedVersion: v, RequestId: rid}
}

func changeAddressStep(o *orderv1.Order, rid string, v int64) proto.Message {
	return &orderv1.ChangeShippingAddressRequest{OrderId: o.GetId(), ShippingAddress: "moved: " + rid,
		ExpectedVersion: v, RequestId: rid}
}

// start runs the load in the background, as the phase "load", until the
// returned stop is called; stop waits for every worker to finish, and may
// be called more than once.
func (l *load) start(ctx context.Context) (stop func()) {
	loadCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.Run(ctx, loadCtx, "load") })
	return func() {
		cancel()
		wg.Wait()
	}
}
