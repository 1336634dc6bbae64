//go:build integration

package postgres_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/infrastructure/system"
)

// pgbenchDir holds the baseline scripts bench/run.sh measures the service
// against (bench/pgbench/generate.sh writes them).
const pgbenchDir = "../../../bench/pgbench"

// The pgbench baseline must run exactly the statements the service sends for
// one CreateOrder and one GetOrder, in the same round trips: every block of
// each script is compared with what the Store sends, captured on the wire
// side of pgx by a tracer, through the application's handlers as the gRPC
// API calls them. Whitespace and parameter spelling ($n, :name) are
// normalised; everything else must be equal.
func TestPgbenchScriptsRunTheServiceSQL(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	rec := &tripRecorder{}
	store := postgres.NewOrderStore(tracedPool(t, pool, rec))
	cmds := application.NewCommands(store, store, system.Clock{}, system.UUIDv7{}, application.CommandsConfig{
		Origin: application.Origin{ServiceName: "order-service", CellID: "local"}, MaxAttempts: 5,
	})
	queries := application.NewQueries(store, store)
	ctx := t.Context()
	actor := application.Actor{ID: "anonymous", Role: application.RoleAdmin}

	rec.take()
	created, err := cmds.CreateOrder(ctx, application.CreateOrder{
		Meta:   application.CommandMeta{Actor: actor, RequestID: "bench-1"},
		UserID: "user-1", ShippingAddress: "1 Bench Street, Loadtown",
		Items: []application.NewItem{
			{ProductID: "sku-1", ProductName: "Product 1", Quantity: 1, UnitPrice: "19.99"},
			{ProductID: "sku-2", ProductName: "Product 2", Quantity: 2, UnitPrice: "5.00"},
		},
	})
	storeMust(t, err)
	createTrips := rec.take()
	_, err = queries.GetOrder(ctx, actor, created.ID.String())
	storeMust(t, err)
	getTrips := rec.take()

	for _, tc := range []struct {
		script  string
		service [][]string
	}{
		{"create_order.sql", createTrips},
		{"get_order.sql", getTrips},
	} {
		t.Run(tc.script, func(t *testing.T) {
			want := normaliseTrips(t, tc.service, serviceParam)
			blocks := scriptBlocks(t, filepath.Join(pgbenchDir, tc.script))
			if len(blocks) < 2 {
				t.Fatalf("%s has %d blocks, want several", tc.script, len(blocks))
			}
			for i, block := range blocks {
				got := normaliseTrips(t, block, pgbenchParam)
				if diff := tripsDiff(want, got); diff != "" {
					t.Errorf("%s block %d differs from what the service sends (re-run bench/pgbench/generate.sh?):\n%s", tc.script, i, diff)
				}
			}
		})
	}
}

// The scripts also run: a few transactions of each against a fresh
// database write (and read) the rows the service would.
func TestPgbenchScriptsRun(t *testing.T) {
	t.Parallel()
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		t.Skip("pgbench is not installed (Debian: postgresql-client); bench/run.sh needs it")
	}
	pool := pgtest.NewMigratedPool(t)
	ctx := t.Context()
	dsn := pool.Config().ConnString()
	run := func(script string, n int) {
		t.Helper()
		cmd := exec.CommandContext(ctx, pgbench, "-n", "-M", "prepared", "-D", "step=0", "-c", "2", "-t", strconv.Itoa(n),
			"-f", filepath.Join(pgbenchDir, script), dsn)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "number of failed transactions: 0") {
			t.Fatalf("pgbench %s: %v\n%s", script, err, out)
		}
	}
	run("create_order.sql", 10) // more than one round of blocks per client
	var orders, items, events, requests int
	storeMust(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items),
		(SELECT count(*) FROM order_events), (SELECT count(*) FROM idempotency_keys)`).Scan(&orders, &items, &events, &requests))
	if orders != 20 || items != 40 || events != 20 || requests != 20 {
		t.Fatalf("after 20 pgbench CreateOrders: %d orders, %d items, %d events, %d requests; want 20, 40, 20, 20", orders, items, events, requests)
	}
	storeConsistent(t, pool)
	// 1000 rows n = 1..1000, each naming one of the 20 orders.
	_, err = pool.Exec(ctx, `CREATE TABLE bench_read_ids AS
		SELECT g AS n, (SELECT id FROM orders ORDER BY id OFFSET g % 20 LIMIT 1) AS id FROM generate_series(1, 1000) AS g`)
	storeMust(t, err)
	run("get_order.sql", 10)
}

// tripRecorder keeps the statements of every round trip a pool's
// connections make: a query is one, a batch (one pipeline) is one.
type tripRecorder struct {
	mu    sync.Mutex
	trips [][]string
}

func (r *tripRecorder) add(trip []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.trips = append(r.trips, trip)
}

// take returns the trips recorded since the last take.
func (r *tripRecorder) take() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	trips := r.trips
	r.trips = nil
	return trips
}

func (r *tripRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.add([]string{data.SQL})
	return ctx
}

func (r *tripRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *tripRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	trip := make([]string, 0, len(data.Batch.QueuedQueries))
	for _, q := range data.Batch.QueuedQueries {
		trip = append(trip, q.SQL)
	}
	r.add(trip)
	return ctx
}

func (r *tripRecorder) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (r *tripRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedPool opens a pool on like's database whose connections report to rec.
func tracedPool(t *testing.T, like *pgxpool.Pool, rec *tripRecorder) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(like.Config().ConnString())
	storeMust(t, err)
	cfg.ConnConfig.Tracer = rec
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	storeMust(t, err)
	t.Cleanup(pool.Close)
	return pool
}

var (
	serviceParam = regexp.MustCompile(`\$(\d+)`)
	pgbenchParam = regexp.MustCompile(`(^|[^:]):([A-Za-z_][A-Za-z0-9_]*)`)
	whitespace   = regexp.MustCompile(`\s+`)
)

// normaliseTrips collapses whitespace and writes every parameter as "?".
// For the service's SQL it also checks that $1..$n appear in order, each
// once: then the n-th "?" is the n-th parameter in both spellings.
func normaliseTrips(t *testing.T, trips [][]string, param *regexp.Regexp) [][]string {
	t.Helper()
	out := make([][]string, len(trips))
	for i, trip := range trips {
		for _, sql := range trip {
			if param == serviceParam {
				for n, m := range serviceParam.FindAllStringSubmatch(sql, -1) {
					if m[1] != strconv.Itoa(n+1) {
						t.Fatalf("service statement uses $%s as its parameter %d; the comparison needs $1..$n in order:\n%s", m[1], n+1, sql)
					}
				}
				sql = param.ReplaceAllString(sql, "?")
			} else {
				sql = param.ReplaceAllString(sql, "$1?")
			}
			sql = strings.TrimSuffix(strings.TrimSpace(whitespace.ReplaceAllString(sql, " ")), ";")
			out[i] = append(out[i], strings.TrimSpace(sql))
		}
	}
	return out
}

func tripsDiff(want, got [][]string) string {
	if slices.EqualFunc(want, got, slices.Equal[[]string]) {
		return ""
	}
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g []string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if slices.Equal(w, g) {
			continue
		}
		fmt.Fprintf(&b, "round trip %d:\n  service: %q\n  pgbench: %q\n", i+1, w, g)
	}
	return b.String()
}

// scriptBlocks parses a generated pgbench script into its blocks (the
// branches of the \if :step chain that holds the measured statements) and
// each block into round trips: a statement outside a pipeline is one, a
// \startpipeline … \endpipeline is one. The helper \gset queries, which
// only make ids, sit in their own \if and are skipped.
func scriptBlocks(t *testing.T, path string) [][][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	storeMust(t, err)
	var blocks [][][]string
	var block [][]string
	var pipeline []string
	inPipeline, inBlock := false, false
	var stmt strings.Builder
	flush := func(line int) {
		sql := strings.TrimSpace(stmt.String())
		stmt.Reset()
		if sql == "" {
			return
		}
		if strings.HasSuffix(sql, `\gset`) {
			if inBlock {
				t.Fatalf("%s:%d: a \\gset query inside a measured block", path, line)
			}
			return
		}
		if !inBlock {
			t.Fatalf("%s:%d: a statement outside the measured blocks: %s", path, line, sql)
		}
		if inPipeline {
			pipeline = append(pipeline, sql)
		} else {
			block = append(block, []string{sql})
		}
	}
	endBlock := func() {
		if inBlock {
			blocks = append(blocks, block)
		}
		block, inBlock = nil, false
	}
	for n, line := range strings.Split(string(raw), "\n") {
		n++
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "--"):
		case strings.HasPrefix(trimmed, `\`) && stmt.Len() == 0:
			switch fields := strings.Fields(trimmed); fields[0] {
			case `\if`, `\elif`:
				endBlock()
				inBlock = isMeasuredBranch(string(raw), n)
			case `\endif`:
				endBlock()
			case `\startpipeline`:
				inPipeline, pipeline = true, nil
			case `\endpipeline`:
				block = append(block, pipeline)
				inPipeline = false
			case `\set`:
			default:
				t.Fatalf("%s:%d: unexpected meta-command %s", path, n, fields[0])
			}
		default:
			stmt.WriteString(line)
			stmt.WriteString("\n")
			if strings.HasSuffix(trimmed, ";") || strings.HasSuffix(trimmed, `\gset`) {
				flush(n)
			}
		}
	}
	return blocks
}

// isMeasuredBranch reports whether the \if or \elif on line n (1-based)
// opens a branch of statements rather than the helper \gset query: the
// helper's branch ends in a line with \gset before the next meta-command
// that is not \set.
func isMeasuredBranch(script string, n int) bool {
	lines := strings.Split(script, "\n")
	for _, l := range lines[n:] {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasSuffix(l, `\gset`):
			return false
		case strings.HasPrefix(l, `\if`), strings.HasPrefix(l, `\elif`), strings.HasPrefix(l, `\endif`), strings.HasPrefix(l, `\startpipeline`):
			return true
		}
	}
	return true
}
