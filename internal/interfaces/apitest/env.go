package apitest

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/system"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/interfaces/httpapi"
	"github.com/acme/order-service/internal/testkit"
)

// Options adjust the environment. The zero value gives defaults with
// TokenAuthenticator.
type Options struct {
	GRPC grpcapi.ServerConfig
	HTTP httpapi.HandlerConfig
	// ClientCreds are Conn's transport credentials; nil means plaintext.
	// (With GRPC.TLS set, pass matching TLS credentials.)
	ClientCreds credentials.TransportCredentials
}

// Env is a running API edge.
type Env struct {
	Store  *Faults
	Health *health.Server
	Logs   *Logs
	// GRPCAddr is the gRPC server's address.
	GRPCAddr string
	// GRPC is a client of the gRPC server.
	GRPC orderv1.OrderServiceClient
	// Conn is GRPC's connection, for other services (health, reflection).
	Conn *grpc.ClientConn
	// HTTP serves the REST handler; REST is a client of it.
	HTTP *httptest.Server
	REST *RESTClient
}

// Start runs the environment until the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	env := &Env{Store: NewFaults(), Health: health.NewServer(), Logs: &Logs{}}
	logger := slog.New(slog.NewJSONHandler(env.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := application.NewService(
		application.Ports{Events: env.Store, Requests: env.Store, Read: env.Store, Clock: system.Clock{}, IDs: system.UUIDv7{}},
		application.CommandsConfig{Origin: application.Origin{ServiceName: "order-service", CellID: "cell-test"}, MaxAttempts: 3})
	if err != nil {
		t.Fatalf("application: %v", err)
	}
	svc := grpcapi.NewService(app)
	if opts.GRPC.Authenticator == nil {
		opts.GRPC.Authenticator = TokenAuthenticator{}
	}
	srv, err := grpcapi.NewServer(svc, opts.GRPC, logger, env.Health)
	if err != nil {
		t.Fatalf("grpc server: %v", err)
	}
	lis := serve(t, srv)
	env.GRPCAddr = lis.Addr().String()
	if opts.ClientCreds == nil {
		opts.ClientCreds = insecure.NewCredentials()
	}
	env.Conn = Dial(t, env.GRPCAddr, opts.ClientCreds)
	env.GRPC = orderv1.NewOrderServiceClient(env.Conn)
	env.HTTP = serveREST(t, lis, opts.HTTP)
	env.REST = &RESTClient{BaseURL: env.HTTP.URL, HTTP: env.HTTP.Client()}
	return env
}

// serve runs srv as the service does: on a network listener that also
// takes the REST gateway's in-process connections.
func serve(t testing.TB, srv *grpc.Server) *grpcapi.Listener {
	t.Helper()
	network, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	lis := grpcapi.NewListener(network)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("grpc serve: %v", err)
		}
	})
	return lis
}

// Dial connects a client to addr until the test ends.
func Dial(t testing.TB, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func serveREST(t testing.TB, lis *grpcapi.Listener, cfg httpapi.HandlerConfig) *httptest.Server {
	t.Helper()
	conn, err := httpapi.DialInProcess(lis)
	if err != nil {
		t.Fatalf("gateway dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h, err := httpapi.NewHandler(context.Background(), conn, cfg)
	if err != nil {
		t.Fatalf("rest handler: %v", err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// Logs collects the server's log output; safe for concurrent writes.
type Logs = testkit.Buffer
