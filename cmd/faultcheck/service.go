package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/acme/order-service/internal/testkit"
	"github.com/acme/order-service/internal/testkit/procs"
)

// Bounds of the service's process lifecycle: failure bounds, generous for a
// busy 2-core machine, not performance targets.
const (
	serviceReadyTimeout = 90 * time.Second
	serviceStopTimeout  = 30 * time.Second
)

// service is the order-service binary running as a child process. The same
// environment (ports included) is reused by every restart.
type service struct {
	spec procs.Spec
	proc *procs.Process // the current run; nil before the first Start

	GRPCAddr, HTTPAddr string
	http               *http.Client
}

func newService(bin string, env map[string]string, log io.Writer) *service {
	return &service{
		spec:     procs.Spec{Bin: bin, Env: env, Output: log, OwnGroup: true},
		GRPCAddr: env["GRPC_ADDR"], HTTPAddr: env["HTTP_ADDR"],
		http: &http.Client{Timeout: 2 * time.Second},
	}
}

// Start starts the process and waits until /readyz answers 200.
func (s *service) Start(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	proc, err := procs.Start(s.spec)
	if err != nil {
		return 0, err
	}
	s.proc = proc
	if err := proc.WaitReady(ctx, s.HTTPAddr, serviceReadyTimeout); err != nil {
		proc.Kill()
		return 0, fmt.Errorf("service %w", err)
	}
	return time.Since(start), nil
}

// Ready asks /readyz; nil means 200.
func (s *service) Ready(ctx context.Context) error {
	return testkit.CheckOK(ctx, s.http, "http://"+s.HTTPAddr+"/readyz")
}

// Kill sends SIGKILL — no shutdown, no flush — and reaps the process.
func (s *service) Kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// Stop sends SIGTERM and waits for a clean exit; SIGKILL after the bound.
func (s *service) Stop() error {
	if s.proc == nil {
		return nil
	}
	if err := s.proc.Stop(serviceStopTimeout); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	addrs, err := testkit.FreeAddrs(1)
	if err != nil {
		return 0, err
	}
	_, port, err := net.SplitHostPort(addrs[0])
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(port)
}
