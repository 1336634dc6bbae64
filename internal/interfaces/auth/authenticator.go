package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/metadata"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// Defaults of Config.
const (
	DefaultClockSkew  = 30 * time.Second
	DefaultStaffScope = "orders:staff"
	DefaultAdminScope = "orders:admin"
)

// DefaultRoleClaims are the claims the role is read from: an array of role
// names ("roles") or an OAuth space-separated scope string ("scope").
var DefaultRoleClaims = []string{"roles", "scope"}

// MaxTokenBytes bounds the credential this edge is willing to parse.
// Identity providers' access tokens are a few hundred bytes to a few KiB.
const MaxTokenBytes = 8 << 10

// Config says which tokens to accept.
type Config struct {
	// Keys verifies signatures; required.
	Keys KeySource
	// Issuer, when set, must equal the token's iss claim.
	Issuer string
	// Audience, when set, must be among the token's aud values.
	Audience string
	// RoleClaims are the claims holding role names or scopes; nil means
	// DefaultRoleClaims. Each may be a string of space-separated values or
	// an array of strings.
	RoleClaims []string
	// StaffScope and AdminScope are the values that grant application.RoleStaff
	// and RoleAdmin; anything else is a customer.
	StaffScope, AdminScope string
	// ClockSkew is the leeway on exp, nbf and iat. Zero means no leeway; use
	// DefaultClockSkew unless there is a reason not to.
	ClockSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Authenticator checks the bearer token in the authorization metadata of a
// gRPC call (the REST gateway forwards the Authorization header there). It
// implements grpcapi.Authenticator.
type Authenticator struct {
	keys       KeySource
	parser     *jwt.Parser
	roleClaims []string
	staffScope string
	adminScope string
}

// New returns an Authenticator for cfg.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Keys == nil {
		return nil, errors.New("auth: no key source configured")
	}
	if cfg.RoleClaims == nil {
		cfg.RoleClaims = DefaultRoleClaims
	}
	if cfg.StaffScope == "" {
		cfg.StaffScope = DefaultStaffScope
	}
	if cfg.AdminScope == "" {
		cfg.AdminScope = DefaultAdminScope
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(cfg.Keys.Algorithms()),
		jwt.WithLeeway(cfg.ClockSkew),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Authenticator{
		keys: cfg.Keys, parser: jwt.NewParser(opts...),
		roleClaims: cfg.RoleClaims, staffScope: cfg.StaffScope, adminScope: cfg.AdminScope,
	}, nil
}

// Errors of Authenticate. Callers only ever see UNAUTHENTICATED; these reach
// the log.
var (
	ErrNoCredentials = errors.New("no bearer token")
	ErrMalformed     = errors.New("malformed authorization")
)

// Authenticate implements grpcapi.Authenticator.
func (a *Authenticator) Authenticate(ctx context.Context) (application.Actor, error) {
	values := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch {
	case len(values) == 0:
		return application.Actor{}, ErrNoCredentials
	case len(values) > 1: // which one would a proxy in front of us have checked?
		return application.Actor{}, fmt.Errorf("%w: %d authorization values", ErrMalformed, len(values))
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return application.Actor{}, fmt.Errorf("%w: not a bearer token", ErrMalformed)
	}
	return a.Verify(ctx, strings.TrimSpace(token))
}

// Verify checks one token and returns the principal it names.
func (a *Authenticator) Verify(ctx context.Context, token string) (application.Actor, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return application.Actor{}, fmt.Errorf("%w: token of %d bytes", ErrMalformed, len(token))
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if _, critical := t.Header["crit"]; critical {
			return nil, errors.New("critical header extensions are not supported")
		}
		kid, _ := t.Header["kid"].(string)
		return a.keys.Key(ctx, kid, t.Method.Alg())
	})
	if err != nil {
		return application.Actor{}, err
	}
	sub, err := claims.GetSubject()
	if err != nil {
		return application.Actor{}, err
	}
	if _, err := order.NewUserID(sub); err != nil {
		return application.Actor{}, fmt.Errorf("token subject: %w", err)
	}
	if sub == application.Anonymous.ID {
		return application.Actor{}, fmt.Errorf("token subject %q is reserved", sub)
	}
	return application.Actor{ID: sub, Role: a.role(claims)}, nil
}

// role grants the most powerful role any of the role claims names.
func (a *Authenticator) role(claims jwt.MapClaims) application.Role {
	var granted []string
	for _, name := range a.roleClaims {
		switch v := claims[name].(type) {
		case string:
			granted = append(granted, strings.Fields(v)...)
		case []any:
			for _, item := range v {
				if s, ok := item.(string); ok {
					granted = append(granted, s)
				}
			}
		}
	}
	switch {
	case slices.Contains(granted, a.adminScope):
		return application.RoleAdmin
	case slices.Contains(granted, a.staffScope):
		return application.RoleStaff
	}
	return application.RoleCustomer
}

// Close releases the key source's resources (a JWKS refresh in flight).
func (a *Authenticator) Close() error {
	if c, ok := a.keys.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
