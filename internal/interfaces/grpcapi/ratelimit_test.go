package grpcapi_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/apitest"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/interfaces/ratelimit"
)

// keyRecorder wraps a limiter and remembers the keys calls were charged to.
type keyRecorder struct {
	inner grpcapi.RateLimiter
	mu    sync.Mutex
	keys  []string
}

func (r *keyRecorder) Allow(key string) (bool, time.Duration) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.inner.Allow(key)
}

func (r *keyRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[len(r.keys)-1]
}

// TestRateLimitPerPrincipal: one principal bursting is refused with
// RetryInfo on both transports (they share its budget), while another
// principal and the health checks are still served.
func TestRateLimitPerPrincipal(t *testing.T) {
	const burst = 5
	limiter := ratelimit.New(ratelimit.Config{Rate: 0.01, Burst: burst}) // no refill within the test
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{RateLimiter: limiter}})
	ctx := testContext(t)
	alice := apitest.As(ctx, "customer", "alice")
	bob := apitest.As(ctx, "customer", "bob")
	list := func(c orderv1.OrderServiceClient, ctx context.Context, user string) error {
		_, err := c.ListOrders(ctx, &orderv1.ListOrdersRequest{UserId: user})
		return err
	}

	for i := range burst {
		c := env.GRPC
		if i%2 == 1 {
			c = env.REST
		}
		if err := list(c, alice, "alice"); err != nil {
			t.Fatalf("call %d of alice's burst: %v", i+1, err)
		}
	}
	err := list(env.GRPC, alice, "alice")
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("alice past her burst over gRPC = %v, want RESOURCE_EXHAUSTED", err)
	}
	var retry *errdetails.RetryInfo
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.ErrorInfo:
			info = d
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 || retry.GetRetryDelay().AsDuration() > 100*time.Second {
		t.Errorf("RetryInfo = %v, want a delay of up to 1/rate", retry)
	}
	if info.GetReason() != grpcapi.ReasonRateLimited || info.GetDomain() != grpcapi.ErrorDomain || info.GetMetadata()["retry_after_seconds"] == "" {
		t.Errorf("ErrorInfo = %v", info)
	}

	_, err = env.REST.ListOrders(alice, &orderv1.ListOrdersRequest{UserId: "alice"})
	var httpErr *apitest.HTTPError
	if !errors.As(err, &httpErr) || httpErr.StatusCode != http.StatusTooManyRequests || status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("alice past her burst over REST = %v, want 429", err)
	}
	r := send(t, http.MethodGet, env.HTTP.URL+"/v1/orders?user_id=alice", map[string]string{"Authorization": "Bearer customer:alice"})
	if seconds, err := strconv.Atoi(r.Header.Get("Retry-After")); r.StatusCode != http.StatusTooManyRequests || err != nil || seconds < 1 {
		t.Errorf("REST answer %d with Retry-After %q, want 429 and whole seconds", r.StatusCode, r.Header.Get("Retry-After"))
	}

	for _, c := range []orderv1.OrderServiceClient{env.GRPC, env.REST} {
		if err := list(c, bob, "bob"); err != nil {
			t.Errorf("bob is refused because alice is limited: %v", err)
		}
	}
	for range 3 * burst {
		resp, err := healthpb.NewHealthClient(env.Conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health check while a caller is limited = %v, %v", resp, err)
		}
	}
	if r := send(t, http.MethodGet, env.HTTP.URL+"/healthz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("/healthz = %d", r.StatusCode)
	}
}

// TestCallersWithoutTokenAreLimitedByAddress: failed authentications are
// charged to the network address, which a client cannot choose: neither a
// gRPC client nor an HTTP client (through the gateway) can forge the
// address header the gateway sets.
func TestCallersWithoutTokenAreLimitedByAddress(t *testing.T) {
	rec := &keyRecorder{inner: ratelimit.New(ratelimit.Config{Rate: 0.01, Burst: 3})}
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{RateLimiter: rec}})
	ctx := testContext(t)
	forged := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer forged", grpcapi.MetadataClientIP, "203.0.113.7")

	if _, err := env.GRPC.ListOrders(forged, &orderv1.ListOrdersRequest{UserId: "u"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("bad token = %v", err)
	}
	if rec.last() != "address:127.0.0.1" {
		t.Errorf("gRPC caller with a bad token charged to %q, want its address", rec.last())
	}
	r := send(t, http.MethodGet, env.HTTP.URL+"/v1/orders?user_id=u", map[string]string{
		"Authorization": "Bearer forged", "X-Order-Client-Ip": "203.0.113.7", "Grpc-Metadata-X-Order-Client-Ip": "203.0.113.8",
	})
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="order-service"` {
		t.Errorf("REST bad token = %d, WWW-Authenticate %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if rec.last() != "address:127.0.0.1" {
		t.Errorf("REST caller with a bad token charged to %q, want its own address", rec.last())
	}
	// The third failure from this address uses up its budget: guessing
	// tokens is throttled like anything else.
	if _, err := env.GRPC.ListOrders(forged, &orderv1.ListOrdersRequest{UserId: "u"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("third bad token = %v", err)
	}
	if _, err := env.GRPC.ListOrders(forged, &orderv1.ListOrdersRequest{UserId: "u"}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("fourth bad token = %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := env.GRPC.ListOrders(apitest.As(ctx, "customer", "carol"), &orderv1.ListOrdersRequest{UserId: "carol"}); err != nil {
		t.Fatalf("an authenticated caller from the same address: %v", err)
	}
	if rec.last() != "principal:carol" {
		t.Errorf("authenticated call charged to %q", rec.last())
	}
}

// TestAnonymousCallersAreLimitedByAddress: with authentication off every
// caller is the same anonymous principal; the address tells them apart.
func TestAnonymousCallersAreLimitedByAddress(t *testing.T) {
	rec := &keyRecorder{inner: ratelimit.New(ratelimit.Config{Rate: 100, Burst: 100})}
	env := apitest.Start(t, apitest.Options{GRPC: grpcapi.ServerConfig{Authenticator: grpcapi.AllowAnonymous{}, RateLimiter: rec}})
	if _, err := env.REST.ListOrders(testContext(t), &orderv1.ListOrdersRequest{UserId: "u"}); err != nil {
		t.Fatal(err)
	}
	if rec.last() != "address:127.0.0.1" {
		t.Errorf("anonymous caller charged to %q", rec.last())
	}
}

type httpResponse struct {
	StatusCode int
	Header     http.Header
}

func send(t *testing.T, method, url string, header map[string]string) httpResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return httpResponse{StatusCode: resp.StatusCode, Header: resp.Header}
}
