// Package testkit is what every test harness of the service shares: free
// loopback addresses, a log buffer safe for concurrent writers, polling with
// a deadline, and the source walk that keeps go test's cache honest.
//
// It is ordinary (non-test) code so that cmd/faultcheck, a program, can use
// it too. Functions that fail a test take TB, the two methods of
// testing.TB they need, so that this package does not import testing.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// PollEvery is how often Eventually and WaitReady try again.
const PollEvery = 25 * time.Millisecond

// TB is the part of testing.TB the Must helpers use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// FreeAddrs returns n distinct loopback addresses ("127.0.0.1:port") that
// were free a moment ago: the listeners are held open together, so the
// ports differ, and closed before it returns, for a child process to bind.
// The kernel picks them from its ephemeral range, which never holds the
// service's default ports.
func FreeAddrs(n int) ([]string, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		listeners = append(listeners, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// MustFreeAddrs is FreeAddrs that fails the test on error.
func MustFreeAddrs(t TB, n int) []string {
	t.Helper()
	addrs, err := FreeAddrs(n)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return addrs
}

// Buffer collects output written from several goroutines (a child
// process's stdout and stderr, a logger).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n bytes of s, marked with "…" when cut.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Poll calls check at once and then every interval until it returns nil,
// and returns nil; when ctx ends first it returns check's last error.
func Poll(ctx context.Context, every time.Duration, check func() error) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// Eventually polls check until it returns nil and fails the test with
// check's last error when timeout passes first.
func Eventually(t TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := Poll(ctx, PollEvery, check); err != nil {
		t.Fatalf("%s: not within %s: %v", what, timeout, err)
	}
}

// errStopped is the last error WaitReady reports when the service stopped.
var errStopped = errors.New("the service stopped before it was ready")

// WaitReady polls GET url (a /readyz endpoint) until it answers 200. It
// gives up when stopped is closed (the service exited) or ctx ends, and
// then says what the last answer was.
func WaitReady(ctx context.Context, url string, stopped <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	return Poll(ctx, PollEvery, func() error {
		select {
		case <-stopped:
			return errStopped
		default:
		}
		return CheckOK(ctx, client, url)
	})
}

// CheckOK is nil when GET url answers 200, else says what it answered.
func CheckOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// ModuleRoot returns the directory of the go.mod above the working
// directory (go test runs a package's tests in the package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// sourceExts are the files a service binary or a harness script is made of.
var sourceExts = map[string]bool{".go": true, ".sql": true, ".proto": true, ".mod": true, ".sum": true,
	".sh": true, ".json": true, ".yaml": true, ".md": true}

// TouchSources opens every source file under root. go test caches a
// package's result keyed on the files its tests open; a binary built (or a
// script run) in another process is invisible to it, so a test that runs
// one calls this, or a change to the service would be answered from the
// cache.
func TouchSources(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if sourceExts[filepath.Ext(path)] {
			if f, err := os.Open(path); err == nil {
				f.Close()
			}
		}
		return nil
	})
}

// Clock is a clock a test moves by hand (rate limits, key refresh).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time; pass it where the code under test takes a
// func() time.Time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// CheckError checks the outcome of a call that may refuse its input, such as
// a config's Validate: with want empty err must be nil, otherwise err must
// be an error whose text contains want.
func CheckError(t TB, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got %v, want no error", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("got %v, want an error about %q", err, want)
	}
}
