package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// secret is what a failing dependency says; it must reach the log only.
const secret = `pq: password authentication failed for user "orders" in SELECT * FROM order_events`

// errorCase is one row of the error model (docs/ARCHITECTURE.md), run over both transports.
type errorCase struct {
	name   string
	call   func(ctx context.Context, c orderv1.OrderServiceClient) error
	code   codes.Code
	http   int
	reason string // "" when the status carries no ErrorInfo
	check  func(t *testing.T, st *status.Status)
}

// fixture is the state the error cases run against. Nothing in the table
// changes it, so the cases run in any order.
type fixture struct {
	order       string                      // a PENDING order of cust-1 with the single item p1
	reused      *orderv1.CreateOrderRequest // reuses the request id of an earlier, different create
	unavailable order.ID
	internal    order.ID
	deadline    order.ID
	canceled    order.ID
	corrupt     order.ID
}

func newFixture(t *testing.T, env *apitest.Env) fixture {
	ctx := testContext(t)
	created, err := env.GRPC.CreateOrder(ctx, seedRequest(t, "cust-1"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	reuse := seedRequest(t, "cust-1")
	reuse.RequestId = "reuse-key"
	if _, err := env.GRPC.CreateOrder(ctx, reuse); err != nil {
		t.Fatalf("create with request id: %v", err)
	}
	reused := seedRequest(t, "cust-1")
	reused.RequestId, reused.ShippingAddress = "reuse-key", "somewhere else"
	f := fixture{order: created.GetOrder().GetId(), reused: reused, unavailable: newID(), internal: newID(), deadline: newID(), canceled: newID(), corrupt: newID()}
	fail := func(err error) apitest.Hook { return func(context.Context) error { return err } }
	env.Store.Inject(f.unavailable, fail(fmt.Errorf("load: %w: %w", application.ErrUnavailable, errors.New("dial tcp 10.0.0.5:5432: connection refused"))))
	env.Store.Inject(f.internal, fail(errors.New(secret)))
	env.Store.Inject(f.deadline, fail(fmt.Errorf("query: %w", context.DeadlineExceeded)))
	env.Store.Inject(f.canceled, fail(fmt.Errorf("query: %w", context.Canceled)))
	env.Store.Inject(f.corrupt, fail(&order.HistoryError{Version: 3, Problem: "delivered before shipped"}))
	return f
}

func newID() order.ID { return order.ID(uuid.New()) }

func confirm(id order.ID) func(context.Context, orderv1.OrderServiceClient) error {
	return func(ctx context.Context, c orderv1.OrderServiceClient) error {
		_, err := c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: id.String()})
		return err
	}
}

func errorCases(f fixture) []errorCase {
	return []errorCase{
		{
			name: "invalid input named by protovalidate",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.CreateOrder(ctx, &orderv1.CreateOrderRequest{ShippingAddress: "1 Main St",
					Items: []*orderv1.NewLineItem{{ProductId: "p1", ProductName: "Widget", Quantity: 0, UnitPrice: "1.999"}}})
				return err
			},
			code: codes.InvalidArgument, http: 400, reason: grpcapi.ReasonInvalidArgument,
			check: wantFields("user_id", "items[0].quantity", "items[0].unit_price"),
		},
		{
			name: "pattern rules say in words what they expect",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: "u", ShippingAddress: "1 Main St", Currency: "usd", RequestId: "a\x01b",
					Items: []*orderv1.NewLineItem{{ProductId: "p1", ProductName: "Widget", Quantity: 1, UnitPrice: "1.999"}}})
				return err
			},
			code: codes.InvalidArgument, http: 400, reason: grpcapi.ReasonInvalidArgument,
			check: wantDescriptions(map[string]string{
				"items[0].unit_price": "must be a decimal amount with at most two fraction digits, from 0 to 99999999.99",
				"currency":            "must be an ISO 4217 currency code: three capital letters such as USD",
				"request_id":          "must contain only printable ASCII characters, from space to ~",
			}),
		},
		{
			name: "malformed order id",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: "not-a-uuid"})
				return err
			},
			code: codes.InvalidArgument, http: 400, reason: grpcapi.ReasonInvalidArgument, check: wantFields("order_id"),
		},
		{
			name: "invalid input named by the domain: total overflow",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.CreateOrder(ctx, &orderv1.CreateOrderRequest{UserId: "u", ShippingAddress: "1 Main St",
					Items: []*orderv1.NewLineItem{
						{ProductId: "p1", ProductName: "Gold", Quantity: 1, UnitPrice: "99999999.99"},
						{ProductId: "p2", ProductName: "Gold", Quantity: 1, UnitPrice: "99999999.99"},
					}})
				return err
			},
			code: codes.InvalidArgument, http: 400, reason: grpcapi.ReasonInvalidArgument, check: wantFields("items"),
		},
		{
			name: "invalid input named by the domain: unsupported currency",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				req := &orderv1.CreateOrderRequest{UserId: "u", ShippingAddress: "1 Main St", Currency: "JPY",
					Items: []*orderv1.NewLineItem{{ProductId: "p1", ProductName: "W", Quantity: 1, UnitPrice: "1"}}}
				_, err := c.CreateOrder(ctx, req)
				return err
			},
			code: codes.InvalidArgument, http: 400, reason: grpcapi.ReasonInvalidArgument, check: wantFields("currency"),
		},
		{
			name: "order not found",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: uuid.NewString()})
				return err
			},
			code: codes.NotFound, http: 404, reason: grpcapi.ReasonOrderNotFound,
		},
		{
			name: "another customer's order reads as not found",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.GetOrder(apitest.As(ctx, "customer", "cust-2"), &orderv1.GetOrderRequest{OrderId: f.order})
				return err
			},
			code: codes.NotFound, http: 404, reason: grpcapi.ReasonOrderNotFound,
		},
		{
			name: "version mismatch",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{OrderId: f.order, ShippingAddress: "x", ExpectedVersion: 7})
				return err
			},
			code: codes.Aborted, http: 409, reason: grpcapi.ReasonVersionMismatch,
			check: func(t *testing.T, st *status.Status) {
				wantMetadata(t, st, map[string]string{"expected_version": "7", "current_version": "1"})
				wantPrecondition(t, st, "VERSION", f.order)
			},
		},
		{
			name: "illegal transition",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.ShipOrder(ctx, &orderv1.ShipOrderRequest{OrderId: f.order, Carrier: "UPS", TrackingNumber: "1"})
				return err
			},
			code: codes.FailedPrecondition, http: 400, reason: grpcapi.ReasonIllegalTransition,
			check: func(t *testing.T, st *status.Status) {
				wantMetadata(t, st, map[string]string{"status": "PENDING", "action": string(order.ActionShip)})
				wantPrecondition(t, st, "STATUS", f.order)
			},
		},
		{
			name: "broken business rule",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.RemoveOrderItem(ctx, &orderv1.RemoveOrderItemRequest{OrderId: f.order, ProductId: "p1"})
				return err
			},
			code: codes.FailedPrecondition, http: 400, reason: string(order.RuleLastItem),
		},
		{
			name: "request id reused with another payload",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.CreateOrder(ctx, f.reused)
				return err
			},
			code: codes.InvalidArgument, http: 400, reason: grpcapi.ReasonRequestIDReused, check: wantFields("request_id"),
		},
		{
			name: "permission denied: customer confirms",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.ConfirmOrder(apitest.As(ctx, "customer", "cust-1"), &orderv1.ConfirmOrderRequest{OrderId: f.order})
				return err
			},
			code: codes.PermissionDenied, http: 403, reason: grpcapi.ReasonPermissionDenied,
		},
		{
			name: "permission denied: customer lists another user's orders",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.ListOrders(apitest.As(ctx, "customer", "cust-1"), &orderv1.ListOrdersRequest{UserId: "cust-2"})
				return err
			},
			code: codes.PermissionDenied, http: 403, reason: grpcapi.ReasonPermissionDenied,
		},
		{
			name: "unauthenticated",
			call: func(ctx context.Context, c orderv1.OrderServiceClient) error {
				_, err := c.GetOrder(apitest.As(ctx, "pirate", "x"), &orderv1.GetOrderRequest{OrderId: f.order})
				return err
			},
			code: codes.Unauthenticated, http: 401, reason: grpcapi.ReasonUnauthenticated,
		},
		{
			name: "dependency unavailable", call: confirm(f.unavailable),
			code: codes.Unavailable, http: 503, reason: grpcapi.ReasonDependencyUnavailable, check: wantNoLeak("10.0.0.5"),
		},
		{
			name: "internal error", call: confirm(f.internal),
			code: codes.Internal, http: 500, check: wantNoLeak("password", "SELECT", "order_events"),
		},
		{
			name: "corrupt history is internal", call: confirm(f.corrupt),
			code: codes.Internal, http: 500, check: wantNoLeak("delivered before shipped"),
		},
		{name: "deadline exceeded", call: confirm(f.deadline), code: codes.DeadlineExceeded, http: 504},
		{name: "cancelled", call: confirm(f.canceled), code: codes.Canceled, http: 499},
	}
}

// TestErrors checks that every error class leaves both transports with the
// same code, message and details, and the documented HTTP status.
func TestErrors(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	f := newFixture(t, env)
	for _, tc := range errorCases(f) {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			grpcErr, restErr := tc.call(ctx, env.GRPC), tc.call(ctx, env.REST)
			viaGRPC, viaREST := status.Convert(grpcErr), status.Convert(restErr)
			for _, st := range []*status.Status{viaGRPC, viaREST} {
				if st.Code() != tc.code {
					t.Fatalf("code = %v (%s), want %v", st.Code(), st.Message(), tc.code)
				}
				if got := reasonOf(st); got != tc.reason {
					t.Errorf("reason = %q, want %q", got, tc.reason)
				}
				if tc.check != nil {
					tc.check(t, st)
				}
			}
			var httpErr *apitest.HTTPError
			if !errors.As(restErr, &httpErr) || httpErr.StatusCode != tc.http {
				t.Errorf("REST answer = %v, want HTTP %d", restErr, tc.http)
			}
			sameStatus(t, viaGRPC, viaREST)
		})
	}
	if !strings.Contains(env.Logs.String(), "password authentication failed") {
		t.Error("the internal error's cause was not logged")
	}
}

// sameStatus compares statuses detail by detail: the REST path re-encodes the
// Any values, whose bytes may differ (map order) while the messages are equal.
func sameStatus(t *testing.T, a, b *status.Status) {
	t.Helper()
	if a.Code() != b.Code() || a.Message() != b.Message() {
		t.Fatalf("gRPC %v %q vs REST %v %q", a.Code(), a.Message(), b.Code(), b.Message())
	}
	da, db := a.Details(), b.Details()
	if len(da) != len(db) {
		t.Fatalf("gRPC details %v vs REST details %v", da, db)
	}
	for i := range da {
		ma, okA := da[i].(proto.Message)
		mb, okB := db[i].(proto.Message)
		if !okA || !okB || !proto.Equal(ma, mb) {
			t.Errorf("detail %d: gRPC %v vs REST %v", i, da[i], db[i])
		}
	}
}

func detail[T proto.Message](st *status.Status) (T, bool) {
	for _, d := range st.Details() {
		if m, ok := d.(T); ok {
			return m, true
		}
	}
	var zero T
	return zero, false
}

func reasonOf(st *status.Status) string {
	info, ok := detail[*errdetails.ErrorInfo](st)
	if !ok {
		return ""
	}
	if info.GetDomain() != grpcapi.ErrorDomain {
		return "wrong domain " + info.GetDomain()
	}
	return info.GetReason()
}

func wantFields(fields ...string) func(*testing.T, *status.Status) {
	return func(t *testing.T, st *status.Status) {
		t.Helper()
		br, _ := detail[*errdetails.BadRequest](st)
		var got []string
		for _, v := range br.GetFieldViolations() {
			if v.GetDescription() == "" {
				t.Errorf("violation of %s has no description", v.GetField())
			}
			got = append(got, v.GetField())
		}
		if !slices.Equal(got, fields) {
			t.Errorf("field violations = %v, want %v", got, fields)
		}
	}
}

// wantDescriptions checks the violations' fields and what they say.
func wantDescriptions(want map[string]string) func(*testing.T, *status.Status) {
	return func(t *testing.T, st *status.Status) {
		t.Helper()
		br, _ := detail[*errdetails.BadRequest](st)
		got := map[string]string{}
		for _, v := range br.GetFieldViolations() {
			got[v.GetField()] = v.GetDescription()
		}
		if !maps.Equal(got, want) {
			t.Errorf("field violations = %v, want %v", got, want)
		}
	}
}

func wantMetadata(t *testing.T, st *status.Status, want map[string]string) {
	t.Helper()
	info, _ := detail[*errdetails.ErrorInfo](st)
	for k, v := range want {
		if info.GetMetadata()[k] != v {
			t.Errorf("ErrorInfo.metadata[%s] = %q, want %q (all: %v)", k, info.GetMetadata()[k], v, info.GetMetadata())
		}
	}
}

func wantPrecondition(t *testing.T, st *status.Status, kind, subject string) {
	t.Helper()
	pf, _ := detail[*errdetails.PreconditionFailure](st)
	if len(pf.GetViolations()) != 1 || pf.GetViolations()[0].GetType() != kind || pf.GetViolations()[0].GetSubject() != subject {
		t.Errorf("precondition failure = %v, want type %s subject %s", pf, kind, subject)
	}
}

// wantNoLeak checks that the client sees nothing of the cause.
func wantNoLeak(words ...string) func(*testing.T, *status.Status) {
	return func(t *testing.T, st *status.Status) {
		t.Helper()
		text := fmt.Sprint(st.Proto())
		for _, w := range words {
			if strings.Contains(text, w) {
				t.Errorf("status %s leaks %q", text, w)
			}
		}
	}
}
