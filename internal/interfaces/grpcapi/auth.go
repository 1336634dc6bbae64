package grpcapi

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
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

// authInterceptor authenticates OrderService calls and stores the actor in
// the context. The reason a credential was refused is logged, not returned:
// it helps operators, and would only help an attacker.
func authInterceptor(auth Authenticator, logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, orderServicePrefix) {
			return handler(ctx, req)
		}
		actor, err := auth.Authenticate(ctx)
		if err != nil {
			logger.InfoContext(ctx, "authentication failed",
				slog.String("method", info.FullMethod), slog.String("request_id", RequestIDFrom(ctx)), slog.Any("error", err))
			return nil, errUnauthenticated().Err()
		}
		return handler(withActor(ctx, actor), req)
	}
}

func errUnauthenticated() *status.Status {
	return newStatus(codes.Unauthenticated, "authentication required", errorInfo(ReasonUnauthenticated, nil))
}
