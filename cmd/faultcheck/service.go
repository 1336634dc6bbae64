package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Bounds of the service's process lifecycle: failure bounds, generous for a
// busy 2-core machine, not performance targets.
const (
	serviceReadyTimeout = 90 * time.Second
	serviceStopTimeout  = 30 * time.Second
	pollEvery           = 25 * time.Millisecond
)

// service is the order-service binary running as a child process. The same
// environment (ports included) is reused by every restart.
type service struct {
	bin    string
	env    []string
	log    io.Writer
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's result, valid once exited is closed

	GRPCAddr, HTTPAddr string
	http               *http.Client
}

func newService(bin string, env map[string]string, log io.Writer) *service {
	s := &service{bin: bin, log: log, GRPCAddr: env["GRPC_ADDR"], HTTPAddr: env["HTTP_ADDR"],
		http: &http.Client{Timeout: 2 * time.Second}}
	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		s.env = append(s.env, k+"="+v)
	}
	slices.Sort(s.env)
	return s
}

// Start starts the process and waits until /readyz answers 200.
func (s *service) Start(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	s.cmd = exec.Command(s.bin)
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		s.err = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	if err := s.waitReady(ctx); err != nil {
		s.Kill()
		return 0, err
	}
	return time.Since(start), nil
}

func (s *service) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serviceReadyTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if s.Ready(ctx) == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("service exited before it was ready: %v", s.err)
		case <-ctx.Done():
			return fmt.Errorf("service not ready after %s", serviceReadyTimeout)
		case <-tick.C:
		}
	}
}

// Ready asks /readyz; nil means 200.
func (s *service) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Kill sends SIGKILL — no shutdown, no flush — and reaps the process.
func (s *service) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// Stop sends SIGTERM and waits for a clean exit; SIGKILL after the bound.
func (s *service) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.exited:
		return fmt.Errorf("service had already exited: %v", s.err)
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(serviceStopTimeout)
	defer t.Stop()
	select {
	case <-s.exited:
		return s.err
	case <-t.C:
		s.Kill()
		return fmt.Errorf("service ignored SIGTERM for %s", serviceStopTimeout)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeAddrs returns n distinct free loopback addresses (all listeners are
// held together, so the ports differ).
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, "127.0.0.1:"+strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return out, nil
}
