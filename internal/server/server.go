// Package server is the composition root behind cmd/server: it builds the
// adapters the configuration asks for (PostgreSQL or embedded SQLite, Kafka
// or the embedded broker), the application, the gRPC and REST servers and
// the outbox relay, runs them, and shuts them down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/system"
	"github.com/acme/order-service/internal/interfaces/auth"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
	"github.com/acme/order-service/internal/interfaces/httpapi"
	"github.com/acme/order-service/internal/interfaces/ratelimit"
	"github.com/acme/order-service/internal/telemetry"
)

// Run starts the service and blocks until ctx ends (SIGINT/SIGTERM) or a
// server fails, then shuts down: stop accepting, finish in-flight requests
// within the shutdown timeout, let the relay flush, close the connections.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	return RunWith(ctx, cfg, logger, Options{})
}

// RunWith is Run with hooks (see Options).
func RunWith(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) error {
	obs, err := newObservability(ctx, cfg, opts, logger)
	if err != nil {
		return err
	}
	defer obs.close(logger)
	store, err := openStorage(ctx, cfg, logger, obs)
	if err != nil {
		return err
	}
	defer store.close()
	msg, err := startMessaging(cfg, store.source, logger, obs)
	if err != nil {
		return err
	}
	defer msg.close() // the relay checks the topic once it runs: no start-up wait for Kafka

	api, err := newAPI(ctx, cfg, store, msg, logger, obs)
	if err != nil {
		return err
	}
	defer api.closeAuth()
	return run(ctx, cfg, api, store, msg, logger, obs)
}

// api is the network face of the service.
type api struct {
	health   *health.Server
	grpc     *grpc.Server
	grpcLis  *grpcapi.Listener // the network, plus the REST gateway in process
	http     *http.Server
	httpLis  net.Listener
	admin    *http.Server // nil without ADMIN_ADDR
	adminLis net.Listener
	loopback *grpc.ClientConn // the REST gateway's connection to grpc
	// closeAuth stops the authenticator's background work (JWKS refresh).
	closeAuth func()
}

func newAPI(ctx context.Context, cfg config.Config, store *storage, msg *messaging, logger *slog.Logger, obs *observability) (*api, error) {
	// The middleware gives each handler a span between the RPC's and the
	// store's (with tracing on) and names the command for the Observer's
	// metrics.
	tp := obs.tracerProvider()
	snapshots, err := telemetry.NewSnapshotObserver(obs.metrics)
	if err != nil {
		return nil, fmt.Errorf("snapshot metrics: %w", err)
	}
	app, err := application.NewService(application.Ports{
		Events: store.orders, Requests: store.orders, Read: store.orders, Clock: system.Clock{}, IDs: system.UUIDv7{},
	}, application.CommandsConfig{
		Origin:          application.Origin{ServiceName: cfg.ServiceName, CellID: cfg.CellID},
		DefaultCurrency: order.Currency(cfg.DefaultCurrency),
		MaxAttempts:     cfg.CommandMaxAttempts,
		Observer:        telemetry.NewObserver(obs.metrics),
		Snapshots: application.SnapshotConfig{
			Store: store.snapshots, Every: cfg.SnapshotEvery, Observer: snapshots, Logger: logger,
		},
	}, telemetry.Handlers(tp, obs.metrics))
	if err != nil {
		return nil, err
	}
	service := grpcapi.NewService(app)
	a := &api{health: health.NewServer()}
	security, err := newSecurity(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	a.closeAuth = security.close
	security.server.DefaultTimeout, security.server.MaxTimeout = cfg.RequestTimeout, cfg.MaxRequestTimeout
	security.server.MaxRecvMsgSize, security.server.MaxConcurrentStreams = cfg.MaxMessageBytes, cfg.MaxConcurrentStreams
	security.server.MetricsUnary = obs.metrics.GRPCUnaryInterceptor()
	security.server.MetricsStream = obs.metrics.GRPCStreamInterceptor()
	if tp != nil {
		security.server.StatsHandler = telemetry.GRPCStatsHandler(tp, orderv1.OrderService_ServiceDesc.ServiceName)
	}
	grpcSrv, err := grpcapi.NewServer(service, security.server, logger, a.health)
	if err != nil {
		a.closeAuth()
		return nil, err
	}
	obs.metrics.InitializeGRPC(grpcSrv)
	a.grpc = grpcSrv
	grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		a.closeAuth()
		return nil, fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	a.grpcLis = grpcapi.NewListener(grpcLis)
	if a.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		a.grpcLis.Close()
		a.closeAuth()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	if err := a.buildGateway(ctx, cfg, store, msg, logger, obs); err != nil {
		a.grpcLis.Close()
		a.httpLis.Close()
		a.closeAuth()
		return nil, err
	}
	if err := a.buildAdmin(cfg, store, msg, logger, obs); err != nil {
		a.grpcLis.Close()
		a.httpLis.Close()
		a.loopback.Close()
		a.closeAuth()
		return nil, err
	}
	return a, nil
}

// security is the configured authentication, rate limit and TLS, as the
// gRPC server takes them.
type security struct {
	server grpcapi.ServerConfig
	close  func()
}

// newSecurity builds the authenticator (JWT, or anonymous with a loud
// warning when AUTH_MODE=off), the per-principal rate limiter and the gRPC
// port's TLS from the configuration.
func newSecurity(ctx context.Context, cfg config.Config, logger *slog.Logger) (security, error) {
	s := security{close: func() {}}
	if cfg.RateLimitRPS > 0 {
		s.server.RateLimiter = ratelimit.New(ratelimit.Config{Rate: cfg.RateLimitRPS, Burst: cfg.RateLimitBurst})
	} else {
		logger.Warn("rate limiting is OFF (RATE_LIMIT_RPS=0)")
	}
	if cfg.TLSEnabled() {
		tlsConfig, err := grpcapi.LoadServerTLS(cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSClientCAFile)
		if err != nil {
			return s, fmt.Errorf("TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE: %w", err)
		}
		s.server.TLS = tlsConfig
		logger.Info("gRPC TLS on", "client_certificates_required", cfg.TLSClientCAFile != "")
	}
	if !cfg.AuthEnabled() {
		logger.Warn("authentication is OFF: every caller acts as the anonymous administrator")
		s.server.Authenticator = grpcapi.AllowAnonymous{}
		return s, nil
	}
	keys, err := newKeySource(ctx, cfg, logger)
	if err != nil {
		return s, err
	}
	authn, err := auth.New(auth.Config{
		Keys: keys, Issuer: cfg.AuthIssuer, Audience: cfg.AuthAudience, RoleClaims: cfg.AuthRoleClaims,
		StaffScope: cfg.AuthStaffScope, AdminScope: cfg.AuthAdminScope, ClockSkew: cfg.AuthClockSkew,
	})
	if err != nil {
		return s, err
	}
	s.server.Authenticator, s.close = authn, func() { _ = authn.Close() }
	logger.Info("authentication: bearer JWT required", "issuer", cfg.AuthIssuer, "audience", cfg.AuthAudience,
		"algorithms", keys.Algorithms(), "role_claims", cfg.AuthRoleClaims)
	return s, nil
}

// newKeySource loads the keys tokens are verified with.
func newKeySource(ctx context.Context, cfg config.Config, logger *slog.Logger) (auth.KeySource, error) {
	switch {
	case cfg.AuthHS256Secret != "":
		logger.Warn("authentication uses the HS256 shared secret AUTH_HS256_SECRET: for development only, use AUTH_JWKS_URL in production")
		keys, err := auth.NewHS256Secret([]byte(cfg.AuthHS256Secret.Reveal()))
		if err != nil {
			return nil, fmt.Errorf("AUTH_HS256_SECRET: %w", err)
		}
		return keys, nil
	case cfg.AuthJWKSFile != "":
		keys, err := auth.NewJWKS(ctx, auth.JWKSConfig{Fetch: auth.JWKSFile(cfg.AuthJWKSFile), Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("AUTH_JWKS_FILE: %w", err)
		}
		return keys, nil
	default:
		keys, err := auth.NewJWKS(ctx, auth.JWKSConfig{Fetch: auth.JWKSURL(cfg.AuthJWKSURL, nil), Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("AUTH_JWKS_URL: %w", err)
		}
		return keys, nil
	}
}

// buildGateway connects the REST gateway to the gRPC server through an
// in-process connection, so that REST calls run through exactly the same
// interceptors (and need no client certificate under mutual TLS).
func (a *api) buildGateway(ctx context.Context, cfg config.Config, store *storage, msg *messaging, logger *slog.Logger, obs *observability) error {
	conn, err := httpapi.DialInProcess(a.grpcLis)
	if err != nil {
		return fmt.Errorf("gateway connection: %w", err)
	}
	handler, err := httpapi.NewHandler(ctx, conn, httpapi.HandlerConfig{
		Ready: store.ready, MaxBodyBytes: int64(cfg.MaxMessageBytes),
		// The relay's state is shown, never judged: a broker outage must
		// not take the service out of rotation, commands do not need Kafka.
		Info: func() map[string]any {
			return map[string]any{"relay": telemetry.NewRelayReport(msg.relay.Status(), false)}
		},
		Metrics: obs.metrics.Handler(), Observer: obs.metrics,
	})
	if err != nil {
		conn.Close()
		return err
	}
	a.loopback = conn
	a.http = httpapi.NewServer(cfg.HTTPAddr, handler, httpapi.ServerConfig{Logger: logger})
	return nil
}

// buildAdmin listens on ADMIN_ADDR, when set, for profiling, metrics and
// the relay's detailed status.
func (a *api) buildAdmin(cfg config.Config, store *storage, msg *messaging, logger *slog.Logger, obs *observability) error {
	if cfg.AdminAddr == "" {
		return nil
	}
	lis, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen for the admin server on %s: %w", cfg.AdminAddr, err)
	}
	if !cfg.AdminOnLoopback() {
		logger.Warn("ADMIN_ADDR is not a loopback address: profiling, metrics and relay details are served to the network "+
			"without authentication; keep the port firewalled to operators", "addr", cfg.AdminAddr)
	}
	a.adminLis = lis
	admin := httpapi.AdminConfig{
		Metrics: obs.metrics.Handler(),
		Relay:   func() any { return telemetry.NewRelayReport(msg.relay.Status(), true) },
	}
	if store.consistency != nil {
		admin.Consistency = func(ctx context.Context) (any, bool, error) {
			report, err := store.consistency(ctx)
			return report, report.Clean, err
		}
	}
	a.admin = httpapi.NewServer(cfg.AdminAddr, httpapi.NewAdminHandler(admin),
		httpapi.ServerConfig{Logger: logger, WriteTimeout: httpapi.AdminProfileWriteTimeout})
	return nil
}

// run serves until ctx ends or something fails, then shuts down in order.
func run(ctx context.Context, cfg config.Config, a *api, store *storage, msg *messaging, logger *slog.Logger, obs *observability) error {
	failed := make(chan error, 4)
	var servers, background sync.WaitGroup
	servers.Go(func() {
		if err := a.grpc.Serve(a.grpcLis); err != nil {
			failed <- fmt.Errorf("grpc server: %w", err)
		}
	})
	servers.Go(func() {
		if err := a.http.Serve(a.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("http server: %w", err)
		}
	})
	if a.admin != nil {
		servers.Go(func() {
			if err := a.admin.Serve(a.adminLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("admin server: %w", err)
			}
		})
	}
	// The relay and housekeeping outlive the servers so that the relay can
	// publish what the last requests committed.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	background.Go(func() {
		if err := msg.runRelay(bgCtx); err != nil {
			failed <- err
		}
	})
	background.Go(func() { watchReadiness(bgCtx, a.health, store.ready, obs.metrics.SetReady, logger) })
	background.Go(func() { purgeRequests(bgCtx, store.orders, cfg.IdempotencyRetention, logger) })
	addrs := []any{"grpc", a.grpcLis.Addr().String(), "http", a.httpLis.Addr().String()}
	if a.adminLis != nil {
		addrs = append(addrs, "admin", a.adminLis.Addr().String())
	}
	logger.Info("order service ready", addrs...)

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case runErr = <-failed:
		logger.Error("shutting down after a failure", "error", runErr)
	}
	a.shutdown(cfg.ShutdownTimeout, logger)
	servers.Wait()
	stopBackground()
	background.Wait()
	logger.Info("stopped")
	return runErr
}

// shutdown stops accepting, then waits up to timeout for in-flight requests.
func (a *api) shutdown(timeout time.Duration, logger *slog.Logger) {
	a.health.Shutdown() // NOT_SERVING: load balancers stop sending new calls
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := a.http.Shutdown(ctx); err != nil {
		logger.Warn("http shutdown incomplete", "error", err)
	}
	if a.admin != nil {
		// Operators' requests (a running profile) do not hold up the stop.
		_ = a.admin.Close()
	}
	stopped := make(chan struct{})
	go func() {
		a.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		logger.Warn("grpc shutdown timed out; cancelling the remaining calls")
		a.grpc.Stop()
	}
	a.loopback.Close()
}

// watchReadiness keeps the gRPC health status (and report: the readiness
// metric) in step with the database: SERVING only while it is reachable and
// migrated.
func watchReadiness(ctx context.Context, h *health.Server, ready func(context.Context) error, report func(bool), logger *slog.Logger) {
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	serving := healthpb.HealthCheckResponse_UNKNOWN
	for {
		checkCtx, cancel := context.WithTimeout(ctx, time.Second)
		err := ready(checkCtx)
		cancel()
		next := healthpb.HealthCheckResponse_SERVING
		if err != nil {
			next = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if ctx.Err() == nil {
			report(err == nil)
		}
		if next != serving && ctx.Err() == nil {
			h.SetServingStatus("", next)
			h.SetServingStatus("order.v1.OrderService", next)
			logger.Info("health changed", "status", next.String(), "error", err)
			serving = next
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// purgeRequests deletes idempotency records older than the retention, a few
// times per retention period.
func purgeRequests(ctx context.Context, requests application.IdempotencyStore, retention time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(min(retention/4, 10*time.Minute))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		n, err := requests.DeleteRequestsBefore(ctx, time.Now().Add(-retention))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("idempotency cleanup failed", "error", err)
		case n > 0:
			logger.Info("idempotency records expired", "deleted", n)
		}
	}
}
