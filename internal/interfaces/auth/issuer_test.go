package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/metadata"
)

// Test identity provider settings.
const (
	testIssuer   = "https://idp.test/"
	testAudience = "order-service"
)

// signingKey is a private key of the test identity provider.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	signer crypto.Signer
}

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() map[string]signingKey {
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	forged := must(rsa.GenerateKey(rand.Reader, 2048))
	rotated := must(rsa.GenerateKey(rand.Reader, 2048))
	ecKey := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	_, edKey := must2(ed25519.GenerateKey(rand.Reader))
	return map[string]signingKey{
		"rsa":     {kid: "rsa-1", method: jwt.SigningMethodRS256, signer: rsaKey},
		"ec":      {kid: "ec-1", method: jwt.SigningMethodES256, signer: ecKey},
		"ed":      {kid: "ed-1", method: jwt.SigningMethodEdDSA, signer: edKey},
		"forged":  {kid: "rsa-1", method: jwt.SigningMethodRS256, signer: forged}, // an attacker's key under a real kid
		"rotated": {kid: "rsa-2", method: jwt.SigningMethodRS256, signer: rotated},
	}
})

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

func key(name string) signingKey { return testKeys()[name] }

// idp is a test identity provider: it serves a JWKS over HTTP, counts the
// fetches, and can rotate or break its key set.
type idp struct {
	server  *httptest.Server
	fetches atomic.Int64

	mu     sync.Mutex
	keys   []signingKey
	broken bool
}

func newIDP(t *testing.T, keys ...signingKey) *idp {
	p := &idp{keys: keys}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.broken {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(jwksDocument(p.keys...))
	}))
	t.Cleanup(p.server.Close)
	return p
}

// publish replaces the served key set.
func (p *idp) publish(keys ...signingKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

func (p *idp) setBroken(broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = broken
}

// memoryClient reaches the provider without a network, for tests in a
// synctest bubble.
func (p *idp) memoryClient() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		p.server.Config.Handler.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (p *idp) url() string { return p.server.URL + "/.well-known/jwks.json" }

// jwksDocument is the JWK Set of the keys' public halves.
func jwksDocument(keys ...signingKey) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	set := struct {
		Keys []map[string]string `json:"keys"`
	}{Keys: []map[string]string{}}
	for _, k := range keys {
		jwk := map[string]string{"kid": k.kid, "use": "sig", "alg": k.method.Alg()}
		switch pub := k.signer.Public().(type) {
		case *rsa.PublicKey:
			jwk["kty"], jwk["n"], jwk["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			point := must(pub.Bytes())
			jwk["kty"], jwk["crv"], jwk["x"], jwk["y"] = "EC", "P-256", b64(point[1:33]), b64(point[33:])
		case ed25519.PublicKey:
			jwk["kty"], jwk["crv"], jwk["x"] = "OKP", "Ed25519", b64(pub)
		}
		set.Keys = append(set.Keys, jwk)
	}
	return must(json.Marshal(set))
}

// claims are valid claims for sub, issued now for an hour, with roles.
func claims(sub string, roles ...string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": sub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if len(roles) > 0 {
		c["roles"] = roles
	}
	return c
}

// sign signs claims with k, naming k's kid in the header.
func sign(k signingKey, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(k.method, c)
	tok.Header["kid"] = k.kid
	return must(tok.SignedString(k.signer))
}

// unsigned is an "alg": "none" token.
func unsigned(c jwt.MapClaims) string {
	return must(jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType))
}

// confused is the classic algorithm-confusion forgery: an HS256 token whose
// HMAC key is the RSA public key the service trusts (which is public), under
// that key's kid.
func confused(c jwt.MapClaims) string {
	pub := must(x509.MarshalPKIXPublicKey(key("rsa").signer.Public()))
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = key("rsa").kid
	return must(tok.SignedString(pemKey))
}

// bearer returns ctx carrying the token as gRPC metadata (and so as the
// Authorization header over REST); an empty token means no credentials.
func bearer(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// incoming returns a server-side context carrying the token.
func incoming(token string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
}
