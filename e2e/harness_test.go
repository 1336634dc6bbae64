// Package e2e tests the real order-service binary from the outside: it is
// built once per test run, started as a child process with an explicit
// environment, driven over TCP (gRPC, REST, Kafka) and stopped with SIGTERM.
//
// Files without a build tag need no services (embedded SQLite and broker);
// files tagged integration also need PostgreSQL on 127.0.0.1:5432.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// Bounds of the process lifecycle. They are failure bounds, not performance
// targets: a race-instrumented binary on a busy 2-core machine must fit.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 40 * time.Second // above the service's SHUTDOWN_TIMEOUT (20s)
	pollEvery    = 25 * time.Millisecond
	logTail      = 64 << 10 // bytes of service log shown on failure
)

// binaryPath is the service binary TestMain builds.
var binaryPath string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "order-service-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	binaryPath = filepath.Join(dir, "order-service")
	if err := buildBinary(binaryPath); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	return m.Run()
}

// buildBinary compiles ./cmd/server. When the tests run with -race the
// service is built with -race too, so a data race inside the service makes it
// exit non-zero (66) and fails the test that stopped it. E2E_BINARY_RACE=0
// turns that off.
func buildBinary(out string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if raceEnabled && os.Getenv("E2E_BINARY_RACE") != "0" {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/server")
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	start := time.Now()
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, output)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s (go %s) in %s\n", out, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return nil
}

// freeAddrs returns n distinct loopback addresses that were free a moment
// ago: all listeners are held open together, so the n ports differ.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
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
			t.Fatalf("pick a free port: %v", err)
		}
		listeners = append(listeners, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// portsFree reports whether nothing listens on the given ports (it binds
// each on all interfaces, as the service's default ":9000" does).
func portsFree(ports ...string) (busy []string) {
	for _, p := range ports {
		l, err := net.Listen("tcp", ":"+p)
		if err != nil {
			busy = append(busy, p)
			continue
		}
		l.Close()
	}
	return busy
}

// embeddedEnv is the environment of an embedded-mode service (no
// DATABASE_URL, no KAFKA_BROKERS) on fresh loopback ports.
func embeddedEnv(t testing.TB, dataDir string) map[string]string {
	addrs := freeAddrs(t, 3)
	return map[string]string{
		"DATA_DIR":            dataDir,
		"GRPC_ADDR":           addrs[0],
		"HTTP_ADDR":           addrs[1],
		"EMBEDDED_KAFKA_ADDR": addrs[2],
		"LOG_FORMAT":          "json",
	}
}

// service is one running order-service process.
type service struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	logs    *logBuffer
	exited  chan struct{} // closed once the process was reaped
	waitErr error         // cmd.Wait's result, valid after exited is closed

	GRPCAddr, HTTPAddr, KafkaAddr string // addresses to dial
	ReadyAfter                    time.Duration

	grpcConn *grpc.ClientConn
	GRPC     orderv1.OrderServiceClient
	REST     *restClient
}

// startService starts the binary with exactly env (plus PATH and HOME: no
// variable of the test's own environment leaks into it) in dir (a fresh
// temporary directory when empty) and waits until /readyz answers 200.
func startService(t testing.TB, name string, env map[string]string, dir string) *service {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &service{t: t, name: name, logs: &logBuffer{}, exited: make(chan struct{})}
	s.GRPCAddr = dialAddr(envOr(env, "GRPC_ADDR", ":9000"))
	s.HTTPAddr = dialAddr(envOr(env, "HTTP_ADDR", ":8080"))
	s.KafkaAddr = dialAddr(envOr(env, "EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092"))

	s.cmd = exec.Command(binaryPath)
	s.cmd.Dir = dir
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	slices.Sort(s.cmd.Env)
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	start := time.Now()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("%s: start %s: %v", name, binaryPath, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.cleanup)

	if err := s.waitReady(start); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s.ReadyAfter = time.Since(start)
	t.Logf("%s: ready after %s (grpc %s, http %s, kafka %s)", name, s.ReadyAfter.Round(time.Millisecond), s.GRPCAddr, s.HTTPAddr, s.KafkaAddr)

	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("%s: grpc client: %v", name, err)
	}
	s.grpcConn = conn
	s.GRPC = orderv1.NewOrderServiceClient(conn)
	s.REST = newRESTClient("http://" + s.HTTPAddr)
	return s
}

// waitReady polls /readyz until it answers 200, the process exits, or the
// deadline passes.
func (s *service) waitReady(start time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	last := "no answer yet"
	for {
		resp, err := client.Get("http://" + s.HTTPAddr + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was ready (%v)", s.waitErr)
		case <-deadline.C:
			return fmt.Errorf("not ready %s after start; last /readyz: %s", time.Since(start).Round(time.Millisecond), last)
		case <-tick.C:
		}
	}
}

// Signal sends sig to the process.
func (s *service) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("%s: signal %v: %v", s.name, sig, err)
	}
}

// Wait waits for the process to exit and returns its exit code.
func (s *service) Wait(timeout time.Duration) (code int, ok bool) {
	select {
	case <-s.exited:
	case <-time.After(timeout):
		return 0, false
	}
	var exit *exec.ExitError
	switch {
	case s.waitErr == nil:
		return 0, true
	case errors.As(s.waitErr, &exit):
		return exit.ExitCode(), true
	default:
		return -1, true
	}
}

// Stop sends SIGTERM and asserts that the process exits 0 in time.
func (s *service) Stop() {
	s.t.Helper()
	start := time.Now()
	s.Signal(syscall.SIGTERM)
	s.AssertExit(0, start)
}

// AssertExit waits for the process (signalled at start) to exit with want.
// The clients stay open (calls on them now fail UNAVAILABLE) until cleanup.
func (s *service) AssertExit(want int, start time.Time) {
	s.t.Helper()
	code, ok := s.Wait(stopTimeout)
	if !ok {
		s.t.Fatalf("%s: still running %s after SIGTERM", s.name, stopTimeout)
	}
	if code != want {
		s.t.Fatalf("%s: exit code %d after SIGTERM, want %d (66 = data race)", s.name, code, want)
	}
	s.t.Logf("%s: exited %d, %s after SIGTERM", s.name, code, time.Since(start).Round(time.Millisecond))
}

// Logs returns everything the process wrote so far.
func (s *service) Logs() string { return s.logs.String() }

func (s *service) closeClients() {
	if s.grpcConn != nil {
		s.grpcConn.Close()
		s.grpcConn = nil
	}
	if s.REST != nil {
		s.REST.http.CloseIdleConnections()
	}
}

// cleanup kills a process the test left running and shows the log of a
// failed test (or of a process that reported a data race).
func (s *service) cleanup() {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.closeClients()
	logs := s.Logs()
	if s.t.Failed() || strings.Contains(logs, "WARNING: DATA RACE") {
		if len(logs) > logTail {
			logs = "…" + logs[len(logs)-logTail:]
		}
		s.t.Logf("%s: service log (%s, exit: %v):\n%s", s.name, binaryPath, s.waitErr, logs)
	}
}

// envOr returns env[key], or def when it is unset.
func envOr(env map[string]string, key, def string) string {
	if v, ok := env[key]; ok && v != "" {
		return v
	}
	return def
}

// dialAddr turns a listen address such as ":9000" into one to dial.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return listen
}

// logBuffer collects the process output; the exec package writes to it from
// its own goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// poll calls check every pollEvery until it returns nil, and fails the test
// with check's last error when timeout passes first.
func poll(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		<-tick.C
	}
}

// testContext returns a context bounded by the test's deadline, with a cap.
func testContext(t testing.TB, limit time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	t.Cleanup(cancel)
	return ctx
}
