package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// Operation names, as reported.
const (
	opCreate  = "CreateOrder"
	opConfirm = "ConfirmOrder"
	opPay     = "PayOrder"
	opShip    = "ShipOrder"
	opDeliver = "DeliverOrder"
	opGet     = "GetOrder"
)

// step is one RPC of an iteration; the worker times it.
type step struct {
	op  string
	run func(ctx context.Context) error
}

// workload builds the RPCs of one iteration of a mix. An iteration is one
// request for create and read, five for lifecycle (create, confirm, pay,
// ship, deliver, each naming the version the previous answer returned).
type workload struct {
	mix       string
	clients   []orderv1.OrderServiceClient
	users     int
	items     int
	requestID bool
	runID     string
	token     string
	seq       atomic.Int64
	readIDs   []string // orders the read mix reads, created by preload
	// created, when set, learns when each CreateOrder's answer arrived.
	created func(orderID string, at time.Time)
}

func (w *workload) answered(o *orderv1.Order, err error) {
	if err == nil && w.created != nil {
		w.created(o.GetId(), time.Now())
	}
}

func (w *workload) client(worker int) orderv1.OrderServiceClient {
	return w.clients[worker%len(w.clients)]
}

func (w *workload) withAuth(ctx context.Context) context.Context {
	if w.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+w.token)
}

// createRequest is the CreateOrder the create and lifecycle mixes send: by
// default two lines (the pgbench baseline transaction in bench/pgbench writes 2 item rows)
// and a fresh request_id, as a client that can retry safely sends.
func (w *workload) createRequest(worker int) *orderv1.CreateOrderRequest {
	n := w.seq.Add(1)
	req := &orderv1.CreateOrderRequest{
		UserId:          "user-" + strconv.Itoa(int(n)%w.users),
		ShippingAddress: "1 Bench Street, Loadtown",
	}
	for i := range w.items {
		req.Items = append(req.Items, &orderv1.NewLineItem{
			ProductId: "sku-" + strconv.Itoa(i+1), ProductName: "Product " + strconv.Itoa(i+1),
			Quantity: int32(i%3 + 1), UnitPrice: []string{"19.99", "5.00", "7.25"}[i%3],
		})
	}
	if w.requestID {
		req.RequestId = fmt.Sprintf("bench-%s-%d-%d", w.runID, worker, n)
	}
	return req
}

// iteration returns the steps of one iteration for a worker.
func (w *workload) iteration(worker int, rng *rand.Rand) []step {
	c := w.client(worker)
	switch w.mix {
	case "read":
		id := w.readIDs[rng.IntN(len(w.readIDs))]
		return []step{{opGet, func(ctx context.Context) error {
			_, err := c.GetOrder(w.withAuth(ctx), &orderv1.GetOrderRequest{OrderId: id})
			return err
		}}}
	case "lifecycle":
		return w.lifecycle(worker, c)
	default:
		req := w.createRequest(worker)
		return []step{{opCreate, func(ctx context.Context) error {
			r, err := c.CreateOrder(w.withAuth(ctx), req)
			w.answered(r.GetOrder(), err)
			return err
		}}}
	}
}

// lifecycle chains the five transitions; a failed step ends the iteration
// (the later steps are not sent and not counted).
func (w *workload) lifecycle(worker int, c orderv1.OrderServiceClient) []step {
	var o *orderv1.Order
	rid := func(op string) string {
		if !w.requestID || o == nil {
			return ""
		}
		return fmt.Sprintf("bench-%s-%s-%s", w.runID, o.GetId(), op)
	}
	keep := func(order *orderv1.Order, err error) error {
		if err == nil {
			o = order
		}
		return err
	}
	req := w.createRequest(worker)
	return []step{
		{opCreate, func(ctx context.Context) error {
			r, err := c.CreateOrder(w.withAuth(ctx), req)
			w.answered(r.GetOrder(), err)
			return keep(r.GetOrder(), err)
		}},
		{opConfirm, func(ctx context.Context) error {
			r, err := c.ConfirmOrder(w.withAuth(ctx), &orderv1.ConfirmOrderRequest{
				OrderId: o.GetId(), ExpectedVersion: o.GetVersion(), RequestId: rid(opConfirm)})
			return keep(r.GetOrder(), err)
		}},
		{opPay, func(ctx context.Context) error {
			r, err := c.PayOrder(w.withAuth(ctx), &orderv1.PayOrderRequest{
				OrderId: o.GetId(), Amount: o.GetTotalAmount(), Currency: o.GetCurrency(),
				PaymentReference: "pay-" + o.GetId(), ExpectedVersion: o.GetVersion(), RequestId: rid(opPay)})
			return keep(r.GetOrder(), err)
		}},
		{opShip, func(ctx context.Context) error {
			r, err := c.ShipOrder(w.withAuth(ctx), &orderv1.ShipOrderRequest{
				OrderId: o.GetId(), Carrier: "BenchPost", TrackingNumber: "TRK" + strconv.Itoa(worker),
				ExpectedVersion: o.GetVersion(), RequestId: rid(opShip)})
			return keep(r.GetOrder(), err)
		}},
		{opDeliver, func(ctx context.Context) error {
			r, err := c.DeliverOrder(w.withAuth(ctx), &orderv1.DeliverOrderRequest{
				OrderId: o.GetId(), ExpectedVersion: o.GetVersion(), RequestId: rid(opDeliver)})
			return keep(r.GetOrder(), err)
		}},
	}
}
