package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	// Fetch returns the JWK Set document; see JWKSFile and JWKSURL.
	Fetch func(ctx context.Context) ([]byte, error)
	// RefreshInterval is the age after which the keys are fetched again, in
	// the background, while the old ones keep serving.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches. A token with
	// an unknown kid triggers a fetch at most this often, so a stream of
	// forged kids cannot make the service hammer the identity provider.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one fetch.
	FetchTimeout time.Duration
	// Logger reports failed refreshes; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// JWKS is a KeySource backed by a JWK Set: RS256, ES256 (P-256) and EdDSA
// (Ed25519) keys, each pinned to that one algorithm. The set is cached,
// fetched again once it is older than RefreshInterval, and at once (rate
// limited) when a token names a kid it does not know, which is how a key
// rotated in by the identity provider is picked up. A failed fetch keeps the
// keys already known.
type JWKS struct {
	cfg JWKSConfig

	mu        sync.RWMutex
	keys      []publicKey
	fetchedAt time.Time // of the keys held
	attempted time.Time // last fetch, successful or not

	fetching   sync.Mutex // one fetch at a time
	background sync.WaitGroup
}

// NewJWKS fetches the key set once and fails if that does not work, so that
// a misconfigured service does not start.
func NewJWKS(ctx context.Context, cfg JWKSConfig) (*JWKS, error) {
	if cfg.Fetch == nil {
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &JWKS{cfg: cfg}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Algorithms implements KeySource.
func (s *JWKS) Algorithms() []string { return []string{AlgRS256, AlgES256, AlgEdDSA} }

// Key implements KeySource. Without a kid, every key pinned to alg is a
// candidate.
func (s *JWKS) Key(ctx context.Context, kid, alg string) (any, error) {
	if s.stale() {
		s.refreshInBackground()
	}
	key, known, err := s.lookup(kid, alg)
	if known || kid == "" {
		return key, err
	}
	s.refreshForUnknownKid(ctx, kid)
	if key, known, err = s.lookup(kid, alg); known {
		return key, err
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

// lookup finds the key for a token; known reports whether kid exists at all.
func (s *JWKS) lookup(kid, alg string) (key any, known bool, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var candidates []jwt.VerificationKey
	for _, k := range s.keys {
		if kid != "" && k.kid != kid {
			continue
		}
		known = true
		if k.alg == alg {
			candidates = append(candidates, k.key)
		}
	}
	switch {
	case len(candidates) == 0 && known:
		return nil, true, fmt.Errorf("key %q does not verify %s tokens", kid, alg)
	case len(candidates) == 0:
		return nil, false, fmt.Errorf("no key verifies %s tokens", alg)
	case len(candidates) == 1:
		return candidates[0], true, nil
	}
	return jwt.VerificationKeySet{Keys: candidates}, true, nil
}

func (s *JWKS) stale() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg.Now().Sub(s.fetchedAt) >= s.cfg.RefreshInterval
}

// mayFetch reports whether the last attempt is long enough ago.
func (s *JWKS) mayFetch() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg.Now().Sub(s.attempted) >= s.cfg.MinRefreshInterval
}

// refreshInBackground fetches without making the caller wait, unless a
// fetch is already running or ran too recently.
func (s *JWKS) refreshInBackground() {
	if !s.fetching.TryLock() {
		return
	}
	if !s.mayFetch() {
		s.fetching.Unlock()
		return
	}
	s.background.Go(func() {
		defer s.fetching.Unlock()
		if err := s.fetchAndStore(context.Background()); err != nil {
			s.cfg.Logger.Warn("JWKS refresh failed; keeping the keys already known", "error", err)
		}
	})
}

// refreshForUnknownKid fetches now, unless another caller's fetch (which
// this one waits for) or a recent one already had the chance to find kid.
func (s *JWKS) refreshForUnknownKid(ctx context.Context, kid string) {
	s.fetching.Lock()
	defer s.fetching.Unlock()
	if !s.mayFetch() {
		return
	}
	// Not cut short by this caller's cancellation: others may be waiting
	// for the same fetch.
	if err := s.fetchAndStore(context.WithoutCancel(ctx)); err != nil {
		s.cfg.Logger.Warn("JWKS refresh for an unknown kid failed", "kid", truncate(kid, 64), "error", err)
	}
}

// refresh is the first fetch.
func (s *JWKS) refresh(ctx context.Context) error {
	s.fetching.Lock()
	defer s.fetching.Unlock()
	return s.fetchAndStore(ctx)
}

// fetchAndStore runs with s.fetching held.
func (s *JWKS) fetchAndStore(ctx context.Context) error {
	s.mu.Lock()
	s.attempted = s.cfg.Now()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	data, err := s.cfg.Fetch(ctx)
	if err != nil {
		return fmt.Errorf("fetch JWKS: %w", err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.keys, s.fetchedAt = keys, s.cfg.Now()
	s.mu.Unlock()
	return nil
}

// Close waits for a background refresh to finish.
func (s *JWKS) Close() error {
	s.background.Wait()
	return nil
}

// JWKSFile reads the key set from a file (mounted from a secret store, say).
// It is read again on every refresh, so replacing the file rotates keys.
func JWKSFile(path string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readLimited(f)
	}
}

// JWKSURL fetches the key set from an identity provider's jwks_uri with
// client (nil: a plain client; the fetch timeout comes from the context).
func JWKSURL(url string, client *http.Client) func(context.Context) ([]byte, error) {
	if client == nil {
		client = &http.Client{}
	}
	return func(ctx context.Context) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		}
		return readLimited(resp.Body)
	}
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	return data, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
