//go:build integration

package e2e

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/testkit"
)

// tcpProxy forwards a loopback port to a target. Stop makes the target
// unreachable through it at once — the listener refuses new connections and
// every forwarded connection is cut — and Restart brings it back on the same
// port: a deterministic database outage.
type tcpProxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener // nil while stopped
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startTCPProxy(t testing.TB, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), conns: make(map[net.Conn]struct{})}
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// Addr is the proxy's address, the same across Stop and Restart.
func (p *tcpProxy) Addr() string { return p.addr }

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return // closed by Stop
			}
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				down.Close()
				continue
			}
			if !p.track(down, up) {
				return
			}
			p.wg.Go(func() { p.pipe(down, up) })
			p.wg.Go(func() { p.pipe(up, down) })
		}
	})
}

// track registers a forwarded pair, unless the proxy was stopped meanwhile.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// pipe copies one direction; when either side ends, both are closed.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range []net.Conn{dst, src} {
		c.Close()
		delete(p.conns, c)
	}
}

// Stop refuses new connections and cuts the open ones.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Restart listens on the same address again.
func (p *tcpProxy) Restart() {
	p.t.Helper()
	var ln net.Listener
	testkit.Eventually(p.t, 10*time.Second, "proxy: listen on "+p.addr+" again", func() error {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err
	})
	p.serve(ln)
}

// viaProxy rewrites a PostgreSQL URL to connect through the proxy and
// returns the address it connected to before.
func viaProxy(t testing.TB, dsn string, proxy func(target string) string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("the test database DSN must be a postgres:// URL with a host (TEST_DATABASE_URL)")
	}
	u.Host = proxy(u.Host)
	return u.String()
}
