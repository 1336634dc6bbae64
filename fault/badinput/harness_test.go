// Package badinput sends malformed requests to the real order-service binary
// over gRPC and REST and checks that each is refused the way the API
// promises: INVALID_ARGUMENT (400) naming the field in a BadRequest, or
// RESOURCE_EXHAUSTED (413) for size and 415 for the content type; never
// INTERNAL/500, never a word of SQL, driver, file or stack in the answer,
// and never a change of state. Requests that only look dangerous (SQL in a
// name) must succeed and be stored verbatim.
//
// The plain test runs the binary in its embedded mode (SQLite, in-process
// broker); the integration-tagged one repeats the suite on PostgreSQL.
package badinput

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
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

	_ "modernc.org/sqlite" // reads the embedded store's counts, read-only
)

const (
	readyTimeout = 90 * time.Second
	stopTimeout  = 40 * time.Second
	pollEvery    = 25 * time.Millisecond
	callTimeout  = 20 * time.Second
)

// binaryPath is the service binary TestMain builds.
var binaryPath string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "order-service-badinput-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "badinput:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	binaryPath = filepath.Join(dir, "order-service")
	root, err := filepath.Abs("../..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "badinput:", err)
		return 2
	}
	cmd := exec.Command("go", "build", "-o", binaryPath, "./cmd/server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "badinput: go build ./cmd/server: %v\n%s", err, out)
		return 2
	}
	return m.Run()
}

// counter reports the rows of the tables a request could change.
type counter interface {
	Counts(ctx context.Context) (map[string]int64, error)
}

// countedTables are compared before and after every malformed request.
var countedTables = []string{"orders", "order_items", "order_events", "idempotency_keys"}

func countAll(ctx context.Context, q func(ctx context.Context, query string) (int64, error)) (map[string]int64, error) {
	out := make(map[string]int64, len(countedTables))
	for _, t := range countedTables {
		n, err := q(ctx, "SELECT count(*) FROM "+t)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// sqliteCounter reads the embedded database through a read-only connection
// of its own (the service holds its lock file, not the database).
type sqliteCounter struct{ db *sql.DB }

func (c sqliteCounter) Counts(ctx context.Context) (map[string]int64, error) {
	return countAll(ctx, func(ctx context.Context, q string) (int64, error) {
		var n int64
		err := c.db.QueryRowContext(ctx, q).Scan(&n)
		return n, err
	})
}

// service is the binary running as a child process.
type service struct {
	t        testing.TB
	cmd      *exec.Cmd
	logs     *syncBuffer
	exited   chan struct{}
	waitErr  error
	grpcAddr string
	httpAddr string
	conn     *grpc.ClientConn
	client   orderv1.OrderServiceClient
	http     *http.Client
	state    counter
}

// freeAddrs returns n distinct free loopback addresses.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
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
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out
}

// startEmbedded runs the binary with no DATABASE_URL and no KAFKA_BROKERS:
// embedded SQLite and broker, in a fresh DATA_DIR, on free ports.
func startEmbedded(t *testing.T) *service {
	dataDir := t.TempDir()
	addrs := freeAddrs(t, 3)
	s := start(t, map[string]string{
		"DATA_DIR": dataDir, "GRPC_ADDR": addrs[0], "HTTP_ADDR": addrs[1], "EMBEDDED_KAFKA_ADDR": addrs[2],
	})
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "orders.db")+"?mode=ro")
	if err != nil {
		t.Fatalf("open the embedded database read-only: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s.state = sqliteCounter{db: db}
	return s
}

// start starts the binary with env plus the settings every run shares, and
// waits until /readyz answers 200.
func start(t *testing.T, env map[string]string) *service {
	t.Helper()
	touchSources(t)
	s := &service{t: t, logs: &syncBuffer{}, exited: make(chan struct{}),
		grpcAddr: env["GRPC_ADDR"], httpAddr: env["HTTP_ADDR"], http: &http.Client{Timeout: callTimeout}}
	base := map[string]string{
		"LOG_FORMAT": "json",
		// The suite sends a few hundred requests from one address: the
		// rate limit is not what it tests.
		"RATE_LIMIT_RPS": "0",
	}
	for k, v := range env {
		base[k] = v
	}
	s.cmd = exec.Command(binaryPath)
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range base {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	slices.Sort(s.cmd.Env)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binaryPath, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(s.cleanup)
	if err := s.waitReady(); err != nil {
		t.Fatalf("service: %v", err)
	}
	conn, err := grpc.NewClient(s.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	s.conn, s.client = conn, orderv1.NewOrderServiceClient(conn)
	return s
}

func (s *service) waitReady() error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		resp, err := s.http.Get("http://" + s.httpAddr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before it was ready (%v)", s.waitErr)
		case <-deadline.C:
			return fmt.Errorf("not ready after %s", readyTimeout)
		case <-tick.C:
		}
	}
}

// cleanup stops the service with SIGTERM (a clean exit is expected) and
// shows its log when the test failed or the log reports a panic.
func (s *service) cleanup() {
	if s.conn != nil {
		s.conn.Close()
	}
	select {
	case <-s.exited:
		s.t.Errorf("service exited during the test: %v", s.waitErr)
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			if s.waitErr != nil {
				s.t.Errorf("service exit after SIGTERM: %v", s.waitErr)
			}
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.t.Errorf("service still running %s after SIGTERM", stopTimeout)
		}
	}
	logs := s.logs.String()
	if strings.Contains(logs, "panic") {
		s.t.Errorf("the service log mentions a panic")
	}
	if s.t.Failed() {
		if len(logs) > 32<<10 {
			logs = "…" + logs[len(logs)-32<<10:]
		}
		s.t.Logf("service log:\n%s", logs)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// touchSources opens every file the service binary is built from. go test
// caches a package's result keyed on the files its tests open; the build in
// TestMain runs in another process, invisible to it, so without this a
// change to the service would be answered from the cache.
func touchSources(t testing.TB) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".sql", ".proto", ".mod", ".sum", ".json", ".yaml":
			f, err := os.Open(path)
			if err == nil {
				f.Close()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the sources: %v", err)
	}
}
