// Command devtoken prints an HS256 bearer token for a service started with
// AUTH_HS256_SECRET — for development and demos only (production verifies
// tokens from an identity provider's JWKS):
//
//	go run ./cmd/devtoken -sub user-123 -role customer -secret "$AUTH_HS256_SECRET" [-iss … -aud … -ttl 1h]
//
// -secret, -iss and -aud default to AUTH_HS256_SECRET, AUTH_ISSUER and
// AUTH_AUDIENCE; the role is written the way the service reads it
// (AUTH_ROLE_CLAIM, AUTH_STAFF_SCOPE, AUTH_ADMIN_SCOPE).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/acme/order-service/internal/interfaces/auth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devtoken", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "subject: the user id the token speaks for (required)")
	role := fs.String("role", "customer", "customer, staff or admin")
	secret := fs.String("secret", "", "HS256 secret, at least 32 bytes (default $AUTH_HS256_SECRET)")
	iss := fs.String("iss", getenv("AUTH_ISSUER"), "issuer claim (default $AUTH_ISSUER)")
	aud := fs.String("aud", getenv("AUTH_AUDIENCE"), "audience claim (default $AUTH_AUDIENCE)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "devtoken: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *secret == "" {
		*secret = getenv("AUTH_HS256_SECRET")
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		fmt.Fprintf(stderr, "devtoken: %v\n", err)
		return 2
	}
	token, err := auth.DevToken{
		Subject: *sub, Role: r, Secret: []byte(*secret), Issuer: *iss, Audience: *aud, TTL: *ttl,
		RoleClaim:  roleClaim(getenv("AUTH_ROLE_CLAIM")),
		StaffScope: getenv("AUTH_STAFF_SCOPE"), AdminScope: getenv("AUTH_ADMIN_SCOPE"),
	}.Mint()
	if err != nil {
		fmt.Fprintf(stderr, "devtoken: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, token)
	return 0
}

// roleClaim is the first claim the service reads roles from.
func roleClaim(setting string) string {
	first, _, _ := strings.Cut(setting, ",")
	return strings.TrimSpace(first)
}
