package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/acme/order-service/api/openapi"
	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// Defaults of HandlerConfig.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultReadyTimeout = 2 * time.Second
)

// HandlerConfig tunes the REST handler. Zero values take the defaults.
type HandlerConfig struct {
	// Ready reports whether the service can take traffic (database reachable,
	// …); nil means always ready. Its error text is shown on /readyz, so it
	// should name the failing dependency without secrets.
	Ready func(ctx context.Context) error
	// ReadyTimeout bounds one readiness check.
	ReadyTimeout time.Duration
	// OpenAPI is the document served at /openapi.json; nil serves the
	// embedded one of package openapi.
	OpenAPI []byte
	// MaxBodyBytes is the largest request body; larger ones get 413.
	MaxBodyBytes int64
	// Info adds informational sections to /readyz's body (the outbox
	// relay's state): they describe, they never make the service unready.
	// Nil: none.
	Info func() map[string]any
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// Observer, when set, hears about every request (by route pattern).
	Observer RequestObserver
}

func (c HandlerConfig) withDefaults() HandlerConfig {
	if c.Ready == nil {
		c.Ready = func(context.Context) error { return nil }
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.OpenAPI == nil {
		c.OpenAPI = openapi.JSON()
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

// NewHandler returns the REST handler. conn is a client connection to the
// gRPC server (see Dial); ctx bounds the gateway's registration only.
func NewHandler(ctx context.Context, conn *grpc.ClientConn, cfg HandlerConfig) (http.Handler, error) {
	cfg = cfg.withDefaults()
	opts := gatewayOptions()
	if cfg.Observer != nil {
		opts = append(opts, runtime.WithMiddlewares(recordGatewayRoute))
	}
	gw := runtime.NewServeMux(opts...)
	if err := orderv1.RegisterOrderServiceHandler(ctx, gw, conn); err != nil {
		return nil, fmt.Errorf("register order service gateway: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", checkBody(gw, cfg.MaxBodyBytes))
	mux.HandleFunc("GET /healthz", liveness)
	mux.Handle("GET /readyz", readiness(cfg.Ready, cfg.ReadyTimeout, cfg.Info))
	mux.Handle("GET /openapi.json", document(cfg.OpenAPI))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Observer != nil {
		return observeRequests(mux, cfg.Observer), nil
	}
	return mux, nil
}
