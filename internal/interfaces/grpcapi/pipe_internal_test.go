package grpcapi

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// TestPipeListener: a dialled connection is accepted and carries bytes both
// ways; a dial without Accept ends with its context; Close ends Accept and
// later dials.
func TestPipeListener(t *testing.T) {
	l := newPipeListener()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := l.DialContext(t.Context())
		if err != nil {
			t.Errorf("dial: %v", err)
		}
		dialed <- c
	}()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	client := <-dialed
	if client == nil {
		t.FailNow()
	}
	go func() { _, _ = client.Write([]byte("ping")) }()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	go func() { _, _ = server.Write([]byte("pong")) }()
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("client read %q, %v", buf, err)
	}
	_, _ = client.Close(), server.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.DialContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dial nobody accepts = %v, want the context's deadline", err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
	if _, err := l.DialContext(t.Context()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("dial after Close = %v, want net.ErrClosed", err)
	}
	if l.Addr().Network() != "in-process" {
		t.Errorf("Addr = %v", l.Addr())
	}
}
