package testkit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFreeAddrsAreDistinctLoopbackPorts(t *testing.T) {
	addrs := MustFreeAddrs(t, 8)
	seen := map[string]bool{}
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("address %q: not a loopback host:port (%v)", a, err)
		}
		if seen[a] {
			t.Fatalf("address %s returned twice in %v", a, addrs)
		}
		seen[a] = true
		l, err := net.Listen("tcp", a) // free again for the caller
		if err != nil {
			t.Fatalf("listen on %s: %v", a, err)
		}
		l.Close()
	}
}

func TestBufferTakesConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("%d bytes, want 800", got)
	}
}

func TestTail(t *testing.T) {
	if got := Tail("abcdef", 10); got != "abcdef" {
		t.Errorf("Tail short = %q", got)
	}
	if got := Tail("abcdef", 2); got != "…ef" {
		t.Errorf("Tail cut = %q", got)
	}
}

func TestPollReturnsOnceCheckPasses(t *testing.T) {
	var calls atomic.Int32
	err := Poll(t.Context(), time.Millisecond, func() error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls.Load() != 3 {
		t.Fatalf("Poll = %v after %d calls, want nil after 3", err, calls.Load())
	}
}

func TestPollReportsTheLastErrorAtTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := Poll(ctx, time.Millisecond, func() error { return errors.New("still down") })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still down") {
		t.Fatalf("Poll = %v, want the deadline and the last error", err)
	}
}

func TestWaitReady(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			ready.Store(true)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := WaitReady(ctx, srv.URL, nil); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}

	stopped := make(chan struct{})
	close(stopped)
	if err := WaitReady(ctx, srv.URL+"/never", stopped); err == nil {
		t.Fatal("WaitReady on a stopped service = nil")
	}
}

func TestClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(start)
	if !c.Now().Equal(start) || !c.Now().Equal(start) {
		t.Fatalf("Now = %v, want %v", c.Now(), start)
	}
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("after Advance Now = %v", got)
	}
}
