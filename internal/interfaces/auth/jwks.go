package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Defaults of JWKSConfig.
const (
	DefaultJWKSRefreshInterval    = 15 * time.Minute
	DefaultJWKSMinRefreshInterval = 30 * time.Second
	DefaultJWKSFetchTimeout       = 10 * time.Second
	maxJWKSBytes                  = 1 << 20
)

// JWKSConfig says where the keys are and how often to look again.
type JWKSConfig struct {
	// Fetch is where the JWK Set document comes from: JWKSURL or JWKSFile.
	Fetch JWKSSource
	// RefreshInterval is how often the keys are fetched again, in the
	// background, while the old ones keep serving.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches caused by
	// tokens with an unknown kid, so that a stream of forged kids cannot make
	// the service hammer the identity provider.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one fetch, and how long a token with an unknown
	// kid may wait for its turn to fetch before it is refused.
	FetchTimeout time.Duration
	// Logger reports failed refreshes; nil means slog.Default().
	Logger *slog.Logger
}

// JWKSSource is where a JWK Set is read from; see JWKSURL and JWKSFile.
type JWKSSource struct {
	url    string
	client *http.Client
}

// JWKSURL fetches the key set from an identity provider's jwks_uri with
// client (nil: a plain client).
func JWKSURL(url string, client *http.Client) JWKSSource {
	if client == nil {
		client = &http.Client{}
	}
	return JWKSSource{url: url, client: limitedClient(client)}
}

// JWKSFile reads the key set from a file (mounted from a secret store, say).
// It is read again on every refresh, so replacing the file rotates keys.
func JWKSFile(path string) JWKSSource {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	return JWKSSource{url: u.String(), client: limitedClient(&http.Client{Transport: fileTransport(path)})}
}

// JWKS is a KeySource backed by a JWK Set: RS256, ES256 (P-256) and EdDSA
// (Ed25519) keys, each pinned to that one algorithm (see pinnedKeys).
// jwkset caches the set, fetches it again every RefreshInterval, and at once
// (rate limited) when a token names a kid it does not know, which is how a
// key rotated in by the identity provider is picked up; keyfunc picks the
// key for a token. A failed fetch keeps the keys already known.
type JWKS struct {
	keys keyfunc.Keyfunc
	stop context.CancelFunc
}

// NewJWKS fetches the key set once and fails if that does not work, so that
// a misconfigured service does not start. ctx bounds that first fetch; the
// background refresh runs until Close.
func NewJWKS(ctx context.Context, cfg JWKSConfig) (*JWKS, error) {
	if cfg.Fetch.url == "" {
		return nil, errors.New("auth: JWKS without a source")
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = DefaultJWKSMinRefreshInterval
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultJWKSFetchTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// The refresh lives until Close; ctx being done during the first fetch
	// cancels it too.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer context.AfterFunc(ctx, stop)()
	keys, err := newKeyfunc(life, cfg)
	if err != nil {
		stop() // ends the refresh goroutine jwkset started before the first fetch
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	return &JWKS{keys: keys, stop: stop}, nil
}

func newKeyfunc(life context.Context, cfg JWKSConfig) (keyfunc.Keyfunc, error) {
	remote, err := jwkset.NewStorageFromHTTP(cfg.Fetch.url, jwkset.HTTPClientStorageOptions{
		Client:          cfg.Fetch.client,
		Ctx:             life,
		HTTPTimeout:     cfg.FetchTimeout,
		RefreshInterval: cfg.RefreshInterval,
		Storage:         pinnedKeys{jwkset.NewMemoryStorage()},
		RefreshErrorHandler: func(ctx context.Context, err error) {
			cfg.Logger.WarnContext(ctx, "JWKS refresh failed; keeping the keys already known", "url", cfg.Fetch.url, "error", err)
		},
	})
	if err != nil {
		return nil, err
	}
	cache, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{cfg.Fetch.url: remote},
		RateLimitWaitMax:  cfg.FetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.MinRefreshInterval), 1),
	})
	if err != nil {
		return nil, err
	}
	return keyfunc.New(keyfunc.Options{Ctx: life, Storage: unknownKID{cache}})
}

// Algorithms implements KeySource.
func (s *JWKS) Algorithms() []string { return []string{AlgRS256, AlgES256, AlgEdDSA} }

// Key implements KeySource. Without a kid, every key pinned to alg is a
// candidate.
func (s *JWKS) Key(ctx context.Context, kid, alg string) (any, error) {
	// keyfunc reads only these two members of a token's header.
	header := map[string]any{"alg": alg}
	if kid != "" {
		header[jwkset.HeaderKID] = kid
	}
	key, err := s.keys.KeyfuncCtx(ctx)(&jwt.Token{Header: header})
	if set, ok := key.(jwt.VerificationKeySet); ok && err == nil && len(set.Keys) == 0 {
		return nil, fmt.Errorf("no key verifies %s tokens", alg)
	}
	return key, err
}

// Close stops the background refresh.
func (s *JWKS) Close() error {
	s.stop()
	return nil
}

// unknownKID reports a lookup by kid that failed (not found even after the
// refresh it triggers, or refused by the refresh rate limit) as
// ErrUnknownKey.
type unknownKID struct{ jwkset.Storage }

func (s unknownKID) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	key, err := s.Storage.KeyRead(ctx, kid)
	if err != nil {
		return key, fmt.Errorf("%w: %w", ErrUnknownKey, err)
	}
	return key, nil
}

// limitedClient is client with the JWKS response bounded to maxJWKSBytes:
// jwkset decodes whatever body it is given.
func limitedClient(client *http.Client) *http.Client {
	c := *client
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	c.Transport = limitedTransport{next: c.Transport}
	return &c
}

type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxJWKSBytes)
	return resp, nil
}

// fileTransport answers every request with the file's content, so that a
// key set on disk is read, checked and refreshed exactly as one from a URL.
type fileTransport string

func (path fileTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f, err := os.Open(string(path))
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{},
		Body: f, ContentLength: -1, Request: req}, nil
}
