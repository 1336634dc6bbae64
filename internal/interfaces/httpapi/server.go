package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// Defaults of ServerConfig.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 40 * time.Second // above grpcapi.DefaultMaxTimeout, so a call may use all of its deadline
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
)

// ServerConfig tunes the HTTP server. Zero values take the defaults.
type ServerConfig struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// Logger receives the server's own errors (TLS handshakes, panics in
	// handlers, …); nil uses slog.Default.
	Logger *slog.Logger
}

// NewServer returns an *http.Server for h with every timeout set: a server
// without them can be held open by slow clients until it runs out of
// descriptors. The caller starts it and shuts it down.
func NewServer(addr string, h http.Handler, cfg ServerConfig) *http.Server {
	setDefault(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&cfg.ReadTimeout, DefaultReadTimeout)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.MaxHeaderBytes, DefaultMaxHeaderBytes)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &http.Server{
		Addr: addr, Handler: h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// gatewayMaxRecvMsgSize lets the gateway read the largest responses the
// service makes (a page of 1000 orders of 100 items) instead of gRPC's 4 MiB
// default, which would turn a big page into RESOURCE_EXHAUSTED.
const gatewayMaxRecvMsgSize = 64 << 20

// Dial opens the gateway's connection to the gRPC server at target without
// TLS. grpc.NewClient connects lazily, so the server need not be listening
// yet. The service itself uses DialInProcess.
func Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(gatewayMaxRecvMsgSize)),
	}, opts...)
	return grpc.NewClient(target, opts...)
}

// DialInProcess connects the gateway to the gRPC server through lis's
// in-process connections: the same server and interceptors as network
// clients, no TCP hop, no client certificate needed under mutual TLS, and
// the edge can trust the caller address the gateway reports.
func DialInProcess(lis *grpcapi.Listener, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return Dial("passthrough:///order-service", append([]grpc.DialOption{grpc.WithContextDialer(lis.DialGateway)}, opts...)...)
}
