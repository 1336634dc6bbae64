package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/testkit"
)

// requestTimeout is the deadline of each load request, and the service's
// REQUEST_TIMEOUT: the bound "fail fast" is measured against.
const requestTimeout = 10 * time.Second

// scenarioResult is one PASS/FAIL line plus the details behind it.
type scenarioResult struct {
	name, title string
	pass        bool
	counts      string
	details     []string
	took        time.Duration
}

func (r scenarioResult) print(w io.Writer) {
	verdict := "PASS"
	if !r.pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s %s (%s): %s [%s]\n", verdict, r.name, r.title, r.counts, r.took.Round(time.Second))
	for _, d := range r.details {
		fmt.Fprintf(w, "    %s\n", d)
	}
}

// fail records a reason the scenario failed.
func (r *scenarioResult) fail(format string, args ...any) {
	r.pass = false
	r.details = append(r.details, "FAIL: "+fmt.Sprintf(format, args...))
}

func (r *scenarioResult) note(format string, args ...any) {
	r.details = append(r.details, fmt.Sprintf(format, args...))
}

// scenarios by their letter. They time their phases (how long an outage
// lasts, how long load runs between faults) with outbox.Sleep: that is the
// scenario itself, not a wait for a condition.
var scenarios = map[string]func(context.Context, *env) scenarioResult{
	"a": scenarioKill,
	"b": scenarioPostgresOutage,
	"c": scenarioKafkaOutage,
	"d": scenarioHeldTransaction,
	"e": scenarioWriteRace,
	"f": scenarioRestartDuringKafkaOutage,
}

// run is one scenario's service: its own database and topic on the shared
// cluster and broker, its own journal and log.
type scenarioRun struct {
	env     *env
	name    string
	dbURL   string
	topic   string
	svc     *service
	conn    *grpc.ClientConn
	sender  *sender
	journal *journal
	pool    *pgxpool.Pool
	logFile *os.File
}

func (e *env) newRun(ctx context.Context, name string, extraEnv map[string]string) (*scenarioRun, error) {
	r := &scenarioRun{env: e, name: name, topic: "fault-" + name}
	db := "fault_" + name
	if err := e.pg.CreateDatabase(ctx, db); err != nil {
		return nil, fmt.Errorf("create database %s: %w", db, err)
	}
	r.dbURL = e.pg.URL(db)
	addrs, err := testkit.FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(e.opts.work, "data-"+name)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	senv := map[string]string{
		"SERVICE_NAME":                   "order-service",
		"CELL_ID":                        "fault",
		"DATABASE_URL":                   r.dbURL,
		"KAFKA_BROKERS":                  e.broker.Addr(),
		"KAFKA_TOPIC":                    r.topic,
		"KAFKA_TOPIC_PARTITIONS":         "3",
		"KAFKA_TOPIC_REPLICATION_FACTOR": "1",
		"GRPC_ADDR":                      addrs[0],
		"HTTP_ADDR":                      addrs[1],
		"DATA_DIR":                       dataDir,
		"LOG_FORMAT":                     "json",
		"AUTH_MODE":                      "off", // the harness tests faults, not authentication
		"RATE_LIMIT_RPS":                 "0",   // nor the rate limit: the load is one principal
		"REQUEST_TIMEOUT":                requestTimeout.String(),
		"SHUTDOWN_TIMEOUT":               "10s",
	}
	for k, v := range extraEnv {
		senv[k] = v
	}
	if r.logFile, err = os.Create(filepath.Join(e.opts.work, name+".server.log")); err != nil {
		return nil, err
	}
	r.svc = newService(e.opts.serverBin, senv, r.logFile)
	if _, err := r.svc.Start(ctx); err != nil {
		r.close()
		return nil, fmt.Errorf("start service: %w (log: %s)", err, r.logFile.Name())
	}
	r.conn, err = grpc.NewClient(r.svc.GRPCAddr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}))
	if err != nil {
		r.close()
		return nil, err
	}
	if r.journal, err = createJournal(filepath.Join(e.opts.work, name+".jsonl")); err != nil {
		r.close()
		return nil, err
	}
	r.sender = &sender{client: orderv1.NewOrderServiceClient(r.conn), journal: r.journal, scenario: name, timeout: requestTimeout}
	if r.pool, err = pgxpool.New(ctx, r.dbURL); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *scenarioRun) newLoad(workers int) *load {
	return &load{s: r.sender, workers: workers, retryFor: 30 * time.Second, seed: r.env.opts.seed}
}

// entries flushes the scenario's journal and reads it back.
func (r *scenarioRun) entries() ([]Entry, error) {
	if err := r.journal.Flush(); err != nil {
		return nil, err
	}
	return readJournal(r.journal.path)
}

// check runs the checker on the scenario's journal.
func (r *scenarioRun) check(ctx context.Context, absent []string, expected ...codes.Code) (*checkResult, error) {
	if err := r.journal.Flush(); err != nil {
		return nil, err
	}
	c := &checker{
		scenario: r.name, journalPath: r.journal.path, pool: r.pool, brokers: []string{r.env.broker.Addr()},
		topic: r.topic, sender: r.sender, drainTimeout: 120 * time.Second, absent: absent,
		expectedCodes: map[codes.Code]bool{},
	}
	for _, code := range expected {
		c.expectedCodes[code] = true
	}
	return c.Run(ctx)
}

// finish stops the service cleanly (a clean exit is part of the check) and
// releases everything.
func (r *scenarioRun) finish(res *scenarioResult) {
	if r.svc != nil && r.svc.proc != nil {
		if err := r.svc.Stop(); err != nil {
			res.fail("service did not stop cleanly on SIGTERM: %v", err)
		}
	}
	r.close()
}

func (r *scenarioRun) close() {
	if r.pool != nil {
		r.pool.Close()
	}
	if r.conn != nil {
		r.conn.Close()
	}
	if r.svc != nil {
		r.svc.Kill()
	}
	if r.journal != nil {
		_ = r.journal.Close()
	}
	if r.logFile != nil {
		_ = r.logFile.Close()
	}
}

// judge turns a check result into the scenario's verdict and counts.
func judge(res *scenarioResult, c *checkResult) {
	res.counts = c.Summary()
	res.note("codes per attempt: %s; kafka drain wait %s", fmtCodes(c.Codes), c.Drain.Round(time.Millisecond))
	if c.ProblemCount > 0 {
		res.fail("%d problems", c.ProblemCount)
		for _, p := range c.Problems {
			res.note("  %s", p)
		}
	}
	if c.Lost != 0 || c.Phantoms != 0 || c.SecondOrders != 0 || !c.Consistency.Clean() {
		res.pass = false
	}
	if c.Acked == 0 {
		res.fail("nothing was acknowledged: the scenario proved nothing")
	}
}

// window selects the journal entries of the load phase sent in [from, to).
func window(entries []Entry, from, to time.Time) []Entry {
	var out []Entry
	for _, e := range entries {
		if e.Phase != "retry" && !e.Sent.Before(from) && e.Sent.Before(to) {
			out = append(out, e)
		}
	}
	return out
}

func errorf(name, title string, err error) scenarioResult {
	return scenarioResult{name: name, title: title, counts: "error: " + strings.ReplaceAll(err.Error(), "\n", " ")}
}
