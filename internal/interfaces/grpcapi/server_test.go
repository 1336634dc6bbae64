package grpcapi_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
	"github.com/acme/order-service/internal/infrastructure/system"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newOrder(userID string) *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{UserId: userID, ShippingAddress: "1 Main St",
		Items: []*orderv1.NewLineItem{{ProductId: "p1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"}}}
}

func TestPanicRecovery(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx := testContext(t)
	boom := order.ID(uuid.New())
	env.Store.Inject(boom, func(context.Context) error {
		var m map[string]int
		m["nil map"]++ // a genuine runtime panic, as a bug would cause
		return nil
	})

	_, err := env.GRPC.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: boom.String()})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Fatalf("panicking call = %v, want INTERNAL \"internal error\"", err)
	}
	if _, err := env.GRPC.CreateOrder(ctx, newOrder("u1")); err != nil {
		t.Fatalf("server does not serve after a panic: %v", err)
	}
	logs := env.Logs.String()
	if !strings.Contains(logs, "panic in grpc handler") || !strings.Contains(logs, "assignment to entry in nil map") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	if _, err := env.REST.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: boom.String()}); status.Code(err) != codes.Internal {
		t.Errorf("panicking call over REST = %v, want INTERNAL", err)
	}
}

func TestDeadlines(t *testing.T) {
	const def, max = 7 * time.Second, 20 * time.Second
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{DefaultTimeout: def, MaxTimeout: max}})
	probe := order.ID(uuid.New())
	remaining := make(chan time.Duration, 1)
	env.Store.Inject(probe, func(ctx context.Context) error {
		d, ok := ctx.Deadline()
		if !ok {
			remaining <- 0
		} else {
			remaining <- time.Until(d)
		}
		return order.ErrNotFound
	})
	deadlineSeen := func(ctx context.Context) time.Duration {
		if _, err := env.GRPC.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: probe.String()}); status.Code(err) != codes.NotFound {
			t.Fatalf("probe call = %v", err)
		}
		return <-remaining
	}

	if got := deadlineSeen(t.Context()); got <= def-5*time.Second || got > def {
		t.Errorf("without a client deadline the handler has %v left, want about %v", got, def)
	}
	far, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	if got := deadlineSeen(far); got <= max-5*time.Second || got > max {
		t.Errorf("with a one-hour client deadline the handler has %v left, want at most %v", got, max)
	}
	near, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if got := deadlineSeen(near); got > 3*time.Second || got <= 0 {
		t.Errorf("with a 3s client deadline the handler has %v left", got)
	}
}

// reasonOf is the ErrorInfo reason of st, "" without one.
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

func TestOversizedMessage(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx := testContext(t)
	huge := newOrder("u1")
	huge.Items[0].ProductName = strings.Repeat("x", grpcapi.DefaultMaxRecvMsgSize+1)

	_, err := env.GRPC.CreateOrder(ctx, huge)
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || reasonOf(st) != grpcapi.ReasonRequestTooLarge {
		t.Errorf("oversized gRPC request = %v (reason %q), want RESOURCE_EXHAUSTED with reason %s", err, reasonOf(st), grpcapi.ReasonRequestTooLarge)
	}
	// Far above the limit the transport refuses it before it is read whole.
	huge.Items[0].ProductName = strings.Repeat("x", 5*grpcapi.DefaultMaxRecvMsgSize)
	if _, err := env.GRPC.CreateOrder(ctx, huge); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("request five times the limit = %v, want RESOURCE_EXHAUSTED", err)
	}
	_, err = env.REST.CreateOrder(ctx, huge)
	var httpErr *apitest.HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusRequestEntityTooLarge || status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized REST request = %v, want 413 RESOURCE_EXHAUSTED", err)
	}
	// The service stays healthy: both transports serve, probes pass.
	for name, c := range map[string]orderv1.OrderServiceClient{"grpc": env.GRPC, "rest": env.REST} {
		if _, err := c.CreateOrder(ctx, newOrder("u1")); err != nil {
			t.Errorf("%s: normal request after an oversized one: %v", name, err)
		}
	}
	if resp, err := healthpb.NewHealthClient(env.Conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health after oversized requests = %v, %v", resp, err)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		if r := send(t, http.MethodGet, env.HTTP.URL+probe, nil); r.StatusCode != http.StatusOK {
			t.Errorf("%s after oversized requests = %d", probe, r.StatusCode)
		}
	}
}

// refuseAll is an authenticator that knows nobody.
type refuseAll struct{}

func (refuseAll) Authenticate(context.Context) (application.Actor, error) {
	return application.Actor{}, errors.New("no credentials")
}

// TestHealthAndReflection checks what grpcurl and probes need, without
// credentials even when the order service requires them.
func TestHealthAndReflection(t *testing.T) {
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{Authenticator: refuseAll{}}})
	ctx := testContext(t)

	resp, err := healthpb.NewHealthClient(env.Conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check = %v, %v", resp, err)
	}
	if _, err := env.GRPC.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: "u"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("order call without credentials = %v, want UNAUTHENTICATED", err)
	}

	stream, err := reflectionpb.NewServerReflectionClient(env.Conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	answer, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range answer.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"order.v1.OrderService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}

func TestNewServerNeedsAnAuthenticator(t *testing.T) {
	svc := grpcapi.NewService(nil)
	if _, err := grpcapi.NewServer(svc, grpcapi.ServerConfig{}, nil, nil); err == nil {
		t.Fatal("a server without authenticator was built")
	}
}

// TestServiceRefusesCallsWithoutActor covers a Service mounted without the
// authentication interceptor: it must not run commands for nobody.
func TestServiceRefusesCallsWithoutActor(t *testing.T) {
	store := memory.New()
	app, err := application.NewService(application.Ports{Events: store, Requests: store, Read: store, Clock: system.Clock{}, IDs: system.UUIDv7{}}, application.CommandsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	svc := grpcapi.NewService(app)
	if _, err := svc.CreateOrder(t.Context(), newOrder("u1")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("CreateOrder without actor = %v, want UNAUTHENTICATED", err)
	}
}

func TestAllowAnonymous(t *testing.T) {
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{Authenticator: grpcapi.AllowAnonymous{}}})
	ctx := apitest.As(testContext(t), "customer", "ignored") // credentials are not even read
	created, err := env.GRPC.CreateOrder(ctx, newOrder("someone-else"))
	if err != nil {
		t.Fatalf("anonymous create for any user: %v", err)
	}
	events, err := env.GRPC.ListOrderEvents(ctx, &orderv1.ListOrderEventsRequest{OrderId: created.GetOrder().GetId()})
	if err != nil || len(events.GetEvents()) != 1 || events.GetEvents()[0].GetActorId() != application.Anonymous.ID {
		t.Errorf("events = %v, %v; want one by %q", events, err, application.Anonymous.ID)
	}
}
