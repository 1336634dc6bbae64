package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/metadata"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/interfaces/auth"
)

var devSecret = []byte(strings.Repeat("d", 32))

func hs256(t *testing.T, cfg auth.Config) *auth.Authenticator {
	t.Helper()
	keys, err := auth.NewHS256Secret(devSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keys = keys
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func hsToken(c jwt.MapClaims) string {
	return must(jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(devSecret))
}

func TestShortSecretRefused(t *testing.T) {
	if _, err := auth.NewHS256Secret([]byte("31 bytes is not quite enough!!")); err == nil {
		t.Fatal("a short HS256 secret was accepted")
	}
}

func TestClockSkew(t *testing.T) {
	now := time.Now()
	a := hs256(t, auth.Config{Issuer: testIssuer, Audience: testAudience, ClockSkew: 30 * time.Second, Now: func() time.Time { return now }})
	at := func(exp, nbf, iat time.Time) string {
		c := claims("alice")
		c["exp"], c["nbf"], c["iat"] = exp.Unix(), nbf.Unix(), iat.Unix()
		return hsToken(c)
	}
	hour := time.Hour
	for name, tc := range map[string]struct {
		token string
		ok    bool
	}{
		"valid":                         {at(now.Add(hour), now, now), true},
		"expired 20s ago, within skew":  {at(now.Add(-20*time.Second), now.Add(-hour), now.Add(-hour)), true},
		"expired 40s ago":               {at(now.Add(-40*time.Second), now.Add(-hour), now.Add(-hour)), false},
		"valid in 20s, within skew":     {at(now.Add(hour), now.Add(20*time.Second), now), true},
		"valid in 40s":                  {at(now.Add(hour), now.Add(40*time.Second), now), false},
		"issued 40s in the future":      {at(now.Add(hour), now, now.Add(40*time.Second)), false},
		"issued 20s ahead, within skew": {at(now.Add(hour), now, now.Add(20*time.Second)), true},
	} {
		if _, err := a.Authenticate(incoming(tc.token)); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func TestClaimsRequired(t *testing.T) {
	a := hs256(t, auth.Config{Issuer: testIssuer, Audience: testAudience})
	without := func(claim string) jwt.MapClaims {
		c := claims("alice")
		delete(c, claim)
		return c
	}
	withValue := func(claim string, v any) jwt.MapClaims {
		c := claims("alice")
		c[claim] = v
		return c
	}
	for name, c := range map[string]jwt.MapClaims{
		"no exp":               without("exp"),
		"no iss":               without("iss"),
		"no aud":               without("aud"),
		"no sub":               without("sub"),
		"wrong issuer":         withValue("iss", "https://evil.test/"),
		"wrong audience":       withValue("aud", []string{"billing", "shipping"}),
		"reserved subject":     withValue("sub", application.Anonymous.ID),
		"subject with newline": withValue("sub", "alice\nlevel=admin"),
		"overlong subject":     withValue("sub", strings.Repeat("a", 300)),
	} {
		if actor, err := a.Authenticate(incoming(hsToken(c))); err == nil {
			t.Errorf("%s: accepted as %+v", name, actor)
		}
	}
	if _, err := a.Authenticate(incoming(hsToken(withValue("aud", []string{"billing", testAudience})))); err != nil {
		t.Errorf("audience among several refused: %v", err)
	}
}

func TestMalformedCredentials(t *testing.T) {
	a := hs256(t, auth.Config{})
	good := hsToken(claims("alice"))
	for name, md := range map[string]metadata.MD{
		"no metadata":        nil,
		"basic auth":         metadata.Pairs("authorization", "Basic YWxpY2U6cHc="),
		"no scheme":          metadata.Pairs("authorization", good),
		"two tokens":         metadata.Pairs("authorization", "Bearer "+good, "authorization", "Bearer "+good),
		"garbage":            metadata.Pairs("authorization", "Bearer not.a.jwt"),
		"huge token":         metadata.Pairs("authorization", "Bearer "+strings.Repeat("A", auth.MaxTokenBytes+1)),
		"empty bearer":       metadata.Pairs("authorization", "Bearer "),
		"critical extension": metadata.Pairs("authorization", "Bearer "+critical()),
	} {
		ctx := context.Background()
		if md != nil {
			ctx = metadata.NewIncomingContext(ctx, md)
		}
		if actor, err := a.Authenticate(ctx); err == nil {
			t.Errorf("%s: accepted as %+v", name, actor)
		}
	}
	if _, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "bearer "+good))); err != nil {
		t.Errorf("the scheme is case-insensitive (RFC 7235), got %v", err)
	}
	if _, err := a.Authenticate(context.Background()); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("no credentials = %v", err)
	}
}

func critical() string {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("alice"))
	tok.Header["crit"] = []string{"exp-ext"}
	tok.Header["exp-ext"] = true
	return must(tok.SignedString(devSecret))
}

func TestRoles(t *testing.T) {
	a := hs256(t, auth.Config{})
	custom := hs256(t, auth.Config{RoleClaims: []string{"https://acme.test/groups"}, StaffScope: "clerks", AdminScope: "root"})
	with := func(claim string, v any) string {
		c := claims("alice")
		c[claim] = v
		return hsToken(c)
	}
	for name, tc := range map[string]struct {
		a     *auth.Authenticator
		token string
		want  application.Role
	}{
		"no role claim":                 {a, hsToken(claims("alice")), application.RoleCustomer},
		"roles array, staff":            {a, with("roles", []string{"orders:staff"}), application.RoleStaff},
		"roles array, admin wins":       {a, with("roles", []string{"orders:staff", "orders:admin"}), application.RoleAdmin},
		"scope string, staff":           {a, with("scope", "openid profile orders:staff"), application.RoleStaff},
		"scope string, admin":           {a, with("scope", "orders:admin"), application.RoleAdmin},
		"lookalike scope":               {a, with("scope", "orders:staffer orders:admin2"), application.RoleCustomer},
		"role in an unread claim":       {a, with("groups", []string{"orders:admin"}), application.RoleCustomer},
		"non-string role values":        {a, with("roles", []any{1, true, map[string]any{"orders:admin": true}}), application.RoleCustomer},
		"custom claim and scopes":       {custom, with("https://acme.test/groups", []string{"clerks"}), application.RoleStaff},
		"custom: default scope ignored": {custom, with("roles", []string{"orders:admin"}), application.RoleCustomer},
	} {
		actor, err := tc.a.Authenticate(incoming(tc.token))
		if err != nil || actor.ID != "alice" || actor.Role != tc.want {
			t.Errorf("%s: %+v, %v; want alice as %v", name, actor, err, tc.want)
		}
	}
}

// TestAlgorithmPinning covers the two classic forgeries against a service
// that trusts an RSA key: "alg": "none", and HS256 keyed with the public key.
func TestAlgorithmPinning(t *testing.T) {
	p := newIDP(t, key("rsa"), key("ec"), key("ed"))
	a := jwksAuthenticator(t, p, nil)
	admin := claims("mallory", "orders:admin")
	for name, token := range map[string]string{
		"alg none":                     unsigned(admin),
		"HS256 keyed with the RSA key": confused(admin),
		"ES256 header on the RSA kid":  signAs(key("ec"), "rsa-1", admin),
		"RS256 header on the EC kid":   signAs(key("rsa"), "ec-1", admin),
	} {
		if actor, err := a.Authenticate(incoming(token)); err == nil {
			t.Errorf("%s: accepted as %+v", name, actor)
		}
	}
	// And a shared-secret service must not take RS256 tokens either.
	if _, err := hs256(t, auth.Config{}).Authenticate(incoming(sign(key("rsa"), claims("alice")))); err == nil {
		t.Error("an HS256-configured service accepted an RS256 token")
	}
	if p.fetches.Load() != 1 {
		t.Errorf("forgeries under known kids triggered %d JWKS fetches, want only the initial one", p.fetches.Load())
	}
}

// signAs signs with k but names kid in the header.
func signAs(k signingKey, kid string, c jwt.MapClaims) string {
	k.kid = kid
	return sign(k, c)
}
