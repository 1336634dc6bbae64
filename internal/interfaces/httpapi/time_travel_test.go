package httpapi_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/apitest"
)

// TestOrderInThePast reads an order's past and its history from a version
// over both transports; the application's tests cover the cases in depth.
func TestOrderInThePast(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	for name, client := range transports(env) {
		t.Run(name, func(t *testing.T) {
			user := "user-" + uuid.NewString()
			ctx := apitest.As(testContext(t), "customer", user)
			l := lifecycle{t: t, ctx: ctx, c: client, user: user}
			created, err := client.CreateOrder(ctx, seedRequest(t, user))
			id := l.check(created.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_PENDING, 1, "39.98").GetId()
			cancelled, err := client.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: id, Reason: "changed my mind"})
			l.check(cancelled.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_CANCELLED, 2, "39.98")

			byVersion, err := client.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id, AsOfVersion: 1})
			l.check(byVersion.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_PENDING, 1, "39.98")
			byTime, err := client.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id, AsOfTime: created.GetOrder().GetCreateTime()})
			l.check(byTime.GetOrder(), err, orderv1.OrderStatus_ORDER_STATUS_PENDING, 1, "39.98")

			page, err := client.ListOrderEvents(ctx, &orderv1.ListOrderEventsRequest{OrderId: id, FromVersion: 2, PageSize: 1})
			if err != nil || len(page.GetEvents()) != 1 || page.GetEvents()[0].GetVersion() != 2 || page.GetNextPageToken() != "" {
				t.Fatalf("history from version 2 = %v, %v; want the one event at version 2", page, err)
			}

			before := timestamppb.New(created.GetOrder().GetCreateTime().AsTime().Add(-time.Second))
			for _, tc := range []struct {
				name  string
				req   *orderv1.GetOrderRequest
				code  codes.Code
				field string // "" for the message rule that names both
			}{
				{"a version beyond the current one", &orderv1.GetOrderRequest{OrderId: id, AsOfVersion: 3}, codes.InvalidArgument, "as_of_version"},
				{"a time before the order", &orderv1.GetOrderRequest{OrderId: id, AsOfTime: before}, codes.InvalidArgument, "as_of_time"},
				{"a version and a time", &orderv1.GetOrderRequest{OrderId: id, AsOfVersion: 1, AsOfTime: before}, codes.InvalidArgument, ""},
				{"a negative version", &orderv1.GetOrderRequest{OrderId: id, AsOfVersion: -1}, codes.InvalidArgument, "as_of_version"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := client.GetOrder(ctx, tc.req)
					st := status.Convert(err)
					if st.Code() != tc.code {
						t.Fatalf("code = %v (%v), want %v", st.Code(), err, tc.code)
					}
					wantFields(tc.field)(t, st)
				})
			}
			other := apitest.As(testContext(t), "customer", "someone-else")
			if _, err := client.GetOrder(other, &orderv1.GetOrderRequest{OrderId: id, AsOfVersion: 5}); status.Code(err) != codes.NotFound {
				t.Fatalf("another customer reads the order's past: %v, want NOT_FOUND", err)
			}
		})
	}
}
