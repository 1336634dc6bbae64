package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/interfaces/auth"
)

// newJWKS serves p's key set to the service through client; nil means over
// HTTP. Tests in a synctest bubble pass p.memoryClient(): the bubble's fake
// clock only moves while no goroutine waits on the network.
func newJWKS(t *testing.T, p *idp, client *http.Client) *auth.JWKS {
	t.Helper()
	if client == nil {
		client = p.server.Client()
	}
	cfg := auth.JWKSConfig{Fetch: auth.JWKSURL(p.url(), client), RefreshInterval: time.Hour, MinRefreshInterval: time.Minute,
		Logger: slog.New(slog.DiscardHandler)}
	keys, err := auth.NewJWKS(t.Context(), cfg)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	return keys
}

func jwksAuthenticator(t *testing.T, p *idp, client *http.Client) *auth.Authenticator {
	t.Helper()
	a, err := auth.New(auth.Config{Keys: newJWKS(t, p, client), Issuer: testIssuer, Audience: testAudience, ClockSkew: auth.DefaultClockSkew})
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
// without hammering the provider, until MinRefreshInterval has passed. It
// runs in a synctest bubble, where time.Sleep only moves the fake clock.
func TestRotation(t *testing.T) {
	p := newIDP(t, key("rsa"))
	synctest.Test(t, func(t *testing.T) {
		a := jwksAuthenticator(t, p, p.memoryClient())
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

		time.Sleep(time.Minute)
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

		time.Sleep(time.Minute)
		p.publish(key("rotated"), key("rsa")) // rolled back
		if _, err := a.Authenticate(incoming(sign(key("rsa"), claims("alice")))); err != nil {
			t.Fatalf("after MinRefreshInterval the unknown kid is looked up again: %v", err)
		}
		fetches(3)
	})
}

// TestPeriodicRefresh: every RefreshInterval the keys are fetched again in
// the background; when the provider is down, the known keys keep working.
// In the synctest bubble time.Sleep moves the fake clock, and
// synctest.Wait returns once the background refresh is done.
func TestPeriodicRefresh(t *testing.T) {
	p := newIDP(t, key("rsa"))
	synctest.Test(t, func(t *testing.T) {
		keys := newJWKS(t, p, p.memoryClient())
		a, err := auth.New(auth.Config{Keys: keys, Issuer: testIssuer, Audience: testAudience})
		if err != nil {
			t.Fatal(err)
		}
		token := func() string { return sign(key("rsa"), claims("alice")) } // issued at the fake clock's now

		p.setBroken(true)
		time.Sleep(time.Hour)
		if _, err := a.Authenticate(incoming(token())); err != nil {
			t.Fatalf("stale keys refused while refreshing: %v", err)
		}
		synctest.Wait()
		if p.fetches.Load() != 2 {
			t.Fatalf("fetches = %d, want the background refresh", p.fetches.Load())
		}
		if _, err := a.Authenticate(incoming(token())); err != nil {
			t.Fatalf("a failed refresh dropped the known keys: %v", err)
		}
		synctest.Wait()
		if p.fetches.Load() != 2 {
			t.Fatalf("a failed refresh is retried at once: %d fetches", p.fetches.Load())
		}

		p.setBroken(false)
		p.publish(key("rsa"), key("ec"))
		time.Sleep(time.Hour)
		if _, err := a.Authenticate(incoming(token())); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if p.fetches.Load() != 3 {
			t.Fatalf("fetches = %d, want 3", p.fetches.Load())
		}
		if _, err := a.Authenticate(incoming(sign(key("ec"), claims("alice")))); err != nil {
			t.Fatalf("key published before the periodic refresh: %v", err)
		}
		if p.fetches.Load() != 3 {
			t.Fatalf("the published key was found by an unknown-kid fetch, not the periodic one: %d fetches", p.fetches.Load())
		}
	})
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
	t.Cleanup(func() { _ = keys.Close() })
	if _, err := keys.Key(context.Background(), "ed-1", auth.AlgEdDSA); err != nil {
		t.Fatalf("key from file: %v", err)
	}
	if _, err := keys.Key(context.Background(), "ed-1", auth.AlgHS256); err == nil {
		t.Fatal("an EdDSA key handed out for HS256")
	}

	down := newIDP(t, key("rsa"))
	down.setBroken(true)
	for name, fetch := range map[string]auth.JWKSSource{
		"missing file":     auth.JWKSFile(filepath.Join(dir, "missing.json")),
		"provider down":    auth.JWKSURL(down.url(), nil),
		"not JSON":         static(t, "<html>"),
		"empty set":        static(t, `{"keys":[]}`),
		"only unsupported": static(t, `{"keys":[`+p384JWK("p384")+`,{"kty":"oct","k":"c2VjcmV0"}]}`),
		"over 1 MiB":       static(t, `{"keys":[`+strings.Repeat(" ", 1<<20)+strings.TrimPrefix(string(jwksDocument(key("ec"))), `{"keys":[`)),
		"small RSA key":    static(t, `{"keys":[{"kty":"RSA","kid":"k","n":"`+strings.Repeat("A", 170)+`","e":"AQAB"}]}`),
		"point off curve":  static(t, `{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"`+strings.Repeat("A", 43)+`","y":"`+strings.Repeat("B", 43)+`"}]}`),
		"short Ed25519":    static(t, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}]}`),
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
		` + p384JWK("p384") + `,
		` + strings.TrimSuffix(strings.TrimPrefix(string(jwksDocument(key("ec"))), `{"keys":[`), `]}`) + `]}`
	keys, err := auth.NewJWKS(t.Context(), auth.JWKSConfig{Fetch: static(t, doc)})
	if err != nil {
		t.Fatalf("a set with one usable key among unusable ones: %v", err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	if _, err := keys.Key(context.Background(), "ec-1", auth.AlgES256); err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"enc", "ps", "p384"} {
		if _, err := keys.Key(context.Background(), kid, auth.AlgRS256); err == nil {
			t.Errorf("skipped key %q handed out", kid)
		}
	}
}

// static is a key set file holding doc.
func static(t *testing.T, doc string) auth.JWKSSource {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return auth.JWKSFile(path)
}

// p384JWK is a valid P-384 public key, a curve this service does not verify
// with.
func p384JWK(kid string) string {
	point := must(must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)).PublicKey.Bytes())
	b64 := base64.RawURLEncoding.EncodeToString
	return `{"kty":"EC","kid":"` + kid + `","crv":"P-384","x":"` + b64(point[1:49]) + `","y":"` + b64(point[49:]) + `"}`
}
