package grpcapi

import (
	"context"
	"errors"
	"net"
	"sync"
)

// GatewayAddr is the peer address of calls that come from the REST gateway
// over its in-process connection. A network client cannot present it, so the
// edge may trust what the gateway says about the HTTP caller (its address,
// for rate limiting callers without a token).
type GatewayAddr struct{}

// Network implements net.Addr.
func (GatewayAddr) Network() string { return "in-process" }

// String implements net.Addr.
func (GatewayAddr) String() string { return "rest-gateway" }

// Listener is what the gRPC server serves: connections accepted from the
// network plus the REST gateway's in-process connections. The gateway thus
// reaches the very same *grpc.Server — every interceptor, limit and
// credential check but TLS, which an in-memory pipe does not need — without
// a TCP hop, and even when mutual TLS makes network clients present a
// certificate.
type Listener struct {
	network net.Listener
	gateway *pipeListener

	accepted  chan accepted
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type accepted struct {
	conn net.Conn
	err  error
}

// NewListener wraps the gRPC server's network listener.
func NewListener(network net.Listener) *Listener {
	l := &Listener{
		network: network, gateway: newPipeListener(),
		accepted: make(chan accepted), done: make(chan struct{}),
	}
	go l.pump(network, func(c net.Conn) net.Conn { return c })
	go l.pump(l.gateway, func(c net.Conn) net.Conn { return gatewayConn{c} })
	return l
}

// pump hands what from accepts to Accept until the listener closes or
// from fails for good.
func (l *Listener) pump(from net.Listener, wrap func(net.Conn) net.Conn) {
	for {
		c, err := from.Accept()
		if c != nil {
			c = wrap(c)
		}
		select {
		case l.accepted <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
		var temporary interface{ Temporary() bool }
		if err != nil && !(errors.As(err, &temporary) && temporary.Temporary()) {
			return
		}
	}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.accepted:
		return a.conn, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; it closes the network listener too.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.network.Close()
		_ = l.gateway.Close() // never fails
	})
	return l.closeErr
}

// Addr implements net.Listener: the network address.
func (l *Listener) Addr() net.Addr { return l.network.Addr() }

// DialGateway opens an in-process connection, for grpc.WithContextDialer.
func (l *Listener) DialGateway(ctx context.Context, _ string) (net.Conn, error) {
	return l.gateway.DialContext(ctx)
}

// gatewayConn marks the server side of an in-process connection.
type gatewayConn struct{ net.Conn }

func (gatewayConn) RemoteAddr() net.Addr { return GatewayAddr{} }
func (gatewayConn) LocalAddr() net.Addr  { return GatewayAddr{} }
