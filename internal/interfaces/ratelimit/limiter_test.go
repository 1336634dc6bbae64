package ratelimit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/interfaces/ratelimit"
	"github.com/acme/order-service/internal/testkit"
)

func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func TestBurstThenRefill(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Config{Rate: 2, Burst: 3, Now: c.Now})
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("alice")
	if ok || retry <= 0 || retry > 500*time.Millisecond {
		t.Fatalf("call past the burst = %v, retry after %v; want refused, at most 500ms at 2/s", ok, retry)
	}
	if ok, _ := l.Allow("bob"); !ok {
		t.Fatal("another key is refused because alice used hers up")
	}
	c.Advance(retry)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("refused after waiting the advertised delay")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("the refill gave more than one token")
	}
}

func TestIdleBucketsAreDropped(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Config{Rate: 10, Burst: 10, Now: c.Now}) // full again after 1s
	for i := range 50 {
		l.Allow(fmt.Sprint("scanner-", i))
	}
	if l.Len() != 50 {
		t.Fatalf("Len = %d, want 50", l.Len())
	}
	c.Advance(time.Second)
	l.Allow("alice")
	if l.Len() != 1 {
		t.Fatalf("after a full refill period idle buckets remain: Len = %d, want 1", l.Len())
	}
}

func TestBoundedKeys(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, MaxKeys: 3, Now: c.Now})
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("first call refused")
	}
	for i := range 1000 {
		l.Allow(fmt.Sprint("rotating-key-", i))
		if l.Len() > 3 {
			t.Fatalf("Len = %d with MaxKeys 3", l.Len())
		}
	}
}

func TestLeastRecentlyUsedIsEvictedFirst(t *testing.T) {
	c := newClock()
	l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1, MaxKeys: 2, Now: c.Now})
	l.Allow("alice")
	l.Allow("bob")
	l.Allow("alice") // refused, but alice is now the most recently used
	l.Allow("carol") // evicts bob
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("alice's empty bucket was evicted instead of the older bob")
	}
}

func TestZeroRateAllowsEverything(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Rate: 0, Burst: 1})
	for range 100 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatal("refused with rate 0 (off)")
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 100, MaxKeys: 10})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.Allow(fmt.Sprint("k", (g+i)%20))
			}
		})
	}
	wg.Wait()
	if l.Len() > 10 {
		t.Fatalf("Len = %d with MaxKeys 10", l.Len())
	}
}
