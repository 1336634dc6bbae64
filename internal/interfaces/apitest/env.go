package apitest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/system"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/interfaces/httpapi"
)

// Options adjust the environment. The zero value gives defaults with
// TokenAuthenticator.
type Options struct {
	GRPC grpcapi.ServerConfig
	HTTP httpapi.HandlerConfig
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
	commands := application.NewCommands(env.Store, env.Store, system.Clock{}, system.UUIDv7{},
		application.CommandsConfig{Origin: application.Origin{ServiceName: "order-service", CellID: "cell-test"}, MaxAttempts: 3})
	svc := grpcapi.NewService(commands, application.NewQueries(env.Store))
	if opts.GRPC.Authenticator == nil {
		opts.GRPC.Authenticator = TokenAuthenticator{}
	}
	srv, err := grpcapi.NewServer(svc, opts.GRPC, logger, env.Health)
	if err != nil {
		t.Fatalf("grpc server: %v", err)
	}
	env.GRPCAddr = serve(t, srv)
	env.Conn = dial(t, env.GRPCAddr)
	env.GRPC = orderv1.NewOrderServiceClient(env.Conn)
	env.HTTP = serveREST(t, env.GRPCAddr, opts.HTTP)
	env.REST = &RESTClient{BaseURL: env.HTTP.URL, HTTP: env.HTTP.Client()}
	return env
}

func serve(t testing.TB, srv *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("grpc serve: %v", err)
		}
	})
	return lis.Addr().String()
}

func dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func serveREST(t testing.TB, grpcAddr string, cfg httpapi.HandlerConfig) *httptest.Server {
	t.Helper()
	conn, err := httpapi.Dial(grpcAddr)
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
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
