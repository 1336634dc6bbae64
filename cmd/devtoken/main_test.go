package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/interfaces/auth"
)

var secret = strings.Repeat("s", 32)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestTokensVerify checks that what devtoken prints is what a service
// configured with the same settings accepts, with the role it was asked for.
func TestTokensVerify(t *testing.T) {
	vars := map[string]string{"AUTH_HS256_SECRET": secret, "AUTH_ISSUER": "dev", "AUTH_AUDIENCE": "order-service"}
	keys, err := auth.NewHS256Secret([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Config{Keys: keys, Issuer: "dev", Audience: "order-service"})
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]application.Role{"customer": application.RoleCustomer, "staff": application.RoleStaff, "admin": application.RoleAdmin} {
		var out, errOut bytes.Buffer
		if code := run([]string{"-sub", "user-123", "-role", role}, env(vars), &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", role, code, errOut.String())
		}
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+strings.TrimSpace(out.String())))
		actor, err := authn.Authenticate(ctx)
		if err != nil || actor != (application.Actor{ID: "user-123", Role: want}) {
			t.Errorf("%s token verifies as %+v, %v", role, actor, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	for name, args := range map[string][]string{
		"short secret":   {"-sub", "u", "-secret", "short"},
		"no subject":     {"-secret", secret},
		"unknown role":   {"-sub", "u", "-secret", secret, "-role", "root"},
		"negative ttl":   {"-sub", "u", "-secret", secret, "-ttl", "-1h"},
		"stray argument": {"-sub", "u", "-secret", secret, "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, env(nil), &out, &errOut); code == 0 || out.Len() != 0 {
			t.Errorf("%s: exit %d, printed %q", name, code, out.String())
		}
		if strings.Contains(errOut.String(), secret) {
			t.Errorf("%s: the secret is echoed: %s", name, errOut.String())
		}
	}
}
