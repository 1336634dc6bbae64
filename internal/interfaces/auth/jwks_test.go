package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/interfaces/auth"
	"github.com/acme/order-service/internal/testkit"
)

// newFakeClock is a clock for refresh timing that moves only when told.
func newFakeClock() *testkit.Clock { return testkit.NewClock(time.Now()) }

func newJWKS(t *testing.T, p *idp, clock *testkit.Clock) *auth.JWKS {
	t.Helper()
	cfg := auth.JWKSConfig{Fetch: auth.JWKSURL(p.url(), p.server.Client()), RefreshInterval: time.Hour, MinRefreshInterval: time.Minute,
		Logger: slog.New(slog.DiscardHandler)}
	if clock != nil {
		cfg.Now = clock.Now
	}
	keys, err := auth.NewJWKS(t.Context(), cfg)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	return keys
}

func jwksAuthenticator(t *testing.T, p *idp, clock *testkit.Clock) *auth.Authenticator {
	t.Helper()
	a, err := auth.New(auth.Config{Keys: newJWKS(t, p, clock), Issuer: testIssuer, Audience: testAudience, ClockSkew: auth.DefaultClockSkew})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEveryKeyTypeVerifies(t *testing.T) {
	a := jwksAuthenticator(t, newIDP(t, key("rsa"), key("ec"), key("ed")), nil)
	for _, name := range []string{"rsa", "ec", "ed"} {
		actor, err := a.Authenticate(incoming(sign(key(name), claims("alice", "orders:staff"))))
		if err != nil || actor != (application.Actor{ID: "alice", Role: application.RoleStaff}) {
			t.Errorf("%s (%s): %+v, %v", name, key(name).method.Alg(), actor, err)
		}
	}
	if _, err := a.Authenticate(incoming(sign(key("forged"), claims("alice")))); err == nil {
		t.Error("a token signed by another key under a trusted kid verified")
	}
}

func TestTokenWithoutKidTriesKeysOfItsAlgorithm(t *testing.T) {
	a := jwksAuthenticator(t, newIDP(t, key("rsa"), key("rotated"), key("ec")), nil)
	if _, err := a.Authenticate(incoming(signAs(key("rotated"), "", claims("alice")))); err != nil {
		t.Errorf("RS256 token without kid: %v", err)
	}
	if _, err := a.Authenticate(incoming(signAs(key("forged"), "", claims("alice")))); err == nil {
		t.Error("a token without kid signed by an untrusted key verified")
	}
}

// TestRotation rotates the provider's key set: a token under the new kid
// makes the service fetch again at once; unknown kids after that are refused
// without hammering the provider, until MinRefreshInterval has passed.
func TestRotation(t *testing.T) {
	p := newIDP(t, key("rsa"))
	clock := newFakeClock()
	a := jwksAuthenticator(t, p, clock)
	fetches := func(want int64) {
		t.Helper()
		if got := p.fetches.Load(); got != want {
			t.Fatalf("JWKS fetched %d times, want %d", got, want)
		}
	}
	fetches(1)
	if _, err := a.Authenticate(incoming(sign(key("rsa"), claims("alice")))); err != nil {
		t.Fatal(err)
	}
	fetches(1) // cached

	clock.Advance(time.Minute) // at most one fetch per MinRefreshInterval, the first one included
	p.publish(key("rotated"))
	if _, err := a.Authenticate(incoming(sign(key("rotated"), claims("alice")))); err != nil {
		t.Fatalf("token under the rotated-in kid: %v", err)
	}
	fetches(2)
	if _, err := a.Authenticate(incoming(sign(key("rsa"), claims("alice")))); err == nil {
		t.Fatal("a token under the rotated-out kid still verifies")
	}
	for range 10 {
		_, err := a.Authenticate(incoming(signAs(key("rsa"), "made-up", claims("alice"))))
		if !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("unknown kid = %v, want ErrUnknownKey", err)
		}
	}
	fetches(2) // rate limited: no fetch per forged kid

	clock.Advance(time.Minute)
	p.publish(key("rotated"), key("rsa")) // rolled back
	if _, err := a.Authenticate(incoming(sign(key("rsa"), claims("alice")))); err != nil {
		t.Fatalf("after MinRefreshInterval the unknown kid is looked up again: %v", err)
	}
	fetches(3)
}

// TestPeriodicRefresh: after RefreshInterval a lookup refreshes in the
// background; when the provider is down, the known keys keep working.
func TestPeriodicRefresh(t *testing.T) {
	p := newIDP(t, key("rsa"))
	clock := newFakeClock()
	keys := newJWKS(t, p, clock)
	a, err := auth.New(auth.Config{Keys: keys, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	token := sign(key("rsa"), claims("alice"))

	p.setBroken(true)
	clock.Advance(time.Hour)
	if _, err := a.Authenticate(incoming(token)); err != nil {
		t.Fatalf("stale keys refused while refreshing: %v", err)
	}
	_ = keys.Close() // waits for the background refresh
	if p.fetches.Load() != 2 {
		t.Fatalf("fetches = %d, want the background refresh", p.fetches.Load())
	}
	if _, err := a.Authenticate(incoming(token)); err != nil {
		t.Fatalf("a failed refresh dropped the known keys: %v", err)
	}
	_ = keys.Close()
	if p.fetches.Load() != 2 {
		t.Fatalf("a failed refresh is retried at once: %d fetches", p.fetches.Load())
	}

	p.setBroken(false)
	// The rsa key stays published: the background refresh this lookup starts
	// may finish before the lookup reads the key set.
	p.publish(key("rsa"), key("ec"))
	clock.Advance(time.Minute)
	if _, err := a.Authenticate(incoming(token)); err != nil {
		t.Fatal(err)
	}
	_ = keys.Close()
	if _, err := a.Authenticate(incoming(sign(key("ec"), claims("alice")))); err != nil {
		t.Fatalf("key published before the periodic refresh: %v", err)
	}
	if p.fetches.Load() != 3 {
		t.Fatalf("fetches = %d, want 3", p.fetches.Load())
	}
}

func TestJWKSFileAndStartupFailures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(path, jwksDocument(key("ed")), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewJWKS(t.Context(), auth.JWKSConfig{Fetch: auth.JWKSFile(path)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Key(context.Background(), "ed-1", auth.AlgEdDSA); err != nil {
		t.Fatalf("key from file: %v", err)
	}
	if _, err := keys.Key(context.Background(), "ed-1", auth.AlgHS256); err == nil {
		t.Fatal("an EdDSA key handed out for HS256")
	}

	down := newIDP(t, key("rsa"))
	down.setBroken(true)
	for name, fetch := range map[string]func(context.Context) ([]byte, error){
		"missing file":     auth.JWKSFile(filepath.Join(dir, "missing.json")),
		"provider down":    auth.JWKSURL(down.url(), nil),
		"not JSON":         static("<html>"),
		"empty set":        static(`{"keys":[]}`),
		"only unsupported": static(`{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"},{"kty":"oct","k":"c2VjcmV0"}]}`),
		"small RSA key":    static(`{"keys":[{"kty":"RSA","kid":"k","n":"` + strings.Repeat("A", 170) + `","e":"AQAB"}]}`),
		"point off curve":  static(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"` + strings.Repeat("A", 43) + `","y":"` + strings.Repeat("B", 43) + `"}]}`),
		"short Ed25519":    static(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}]}`),
	} {
		if _, err := auth.NewJWKS(t.Context(), auth.JWKSConfig{Fetch: fetch}); err == nil {
			t.Errorf("%s: JWKS accepted", name)
		}
	}
}

func TestUnusableKeysAreSkipped(t *testing.T) {
	doc := `{"keys":[
		{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
		{"kty":"RSA","kid":"ps","alg":"PS256","n":"AQAB","e":"AQAB"},
		{"kty":"EC","kid":"p384","crv":"P-384","x":"AA","y":"AA"},
		` + strings.TrimSuffix(strings.TrimPrefix(string(jwksDocument(key("ec"))), `{"keys":[`), `]}`) + `]}`
	keys, err := auth.NewJWKS(t.Context(), auth.JWKSConfig{Fetch: static(doc)})
	if err != nil {
		t.Fatalf("a set with one usable key among unusable ones: %v", err)
	}
	if _, err := keys.Key(context.Background(), "ec-1", auth.AlgES256); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"enc", "ps", "p384"} {
		if _, err := keys.Key(context.Background(), kid, auth.AlgRS256); err == nil {
			t.Errorf("skipped key %q handed out", kid)
		}
	}
}

func static(doc string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(doc), nil }
}
