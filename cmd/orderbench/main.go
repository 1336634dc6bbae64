// Command orderbench is a load generator for the order service's gRPC API.
//
// It runs a mix — create (CreateOrder), lifecycle (create → confirm → pay →
// ship → deliver) or read (GetOrder of orders it creates first) — either in a
// closed loop (-clients workers, each sending its next request when the
// previous answered) or in an open loop (-rate iterations per second on a
// fixed schedule, whatever the answers do). In the open loop every latency is
// measured from the time the request was scheduled to be sent, not from when
// a worker got round to sending it, so a stalled server shows as latency
// instead of silently lowering the offered load (coordinated omission).
//
// It reports throughput, latency percentiles (p50/p95/p99/p99.9/max), errors
// by gRPC code, and — given -server-pid — the server's CPU seconds and peak
// RSS over the run, read from /proc. Given -kafka it also consumes the
// service's topic and reports how long after its ce_time each event arrived.
//
//	go run ./cmd/orderbench -addr 127.0.0.1:9000 -mix create -clients 32 -duration 30s
//	go run ./cmd/orderbench -mix create -rate 1500 -duration 30s -server-pid $PID -kafka 127.0.0.1:9092 -json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	addr        string
	mix         string
	clients     int
	rate        float64
	duration    time.Duration
	count       int64
	warmup      time.Duration
	conns       int
	timeout     time.Duration
	users       int
	items       int
	requestID   bool
	preload     int
	token       string
	serverPID   int
	kafka       string
	topic       string
	kafkaDrain  time.Duration
	jsonOut     bool
	label       string
	maxInFlight int
	cpuProfile  string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("orderbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:9000", "gRPC address of the service")
	fs.StringVar(&c.mix, "mix", "create", "create | lifecycle | read")
	fs.IntVar(&c.clients, "clients", 32, "closed loop: concurrent clients; open loop (-rate): most requests in flight")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: iterations per second on a fixed schedule (0 = closed loop)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measured time (after -warmup); ignored with -n")
	fs.Int64Var(&c.count, "n", 0, "run this many iterations instead of for -duration")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "load before measuring (not counted)")
	fs.IntVar(&c.conns, "conns", 4, "gRPC (HTTP/2) connections the clients share")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "deadline of each call")
	fs.IntVar(&c.users, "users", 100, "distinct user_ids the orders spread over")
	fs.IntVar(&c.items, "items", 2, "line items per CreateOrder")
	fs.BoolVar(&c.requestID, "request-id", true, "send a fresh request_id with every command (idempotent client)")
	fs.IntVar(&c.preload, "preload", 1000, "read mix: orders to create before measuring")
	fs.StringVar(&c.token, "token", os.Getenv("ORDERBENCH_TOKEN"), "bearer token (default $ORDERBENCH_TOKEN); empty with AUTH_MODE=off")
	fs.IntVar(&c.serverPID, "server-pid", 0, "pid of the service: report its CPU time and peak RSS from /proc")
	fs.StringVar(&c.kafka, "kafka", "", "Kafka bootstrap address: consume -topic and report event lag")
	fs.StringVar(&c.topic, "topic", "order-events", "topic the service publishes to")
	fs.DurationVar(&c.kafkaDrain, "kafka-drain", 15*time.Second, "after the load, wait at most this long for the last events")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&c.label, "label", "", "free text copied into the report")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write orderbench's own CPU profile to this file (is the generator the bottleneck?)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.mix != "create" && c.mix != "lifecycle" && c.mix != "read":
		return c, fmt.Errorf("-mix %q: want create, lifecycle or read", c.mix)
	case c.clients < 1 || c.conns < 1 || c.users < 1 || c.items < 1:
		return c, errors.New("-clients, -conns, -users and -items must be at least 1")
	case c.rate < 0 || c.count < 0 || c.duration <= 0 && c.count == 0:
		return c, errors.New("-rate and -n must not be negative; -duration must be positive without -n")
	case c.mix == "read" && c.preload < 1:
		return c, errors.New("-mix read needs -preload of at least 1")
	}
	if c.rate > 0 {
		// Open loop: "clients" bounds the requests in flight; when they are
		// all busy the schedule runs late and the lateness is latency.
		c.maxInFlight = c.clients
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "orderbench:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "orderbench:", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	rep, err := bench(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "orderbench:", err)
		return 1
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "orderbench:", err)
			return 1
		}
	} else {
		rep.print(stdout)
	}
	return 0
}

// bench connects, preloads, runs the load and collects the report.
func bench(ctx context.Context, cfg config, logw io.Writer) (*report, error) {
	wl := &workload{
		mix: cfg.mix, users: cfg.users, items: cfg.items, requestID: cfg.requestID, token: cfg.token,
		runID: strconv.FormatInt(time.Now().UnixNano(), 36),
	}
	for range cfg.conns {
		conn, err := grpc.NewClient(cfg.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", cfg.addr, err)
		}
		defer conn.Close()
		wl.clients = append(wl.clients, orderv1.NewOrderServiceClient(conn))
	}
	if cfg.mix == "read" {
		ids, err := preload(ctx, wl, cfg)
		if err != nil {
			return nil, err
		}
		wl.readIDs = ids
		fmt.Fprintf(logw, "orderbench: preloaded %d orders\n", len(ids))
	}

	var lag *lagMeter
	if cfg.kafka != "" {
		var err error
		if lag, err = startLagMeter(ctx, cfg.kafka, cfg.topic); err != nil {
			return nil, err
		}
		defer lag.close()
	}

	r := newRunner(cfg, wl)
	var before, selfBefore procSample
	r.onMeasure = func() {
		selfBefore, _ = sampleProc(os.Getpid())
		if cfg.serverPID > 0 {
			var err error
			if before, err = sampleProc(cfg.serverPID); err != nil {
				fmt.Fprintf(logw, "orderbench: server pid %d: %v\n", cfg.serverPID, err)
			}
		}
	}
	if lag != nil {
		r.onMeasure = chain(r.onMeasure, func() { lag.measureFrom(time.Now()) })
		wl.created = lag.answered
	}
	fmt.Fprintf(logw, "orderbench: %s\n", describe(cfg))
	res := r.run(ctx)
	selfAfter, _ := sampleProc(os.Getpid())
	rep := newReport(cfg, res)
	if selfBefore.Readable && selfAfter.Readable {
		rep.ClientCPUSeconds = (selfAfter.CPU - selfBefore.CPU).Seconds()
		if rep.RPCs > 0 {
			rep.ClientCPUPerRPCUs = rep.ClientCPUSeconds * 1e6 / float64(rep.RPCs)
		}
	}
	if cfg.serverPID > 0 {
		after, err := sampleProc(cfg.serverPID)
		if err != nil || !before.Readable {
			fmt.Fprintf(logw, "orderbench: server pid %d: %v\n", cfg.serverPID, err)
		} else {
			rep.addServer(cfg.serverPID, before, after, res)
		}
	}
	if lag != nil {
		rep.Kafka = lag.finish(ctx, res.measureEnd, cfg.kafkaDrain)
	}
	return rep, nil
}

func chain(fns ...func()) func() {
	return func() {
		for _, f := range fns {
			if f != nil {
				f()
			}
		}
	}
}

func describe(cfg config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mix=%s addr=%s", cfg.mix, cfg.addr)
	if cfg.rate > 0 {
		fmt.Fprintf(&b, " open loop rate=%.0f/s max-in-flight=%d", cfg.rate, cfg.maxInFlight)
	} else {
		fmt.Fprintf(&b, " closed loop clients=%d", cfg.clients)
	}
	if cfg.count > 0 {
		fmt.Fprintf(&b, " n=%d", cfg.count)
	} else {
		fmt.Fprintf(&b, " duration=%s", cfg.duration)
	}
	fmt.Fprintf(&b, " warmup=%s conns=%d", cfg.warmup, cfg.conns)
	return b.String()
}
