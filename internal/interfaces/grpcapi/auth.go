package grpcapi

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
)

// Authenticator tells who is calling. It reads credentials from the incoming
// gRPC metadata in ctx (the gateway forwards the HTTP Authorization header
// there too).
type Authenticator interface {
	Authenticate(ctx context.Context) (application.Actor, error)
}

// AllowAnonymous is the Authenticator for deployments with authentication
// switched off: every caller is application.Anonymous.
type AllowAnonymous struct{}

// Authenticate implements Authenticator.
func (AllowAnonymous) Authenticate(context.Context) (application.Actor, error) {
	return application.Anonymous, nil
}

// RateLimiter hands out calls per key (see package ratelimit).
type RateLimiter interface {
	// Allow takes a call from key's budget, or says how long to wait.
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// MetadataClientIP is where the REST gateway puts the HTTP caller's address.
// It is believed only on the gateway's in-process connection.
const MetadataClientIP = "x-order-client-ip"

type actorKey struct{}

// ActorFrom returns the actor the authentication interceptor stored in ctx.
func ActorFrom(ctx context.Context) (application.Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(application.Actor)
	return a, ok
}

func withActor(ctx context.Context, a application.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// orderServicePrefix selects the methods that need a principal. Health checks
// stay open so that probes work without credentials.
var orderServicePrefix = "/" + orderv1.OrderService_ServiceDesc.ServiceName + "/"

// authInterceptor admits OrderService calls: it authenticates the caller,
// charges the call to the caller's rate limit, and stores the actor in the
// context. Callers without a valid token are charged too, by network
// address, so guessing tokens costs as much as any other call. The reason a
// credential was refused is logged, not returned: it helps operators, and
// would only help an attacker.
func authInterceptor(auth Authenticator, limiter RateLimiter, logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, orderServicePrefix) {
			return handler(ctx, req)
		}
		actor, authErr := auth.Authenticate(ctx)
		if authErr == nil {
			recordActor(ctx, actor)
		}
		if limiter != nil {
			if ok, retryAfter := limiter.Allow(rateLimitKey(ctx, actor, authErr)); !ok {
				return nil, rateLimited(retryAfter).Err()
			}
		}
		if authErr != nil {
			logger.InfoContext(ctx, "authentication failed",
				slog.String("method", info.FullMethod), slog.String("request_id", RequestIDFrom(ctx)), slog.Any("error", authErr))
			return nil, errUnauthenticated().Err()
		}
		return handler(withActor(ctx, actor), req)
	}
}

func errUnauthenticated() *status.Status {
	return newStatus(codes.Unauthenticated, "authentication required", errorInfo(ReasonUnauthenticated, nil))
}

// rateLimitKey is the principal when there is one, else the caller's
// network address (with authentication off every caller is the same
// anonymous principal, so the address is all that tells them apart).
func rateLimitKey(ctx context.Context, actor application.Actor, authErr error) string {
	if authErr == nil && actor.ID != application.Anonymous.ID {
		return "principal:" + actor.ID
	}
	return "address:" + callerAddress(ctx)
}

// callerAddress is the IP a call came from: the HTTP client's for calls
// through the REST gateway, the TCP peer's otherwise. An IPv6 caller is
// keyed by its /64, the block a single site usually gets, so that rotating
// through its addresses does not buy fresh budgets.
func callerAddress(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	raw := p.Addr.String()
	if _, viaGateway := p.Addr.(GatewayAddr); viaGateway {
		raw = incomingValue(ctx, MetadataClientIP)
	} else if host, _, err := net.SplitHostPort(raw); err == nil {
		raw = host
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return "unknown"
	}
	ip = ip.Unmap()
	if ip.Is6() {
		prefix, _ := ip.Prefix(64) // cannot fail for an IPv6 address
		return prefix.String()
	}
	return ip.String()
}
