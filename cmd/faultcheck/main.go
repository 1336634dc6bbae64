// Command faultcheck is the fault harness of the order service: it runs the
// real server binary against a private PostgreSQL cluster and a Kafka broker
// it controls, puts it under load while it injects faults (kill -9, a
// database outage, a broker outage, a restart during one, a long-held
// transaction, a write race), journals every request, and then checks that
// nothing acknowledged was lost, nothing was applied twice, nothing from a
// rolled-back transaction was published and every order's events reached
// Kafka in order.
//
// Run it through scripts/fault.sh; docs/RELIABILITY.md explains each
// scenario. It prints one PASS/FAIL line per scenario and exits 1 if any
// failed, 3 if the environment cannot host the private cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	short     bool
	serverBin string
	work      string
	scenarios string
	seed      uint64
	keep      bool
	// heldOrders is how many orders scenario d locks (each holds one
	// service transaction open).
	heldOrders int
}

func main() {
	var o options
	flag.BoolVar(&o.short, "short", false, "CI variant: shorter outages and load (about 1-2 minutes)")
	flag.StringVar(&o.serverBin, "server-bin", "", "the order-service binary (go build ./cmd/server)")
	flag.StringVar(&o.work, "work", "", "working directory: journals, logs, the private cluster (default: a new temporary directory)")
	flag.StringVar(&o.scenarios, "scenarios", "a,b,c,d,e,f", "scenarios to run: a=kill-9, b=postgres outage, c=kafka outage, d=held transaction, e=write race, f=restart during a kafka outage")
	flag.Uint64Var(&o.seed, "seed", 0, "load seed (0: from the clock)")
	flag.IntVar(&o.heldOrders, "held-orders", 0, "scenario d: how many orders the held transaction locks, each blocking one service transaction (0: 1 with -short, 2 otherwise)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary working directory even when every scenario passes (a -work directory is always kept)")
	flag.Parse()
	if o.serverBin == "" {
		fmt.Fprintln(os.Stderr, "faultcheck: -server-bin is required (scripts/fault.sh builds it)")
		os.Exit(2)
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := runAll(ctx, o)
	stop()
	os.Exit(code)
}

func runAll(ctx context.Context, o options) int {
	created := o.work == ""
	if created {
		dir, err := os.MkdirTemp("", "faultcheck-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultcheck:", err)
			return 2
		}
		o.work = dir
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "faultcheck:", err)
		return 2
	}
	// The server's OS user must reach the cluster directory inside.
	_ = os.Chmod(o.work, 0o755)
	if err := clearWork(o.work); err != nil {
		fmt.Fprintln(os.Stderr, "faultcheck:", err)
		return 2
	}
	bin, err := filepath.Abs(o.serverBin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultcheck:", err)
		return 2
	}
	o.serverBin = bin

	start := time.Now()
	fmt.Printf("faultcheck: %s, short=%v, seed=%d, load average %s, work %s\n",
		start.UTC().Format(time.RFC3339), o.short, o.seed, loadAverage(), o.work)
	e, err := setUp(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultcheck: set-up:", err)
		if e != nil {
			e.tearDown()
		}
		if _, missing := err.(envError); missing {
			return 3
		}
		return 2
	}
	fmt.Printf("faultcheck: private PostgreSQL on 127.0.0.1:%d (%s), Kafka broker on %s\n", e.pg.port, e.pg.dir, e.broker.Addr())

	var results []scenarioResult
	for _, name := range strings.Split(o.scenarios, ",") {
		name = strings.TrimSpace(name)
		sc, ok := scenarios[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "faultcheck: unknown scenario %q\n", name)
			e.tearDown()
			return 2
		}
		if ctx.Err() != nil {
			break
		}
		began := time.Now()
		res := sc(ctx, e)
		res.took = time.Since(began)
		results = append(results, res)
		res.print(os.Stdout)
	}
	e.tearDown()

	failed := 0
	for _, r := range results {
		if !r.pass {
			failed++
		}
	}
	fmt.Printf("faultcheck: %d passed, %d failed in %s (load average %s)\n",
		len(results)-failed, failed, time.Since(start).Round(time.Second), loadAverage())
	if failed > 0 || ctx.Err() != nil {
		fmt.Printf("faultcheck: journals and logs kept in %s\n", o.work)
		return 1
	}
	if created && !o.keep {
		_ = os.RemoveAll(o.work)
	}
	return 0
}

// envError is a set-up failure of the machine rather than of the service.
type envError struct{ error }

// env is what every scenario shares: the private cluster and the broker.
type env struct {
	opts   options
	pg     *pgCluster
	broker *broker
}

func setUp(ctx context.Context, o options) (*env, error) {
	e := &env{opts: o}
	pg, err := newPGCluster(ctx, filepath.Join(o.work, "pg"))
	if err != nil {
		return nil, envError{err}
	}
	e.pg = pg
	if err := pg.Start(ctx); err != nil {
		return e, err
	}
	b, err := startBroker(filepath.Join(o.work, "kafka"))
	if err != nil {
		return e, err
	}
	e.broker = b
	return e, nil
}

func (e *env) tearDown() {
	if e.broker != nil {
		e.broker.Stop()
	}
	if e.pg != nil {
		e.pg.Destroy()
	}
}

// pick returns the short or the full value.
func (e *env) pick(short, full int) int {
	if e.opts.short {
		return short
	}
	return full
}

func (e *env) pickDur(short, full time.Duration) time.Duration {
	if e.opts.short {
		return short
	}
	return full
}

// clearWork removes what an earlier run left in the working directory (a
// broker log with old records would read as phantoms), refusing to touch a
// cluster that still runs.
func clearWork(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "pg", "postmaster.pid")); err == nil {
		return fmt.Errorf("%s/pg holds a running PostgreSQL cluster; stop it (pg_ctl -D %s/pg -m immediate stop) or use another -work", dir, dir)
	}
	for _, pattern := range []string{"pg", "kafka", "data-*", "*.jsonl", "*.server.log", "postgres.log"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if err := os.RemoveAll(m); err != nil {
				return err
			}
		}
	}
	return nil
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
