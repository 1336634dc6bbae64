package auth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/auth"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// TestWalkthroughWithDevTokens is the README walkthrough with
// authentication on: a service keyed with AUTH_HS256_SECRET, and tokens
// minted the way cmd/devtoken mints them.
func TestWalkthroughWithDevTokens(t *testing.T) {
	secret := []byte(strings.Repeat("0123456789abcdef", 4)) // what `openssl rand -hex 32` gives: 64 bytes
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{Authenticator: hs256Service(t, secret)}})
	mint := func(sub string, role application.Role) string {
		token, err := auth.DevToken{Subject: sub, Role: role, Secret: secret, TTL: time.Hour}.Mint()
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	ctx := t.Context()
	customerToken := mint("user-123", application.RoleCustomer)
	customer := bearer(ctx, customerToken)
	staff := bearer(ctx, mint("clerk-1", application.RoleStaff))
	stranger := bearer(ctx, mint("user-999", application.RoleCustomer))

	req := &orderv1.CreateOrderRequest{UserId: "user-123", ShippingAddress: "1 Main St, Springfield", RequestId: "walkthrough-1",
		Items: []*orderv1.NewLineItem{
			{ProductId: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"},
			{ProductId: "sku-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5.00"},
		}}
	if _, err := env.GRPC.CreateOrder(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("create without a token = %v, want UNAUTHENTICATED", err)
	}
	created, err := env.GRPC.CreateOrder(customer, req)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	retried, err := env.GRPC.CreateOrder(customer, req)
	if err != nil || retried.GetOrder().GetId() != created.GetOrder().GetId() {
		t.Fatalf("retry with the same request_id = %v, %v", retried.GetOrder().GetId(), err)
	}
	id := created.GetOrder().GetId()

	if got, err := env.GRPC.GetOrder(customer, &orderv1.GetOrderRequest{OrderId: id}); err != nil || got.GetOrder().GetTotalAmount() != "44.98" {
		t.Fatalf("get = %v, %v", got, err)
	}
	if list, err := env.GRPC.ListOrders(customer, &orderv1.ListOrdersRequest{UserId: "user-123", PageSize: 10}); err != nil || len(list.GetOrders()) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	if _, err := env.GRPC.GetOrder(stranger, &orderv1.GetOrderRequest{OrderId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("another customer's get = %v, want NOT_FOUND", err)
	}
	if _, err := env.GRPC.ConfirmOrder(customer, &orderv1.ConfirmOrderRequest{OrderId: id, ExpectedVersion: 1}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("customer confirms = %v, want PERMISSION_DENIED", err)
	}
	confirmed, err := env.GRPC.ConfirmOrder(staff, &orderv1.ConfirmOrderRequest{OrderId: id, ExpectedVersion: 1})
	if err != nil || confirmed.GetOrder().GetVersion() != 2 {
		t.Fatalf("staff confirms = %v, %v", confirmed, err)
	}
	if _, err := env.GRPC.CancelOrder(customer, &orderv1.CancelOrderRequest{OrderId: id, ExpectedVersion: 1, Reason: "changed my mind"}); status.Code(err) != codes.Aborted {
		t.Fatalf("stale cancel = %v, want ABORTED", err)
	}

	// REST, with the same tokens as Authorization headers.
	if got, err := env.REST.GetOrder(customer, &orderv1.GetOrderRequest{OrderId: id}); err != nil || got.GetOrder().GetVersion() != 2 {
		t.Fatalf("REST get = %v, %v", got, err)
	}
	pay := &orderv1.PayOrderRequest{OrderId: id, Amount: "44.98", ExpectedVersion: 2}
	if paid, err := env.REST.PayOrder(staff, pay); err != nil || paid.GetOrder().GetStatus() != orderv1.OrderStatus_ORDER_STATUS_PAID {
		t.Fatalf("REST pay = %v, %v", paid, err)
	}
	var httpErr *apitest.HTTPError
	if _, err := env.REST.PayOrder(staff, pay); !errors.As(err, &httpErr) || httpErr.StatusCode != 409 {
		t.Fatalf("stale REST pay = %v, want 409", err)
	}
	if _, err := env.REST.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id}); !errors.As(err, &httpErr) || httpErr.StatusCode != 401 {
		t.Fatalf("REST get without a token = %v, want 401", err)
	}

	// Who did it: every event names the token's subject.
	events, err := env.GRPC.ListOrderEvents(customer, &orderv1.ListOrderEventsRequest{OrderId: id})
	if err != nil {
		t.Fatal(err)
	}
	var actors []string
	for _, e := range events.GetEvents() {
		actors = append(actors, e.GetActorId())
	}
	if want := []string{"user-123", "clerk-1", "clerk-1"}; !slices.Equal(actors, want) {
		t.Errorf("event actors = %v, want %v", actors, want)
	}
	logs := env.Logs.String()
	for _, want := range []string{`"principal":"user-123","role":"customer"`, `"principal":"clerk-1","role":"staff"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %s", want)
		}
	}
	if signature := customerToken[strings.LastIndex(customerToken, ".")+1:]; strings.Contains(logs, signature) {
		t.Error("a token reached the log")
	}
}

func hs256Service(t *testing.T, secret []byte) *auth.Authenticator {
	t.Helper()
	keys, err := auth.NewHS256Secret(secret)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Keys: keys, ClockSkew: auth.DefaultClockSkew})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
