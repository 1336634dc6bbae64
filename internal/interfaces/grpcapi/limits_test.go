package grpcapi_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/net/http2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// TestMaxConcurrentStreams: with a limit of one call per connection, a
// second call on a busy connection waits (here: until its deadline) while a
// call on another connection is served at once.
func TestMaxConcurrentStreams(t *testing.T) {
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{MaxConcurrentStreams: 1}})
	ctx := testContext(t)
	slow := order.ID(uuid.New())
	entered, release := make(chan struct{}), make(chan struct{})
	env.Store.Inject(slow, func(context.Context) error {
		close(entered)
		<-release
		return order.ErrNotFound
	})
	first := make(chan error, 1)
	go func() {
		_, err := env.GRPC.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: slow.String()})
		first <- err
	}()
	<-entered

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := env.GRPC.ListOrders(short, &orderv1.ListOrdersRequest{UserId: "u"}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("second call on the busy connection = %v, want it to wait past its deadline", err)
	}
	other := orderv1.NewOrderServiceClient(apitest.Dial(t, env.GRPCAddr, insecure.NewCredentials()))
	if _, err := other.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: "u"}); err != nil {
		t.Errorf("call on another connection: %v", err)
	}
	close(release)
	if err := <-first; status.Code(err) != codes.NotFound {
		t.Errorf("first call = %v", err)
	}
	if _, err := env.GRPC.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: "u"}); err != nil {
		t.Errorf("the connection after the first call finished: %v", err)
	}
}

// TestKeepaliveEnforcement: a client pinging more often than the policy
// allows is sent away (GOAWAY ENHANCE_YOUR_CALM "too_many_pings"), so idle
// pings cannot keep the server busy.
func TestKeepaliveEnforcement(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	conn, err := net.Dial("tcp", env.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without GOAWAY: %v", err)
		}
		if away, ok := f.(*http2.GoAwayFrame); ok {
			if away.ErrCode != http2.ErrCodeEnhanceYourCalm || string(away.DebugData()) != "too_many_pings" {
				t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", away.ErrCode, away.DebugData())
			}
			return
		}
	}
}

// TestPageSizeCap: page sizes above 1000 are refused on both transports;
// the application would clamp them anyway.
func TestPageSizeCap(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx := apitest.As(testContext(t), "customer", "u")
	created, err := env.GRPC.CreateOrder(ctx, newOrder("u"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]orderv1.OrderServiceClient{"grpc": env.GRPC, "rest": env.REST} {
		if _, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: "u", PageSize: 1001}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: ListOrders page_size 1001 = %v, want INVALID_ARGUMENT", name, err)
		}
		if _, err := c.ListOrderEvents(ctx, &orderv1.ListOrderEventsRequest{OrderId: created.GetOrder().GetId(), PageSize: 1001}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: ListOrderEvents page_size 1001 = %v, want INVALID_ARGUMENT", name, err)
		}
		if _, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: "u", PageSize: 1000}); err != nil {
			t.Errorf("%s: page_size 1000: %v", name, err)
		}
	}
}
