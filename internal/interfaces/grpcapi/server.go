package grpcapi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/settings"
)

// Defaults of ServerConfig.
const (
	DefaultTimeout              = 10 * time.Second
	DefaultMaxTimeout           = 30 * time.Second
	DefaultMaxRecvMsgSize       = 1 << 20
	DefaultMaxConcurrentStreams = 256
	DefaultMaxConnectionIdle    = 5 * time.Minute
	DefaultMaxConnectionAge     = 30 * time.Minute
	DefaultKeepaliveTime        = 2 * time.Minute
	DefaultKeepaliveTimeout     = 20 * time.Second
)

// keepaliveMinTime is how often clients may ping; more often earns a GOAWAY.
const keepaliveMinTime = 10 * time.Second

// Bounds of ServerConfig.
const (
	MinMaxRecvMsgSize       = 4 << 10
	MaxMaxRecvMsgSize       = 64 << 20
	MaxMaxConcurrentStreams = 100_000
)

// ServerConfig tunes the gRPC server. Zero values take the values of
// DefaultServerConfig.
type ServerConfig struct {
	// Authenticator identifies callers; required (AllowAnonymous switches
	// authentication off explicitly).
	Authenticator Authenticator
	// RateLimiter bounds the calls per principal (per network address for
	// callers without one); nil means unlimited. Health checks and
	// reflection are never limited.
	RateLimiter RateLimiter
	// TLS, when set, makes network clients speak TLS (and present a client
	// certificate if it sets ClientAuth; see LoadServerTLS). The REST
	// gateway's in-process connections need none.
	TLS *tls.Config
	// DefaultTimeout is the deadline of calls whose client set none.
	DefaultTimeout time.Duration
	// MaxTimeout caps the deadline a client may ask for.
	MaxTimeout time.Duration
	// MaxRecvMsgSize is the largest request in bytes; larger ones fail with
	// RESOURCE_EXHAUSTED before they are decoded.
	MaxRecvMsgSize int
	// MaxConcurrentStreams bounds concurrent calls per connection.
	MaxConcurrentStreams uint32
	// MaxConnectionIdle closes connections without calls for this long.
	MaxConnectionIdle time.Duration
	// MaxConnectionAge recycles connections so that load spreads over new
	// instances; in-flight calls get MaxTimeout to finish.
	MaxConnectionAge time.Duration
	// KeepaliveTime and KeepaliveTimeout detect dead clients.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration

	// StatsHandler sees every call before the interceptors do: tracing
	// (otelgrpc), which puts the call's span into its context. Nil: none.
	StatsHandler stats.Handler
	// MetricsUnary and MetricsStream run outermost, around recovery, so
	// that they see the final code of every call, panics included. Nil:
	// none.
	MetricsUnary  grpc.UnaryServerInterceptor
	MetricsStream grpc.StreamServerInterceptor
}

// DefaultServerConfig is the configuration zero fields fall back to (no
// authenticator: that one has no default).
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		DefaultTimeout: DefaultTimeout, MaxTimeout: DefaultMaxTimeout,
		MaxRecvMsgSize: DefaultMaxRecvMsgSize, MaxConcurrentStreams: DefaultMaxConcurrentStreams,
		MaxConnectionIdle: DefaultMaxConnectionIdle, MaxConnectionAge: DefaultMaxConnectionAge,
		KeepaliveTime: DefaultKeepaliveTime, KeepaliveTimeout: DefaultKeepaliveTimeout,
	}
}

// Validate refuses settings no deployment means: negative durations or
// sizes, a message limit outside MinMaxRecvMsgSize..MaxMaxRecvMsgSize, more
// than MaxMaxConcurrentStreams streams, a default timeout above the maximum
// (zero fields count as their defaults). It does not look at the
// Authenticator, which NewServer requires.
func (c ServerConfig) Validate() error {
	var errs []error
	errs = append(errs, settings.NegativeDurations(
		settings.Duration{Name: "default timeout", Value: c.DefaultTimeout}, settings.Duration{Name: "max timeout", Value: c.MaxTimeout},
		settings.Duration{Name: "max connection idle", Value: c.MaxConnectionIdle}, settings.Duration{Name: "max connection age", Value: c.MaxConnectionAge},
		settings.Duration{Name: "keepalive time", Value: c.KeepaliveTime}, settings.Duration{Name: "keepalive timeout", Value: c.KeepaliveTimeout},
	)...)
	if n := c.MaxRecvMsgSize; n != 0 && (n < MinMaxRecvMsgSize || n > MaxMaxRecvMsgSize) {
		errs = append(errs, fmt.Errorf("max message size %d: want %d to %d bytes (0 for the default)", n, MinMaxRecvMsgSize, MaxMaxRecvMsgSize))
	}
	if c.MaxConcurrentStreams > MaxMaxConcurrentStreams {
		errs = append(errs, fmt.Errorf("max concurrent streams %d: want at most %d", c.MaxConcurrentStreams, MaxMaxConcurrentStreams))
	}
	if d := c.withDefaults(); d.DefaultTimeout > d.MaxTimeout {
		errs = append(errs, fmt.Errorf("default timeout %s is above max timeout %s", d.DefaultTimeout, d.MaxTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("grpc server config: %w", err)
	}
	return nil
}

func (c ServerConfig) withDefaults() ServerConfig {
	d := DefaultServerConfig()
	setDefault(&c.DefaultTimeout, d.DefaultTimeout)
	setDefault(&c.MaxTimeout, d.MaxTimeout)
	setDefault(&c.MaxRecvMsgSize, d.MaxRecvMsgSize)
	setDefault(&c.MaxConcurrentStreams, d.MaxConcurrentStreams)
	setDefault(&c.MaxConnectionIdle, d.MaxConnectionIdle)
	setDefault(&c.MaxConnectionAge, d.MaxConnectionAge)
	setDefault(&c.KeepaliveTime, d.KeepaliveTime)
	setDefault(&c.KeepaliveTimeout, d.KeepaliveTimeout)
	return c
}

func setDefault[T int | uint32 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// NewServer builds the gRPC server: the OrderService behind the interceptor
// chain, the standard health service (healthSrv; a fresh one reporting
// SERVING when nil) and server reflection, which grpcurl needs to call the
// service without the proto files. A nil logger means slog.Default().
func NewServer(svc *Service, cfg ServerConfig, logger *slog.Logger, healthSrv *health.Server) (*grpc.Server, error) {
	if cfg.Authenticator == nil {
		return nil, errors.New("grpc server: no authenticator configured (use AllowAnonymous to switch authentication off)")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.withDefaults()
	chain, err := unaryChain(cfg, logger)
	if err != nil {
		return nil, err
	}
	streams := []grpc.StreamServerInterceptor{recovery.StreamServerInterceptor(recoveryHandler(logger))}
	if cfg.MetricsUnary != nil {
		chain = append([]grpc.UnaryServerInterceptor{cfg.MetricsUnary}, chain...)
	}
	if cfg.MetricsStream != nil {
		streams = append([]grpc.StreamServerInterceptor{cfg.MetricsStream}, streams...)
	}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(chain...),
		grpc.ChainStreamInterceptor(streams...),
		// The codec and decodingService decode requests and apply
		// MaxRecvMsgSize themselves, answering failures with details.
		grpc.MaxRecvMsgSize(transportRecvLimit(cfg.MaxRecvMsgSize)),
		grpc.ForceServerCodecV2(newCodec()),
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: cfg.MaxConnectionIdle, MaxConnectionAge: cfg.MaxConnectionAge,
			MaxConnectionAgeGrace: cfg.MaxTimeout, Time: cfg.KeepaliveTime, Timeout: cfg.KeepaliveTimeout,
		}),
	}
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(newServerCredentials(cfg.TLS)))
	}
	if cfg.StatsHandler != nil {
		opts = append(opts, grpc.StatsHandler(cfg.StatsHandler))
	}
	srv := grpc.NewServer(opts...)
	if healthSrv == nil {
		healthSrv = health.NewServer()
	}
	srv.RegisterService(decodingService(&orderv1.OrderService_ServiceDesc, cfg.MaxRecvMsgSize), svc)
	healthpb.RegisterHealthServer(srv, healthSrv)
	reflection.Register(srv)
	return srv, nil
}

// unaryChain lists the interceptors outermost first (metrics, when
// configured, go in front of them all). Recovery wraps
// everything so a panic anywhere becomes INTERNAL; logging sees the final
// code and principal; the deadline covers authentication (which may call
// out, e.g. for keys); the rate limit is charged once the caller is known;
// validation runs only for authenticated callers; error mapping sits
// innermost so that every handler error leaves as a status with details.
func unaryChain(cfg ServerConfig, logger *slog.Logger) ([]grpc.UnaryServerInterceptor, error) {
	validate, err := validationInterceptor(logger)
	if err != nil {
		return nil, fmt.Errorf("grpc server: %w", err)
	}
	return []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(recoveryHandler(logger)),
		loggingInterceptor(logger),
		deadlineInterceptor(cfg.DefaultTimeout, cfg.MaxTimeout),
		authInterceptor(cfg.Authenticator, cfg.RateLimiter, logger),
		validate,
		errorMappingInterceptor(logger),
	}, nil
}
