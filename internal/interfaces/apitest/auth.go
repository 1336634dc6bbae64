package apitest

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/acme/order-service/internal/application"
)

// TokenAuthenticator reads test credentials from the authorization metadata:
// "Bearer customer:<id>", "Bearer staff:<id>" or "Bearer admin:<id>". No
// credentials means application.Anonymous; anything else is refused.
type TokenAuthenticator struct{}

// Authenticate implements grpcapi.Authenticator.
func (TokenAuthenticator) Authenticate(ctx context.Context) (application.Actor, error) {
	vs := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vs) == 0 {
		return application.Anonymous, nil
	}
	role, id, ok := strings.Cut(strings.TrimPrefix(vs[0], "Bearer "), ":")
	if !ok || id == "" {
		return application.Actor{}, errors.New("malformed test token")
	}
	switch role {
	case "customer":
		return application.Actor{ID: id, Role: application.RoleCustomer}, nil
	case "staff":
		return application.Actor{ID: id, Role: application.RoleStaff}, nil
	case "admin":
		return application.Actor{ID: id, Role: application.RoleAdmin}, nil
	}
	return application.Actor{}, errors.New("unknown test role " + role)
}

// As returns ctx with credentials for TokenAuthenticator, e.g.
// As(ctx, "customer", "user-1").
func As(ctx context.Context, role, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+role+":"+id)
}
