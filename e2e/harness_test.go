// Package e2e tests the real order-service binary from the outside: it is
// built once per test run, started as a child process with an explicit
// environment, driven over TCP (gRPC, REST, Kafka) and stopped with SIGTERM.
//
// Every service a test starts listens on free loopback ports, never on the
// defaults (9000, 8080, 9092): test binaries of other packages, and other
// checkouts, run at the same time.
//
// Files without a build tag need no services (embedded SQLite and broker);
// files tagged integration also need PostgreSQL on 127.0.0.1:5432.
package e2e

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/testkit"
	"github.com/acme/order-service/internal/testkit/procs"
)

// Bounds of the process lifecycle. They are failure bounds, not performance
// targets: a race-instrumented binary on a busy 2-core machine must fit.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 40 * time.Second // above the service's SHUTDOWN_TIMEOUT (20s)
	logTail      = 64 << 10         // bytes of service log shown on failure
)

// bin is the service binary TestMain builds.
var bin procs.Binary

// binaryRace: when the tests run with -race the service is built with -race
// too, so a data race inside the service makes it exit non-zero (66) and
// fails the test that stopped it. E2E_BINARY_RACE=0 turns that off.
var binaryRace = procs.RaceEnabled && os.Getenv("E2E_BINARY_RACE") != "0"

func TestMain(m *testing.M) {
	os.Exit(procs.RunTests(m, binaryRace, &bin))
}

// listenEnv sets the service's three listen addresses to fresh loopback
// ports.
func listenEnv(t testing.TB) map[string]string {
	addrs := testkit.MustFreeAddrs(t, 3)
	return map[string]string{"GRPC_ADDR": addrs[0], "HTTP_ADDR": addrs[1], "EMBEDDED_KAFKA_ADDR": addrs[2]}
}

// embeddedEnv is the environment of an embedded-mode service (no
// DATABASE_URL, no KAFKA_BROKERS) on fresh loopback ports.
func embeddedEnv(t testing.TB, dataDir string) map[string]string {
	env := listenEnv(t)
	env["DATA_DIR"] = dataDir
	env["LOG_FORMAT"] = "json"
	return env
}

// service is one running order-service process.
type service struct {
	t    testing.TB
	name string
	proc *procs.Process
	logs *testkit.Buffer

	GRPCAddr, HTTPAddr, KafkaAddr string // addresses to dial
	ReadyAfter                    time.Duration

	grpcConn *grpc.ClientConn
	GRPC     orderv1.OrderServiceClient
	REST     *restClient
}

// startService starts the binary with exactly env (plus PATH and HOME) in
// dir (a fresh temporary directory when empty) and waits until /readyz
// answers 200. env must name GRPC_ADDR, HTTP_ADDR and EMBEDDED_KAFKA_ADDR
// (listenEnv): a test never takes the default ports.
func startService(t testing.TB, name string, env map[string]string, dir string) *service {
	t.Helper()
	for _, key := range []string{"GRPC_ADDR", "HTTP_ADDR", "EMBEDDED_KAFKA_ADDR"} {
		if env[key] == "" {
			t.Fatalf("%s: %s is unset: the service would listen on its default port", name, key)
		}
	}
	if err := testkit.TouchSources(bin.Root); err != nil {
		t.Fatalf("walk the sources: %v", err)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	s := &service{t: t, name: name, logs: &testkit.Buffer{},
		GRPCAddr: env["GRPC_ADDR"], HTTPAddr: env["HTTP_ADDR"], KafkaAddr: env["EMBEDDED_KAFKA_ADDR"]}
	start := time.Now()
	proc, err := procs.Start(procs.Spec{Bin: bin.Path, Env: env, Dir: dir, Output: s.logs})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s.proc = proc
	t.Cleanup(s.cleanup)
	if err := proc.WaitReady(context.Background(), s.HTTPAddr, readyTimeout); err != nil {
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

// Signal sends sig to the process.
func (s *service) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.proc.Signal(sig); err != nil {
		s.t.Fatalf("%s: signal %v: %v", s.name, sig, err)
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
	code, ok := s.proc.Wait(stopTimeout)
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

// cleanup kills a process the test left running and shows the log of a
// failed test (or of a process that reported a data race).
func (s *service) cleanup() {
	s.proc.Kill()
	if s.grpcConn != nil {
		s.grpcConn.Close()
	}
	if s.REST != nil {
		s.REST.http.CloseIdleConnections()
	}
	logs := s.Logs()
	if s.t.Failed() || strings.Contains(logs, "WARNING: DATA RACE") {
		s.t.Logf("%s: service log (%s, exit: %v):\n%s", s.name, bin.Path, s.proc.Err(), testkit.Tail(logs, logTail))
	}
}

// testContext returns a context bounded by the test's deadline, with a cap.
func testContext(t testing.TB, limit time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	t.Cleanup(cancel)
	return ctx
}
