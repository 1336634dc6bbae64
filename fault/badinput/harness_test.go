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
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/testkit"
	"github.com/acme/order-service/internal/testkit/procs"

	_ "modernc.org/sqlite" // reads the embedded store's counts, read-only
)

const (
	readyTimeout = 90 * time.Second
	stopTimeout  = 40 * time.Second
	callTimeout  = 20 * time.Second
)

// bin is the service binary TestMain builds.
var bin procs.Binary

func TestMain(m *testing.M) {
	os.Exit(procs.RunTests(m, false, &bin))
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
	proc     *procs.Process
	logs     *testkit.Buffer
	grpcAddr string
	httpAddr string
	conn     *grpc.ClientConn
	client   orderv1.OrderServiceClient
	http     *http.Client
	state    counter
}

// listenEnv sets the service's three listen addresses to fresh loopback
// ports (never the defaults: other test binaries run at the same time).
func listenEnv(t testing.TB) map[string]string {
	addrs := testkit.MustFreeAddrs(t, 3)
	return map[string]string{"GRPC_ADDR": addrs[0], "HTTP_ADDR": addrs[1], "EMBEDDED_KAFKA_ADDR": addrs[2]}
}

// startEmbedded runs the binary with no DATABASE_URL and no KAFKA_BROKERS:
// embedded SQLite and broker, in a fresh DATA_DIR, on free ports.
func startEmbedded(t *testing.T) *service {
	dataDir := t.TempDir()
	env := listenEnv(t)
	env["DATA_DIR"] = dataDir
	s := start(t, env)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "orders.db")+"?mode=ro")
	if err != nil {
		t.Fatalf("open the embedded database read-only: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s.state = sqliteCounter{db: db}
	return s
}

// start starts the binary with env (which names the listen addresses,
// listenEnv) plus the settings every run shares, and waits until /readyz
// answers 200.
func start(t *testing.T, env map[string]string) *service {
	t.Helper()
	if err := testkit.TouchSources(bin.Root); err != nil {
		t.Fatalf("walk the sources: %v", err)
	}
	s := &service{t: t, logs: &testkit.Buffer{}, grpcAddr: env["GRPC_ADDR"], httpAddr: env["HTTP_ADDR"],
		http: &http.Client{Timeout: callTimeout}}
	base := map[string]string{
		"LOG_FORMAT": "json",
		// The suite sends a few hundred requests from one address: the
		// rate limit is not what it tests.
		"RATE_LIMIT_RPS": "0",
	}
	maps.Copy(base, env)
	proc, err := procs.Start(procs.Spec{Bin: bin.Path, Env: base, Dir: t.TempDir(), Output: s.logs})
	if err != nil {
		t.Fatalf("%v", err)
	}
	s.proc = proc
	t.Cleanup(s.cleanup)
	if err := proc.WaitReady(context.Background(), s.httpAddr, readyTimeout); err != nil {
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

// cleanup stops the service with SIGTERM (a clean exit is expected) and
// shows its log when the test failed or the log reports a panic.
func (s *service) cleanup() {
	if s.conn != nil {
		s.conn.Close()
	}
	if err := s.proc.Stop(stopTimeout); err != nil {
		s.t.Errorf("service: %v", err)
	}
	logs := s.logs.String()
	if strings.Contains(logs, "panic") {
		s.t.Errorf("the service log mentions a panic")
	}
	if s.t.Failed() {
		s.t.Logf("service log:\n%s", testkit.Tail(logs, 32<<10))
	}
}
