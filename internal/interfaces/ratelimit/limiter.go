// Package ratelimit holds the per-principal token buckets that keep one
// caller from starving the others (OWASP API4, unrestricted resource
// consumption). It knows nothing about gRPC: the edge decides what a key is
// (a JWT subject, or the network address of a caller without one) and maps a
// refusal to RESOURCE_EXHAUSTED.
package ratelimit

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of Config.
const (
	DefaultMaxKeys = 100_000
)

// Config sizes the buckets.
type Config struct {
	// Rate is the sustained number of calls per second a key may make.
	Rate float64
	// Burst is how many calls a key may make at once after being idle.
	Burst int
	// MaxKeys bounds the number of buckets kept in memory; 0 means
	// DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means time.Now. Tests pass a fake one.
	Now func() time.Time
}

// Limiter is a set of token buckets, one per key, in a bounded LRU map. It
// is safe for concurrent use.
//
// Memory stays bounded however many distinct keys callers present: a bucket
// that has been idle long enough to be full again is indistinguishable from
// a new one, so it is dropped for free; when the map is full of active keys,
// the least recently used one is dropped (that key then starts over with a
// full burst — the price of the bound).
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	refill  time.Duration // how long an empty bucket takes to fill up
	now     func() time.Time

	mu    sync.Mutex
	byKey map[string]*list.Element // of *bucket
	lru   list.List                // most recently used first
}

type bucket struct {
	key      string
	limiter  *rate.Limiter
	lastSeen time.Time
}

// New returns a Limiter. A Rate of 0 or less lets everything through.
func New(cfg Config) *Limiter {
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	burst := max(cfg.Burst, 1)
	limit, refill := rate.Inf, time.Duration(0)
	if cfg.Rate > 0 {
		limit = rate.Limit(cfg.Rate)
		refill = time.Duration(float64(burst) / cfg.Rate * float64(time.Second))
	}
	return &Limiter{
		limit: limit, burst: burst, maxKeys: cfg.MaxKeys, refill: refill, now: cfg.Now,
		byKey: make(map[string]*list.Element),
	}
}

// Allow takes one token from key's bucket. When the bucket is empty it
// returns false and how long until a token will be there.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	lim := l.bucket(key, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// Len reports how many buckets are held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

// bucket returns key's limiter, creating it (and making room) if needed.
func (l *Limiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evictIdle(now)
	if el, ok := l.byKey[key]; ok {
		b := el.Value.(*bucket)
		b.lastSeen = now
		l.lru.MoveToFront(el)
		return b.limiter
	}
	if len(l.byKey) >= l.maxKeys {
		l.remove(l.lru.Back())
	}
	b := &bucket{key: key, limiter: rate.NewLimiter(l.limit, l.burst), lastSeen: now}
	l.byKey[key] = l.lru.PushFront(b)
	return b.limiter
}

// evictIdle drops the buckets, least recently used first, that have been
// idle long enough to be full again. Each call does work proportional to
// what it drops, so the cost is amortised over the calls that made them.
func (l *Limiter) evictIdle(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if now.Sub(el.Value.(*bucket).lastSeen) < l.refill {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.byKey, el.Value.(*bucket).key)
	l.lru.Remove(el)
}
