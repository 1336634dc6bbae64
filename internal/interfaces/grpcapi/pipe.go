package grpcapi

import (
	"context"
	"net"
	"sync"
)

// pipeListener is an in-memory net.Listener: each DialContext makes a
// net.Pipe and hands its server end to Accept. Nothing is buffered, which
// gRPC's transports are fine with: each end has a goroutine reading frames
// all the time.
type pipeListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener. Connections already accepted stay open.
func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *pipeListener) Addr() net.Addr { return GatewayAddr{} }

// DialContext connects to the listener; it waits for Accept, and fails once
// the listener is closed or ctx ends first.
func (l *pipeListener) DialContext(ctx context.Context) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		_, _ = server.Close(), client.Close() // in-memory; never fail
		return nil, net.ErrClosed
	case <-ctx.Done():
		_, _ = server.Close(), client.Close()
		return nil, ctx.Err()
	}
}
