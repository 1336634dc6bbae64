package grpcapi_test

import (
	"errors"
	"net"
	"testing"

	"github.com/acme/order-service/internal/interfaces/grpcapi"
)

// TestListenerMergesNetworkAndGateway: Accept hands out both kinds of
// connection, marks the gateway's, and Close ends both sources.
func TestListenerMergesNetworkAndGateway(t *testing.T) {
	network, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := grpcapi.NewListener(network)
	if lis.Addr().String() != network.Addr().String() {
		t.Errorf("Addr = %v, want the network address %v", lis.Addr(), network.Addr())
	}

	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := lis.DialGateway(t.Context(), "")
		if err != nil {
			t.Errorf("dial gateway: %v", err)
		}
		dialed <- c
	}()
	c, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.RemoteAddr().(grpcapi.GatewayAddr); !ok {
		t.Errorf("gateway connection's peer = %v, want GatewayAddr", c.RemoteAddr())
	}
	_ = c.Close()
	_ = (<-dialed).Close()

	tcp, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if c, err = lis.Accept(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
		t.Errorf("network connection's peer = %v, want a TCP address", c.RemoteAddr())
	}
	_ = c.Close()

	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := lis.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if _, err := lis.DialGateway(t.Context(), ""); err == nil {
		t.Error("DialGateway after Close succeeded")
	}
	if _, err := net.Dial("tcp", network.Addr().String()); err == nil {
		t.Error("the network listener is still open after Close")
	}
}
