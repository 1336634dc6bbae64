package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// report is the machine-readable result (-json); print renders it for people.
type report struct {
	Label      string               `json:"label,omitempty"`
	Mix        string               `json:"mix"`
	Loop       string               `json:"loop"` // closed | open
	Clients    int                  `json:"clients"`
	TargetRate float64              `json:"target_rate,omitempty"` // iterations/s (open loop)
	WarmupS    float64              `json:"warmup_s"`
	MeasuredS  float64              `json:"measured_s"`
	Iterations opReport             `json:"iterations"`
	Operations map[string]*opReport `json:"operations"`
	RPCs       int64                `json:"rpcs"`
	RPCsPerS   float64              `json:"rpcs_per_s"`
	LateStarts int64                `json:"late_starts,omitempty"` // open loop: sent > 1 ms behind schedule
	Server     *serverReport        `json:"server,omitempty"`
	// orderbench's own CPU over the measured window: on a shared machine
	// the load generator competes with the server for the same cores.
	ClientCPUSeconds  float64    `json:"client_cpu_seconds"`
	ClientCPUPerRPCUs float64    `json:"client_cpu_per_rpc_us"`
	Kafka             *lagReport `json:"kafka_lag,omitempty"`
	LatencyFrom       string     `json:"latency_from"`
	HistogramErr      string     `json:"histogram_error"`
}

type opReport struct {
	OK         int64             `json:"ok"`
	Errors     map[string]int64  `json:"errors,omitempty"`      // by gRPC code
	ErrorTexts map[string]string `json:"error_texts,omitempty"` // one example per code
	PerS       float64           `json:"per_s"`
	LatencyMS  latencyReport     `json:"latency_ms"`
}

type latencyReport struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

type serverReport struct {
	PID         int     `json:"pid"`
	CPUSeconds  float64 `json:"cpu_seconds"`    // utime+stime during the measured window
	CPUCores    float64 `json:"cpu_cores"`      // CPUSeconds / measured seconds
	CPUPerRPCUs float64 `json:"cpu_per_rpc_us"` // server CPU per successful RPC
	PeakRSSMiB  float64 `json:"peak_rss_mib"`   // VmHWM: since the process started
	RSSMiB      float64 `json:"rss_mib"`        // VmRSS at the end
	Threads     int     `json:"threads"`
}

type lagReport struct {
	What       string        `json:"what"`
	Events     uint64        `json:"events"`
	Unparsable int           `json:"unparsable,omitempty"`
	ReceiveMS  latencyReport `json:"receive_ms"`
	ProduceMS  latencyReport `json:"produce_ms"`
	// OrderCreated events matched with their CreateOrder answer.
	AfterAnswerMS latencyReport `json:"after_answer_ms"`
	Matched       uint64        `json:"matched"`
	Early         int           `json:"early"` // arrived before the answer did
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentiles(h *histogram) latencyReport {
	if h.n == 0 {
		return latencyReport{}
	}
	return latencyReport{
		Mean: ms(h.mean()), P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P95: ms(h.quantile(0.95)),
		P99: ms(h.quantile(0.99)), P999: ms(h.quantile(0.999)), Max: ms(time.Duration(h.max)),
	}
}

func newOpReport(s *opStats, seconds float64) opReport {
	r := opReport{OK: s.ok, LatencyMS: percentiles(s.hist)}
	if seconds > 0 {
		r.PerS = float64(s.ok) / seconds
	}
	for code, n := range s.errs {
		if r.Errors == nil {
			r.Errors, r.ErrorTexts = map[string]int64{}, map[string]string{}
		}
		r.Errors[code.String()] = n
		r.ErrorTexts[code.String()] = s.firstErr[code]
	}
	return r
}

func newReport(cfg config, res runResult) *report {
	seconds := res.measureEnd.Sub(res.measureStart).Seconds()
	r := &report{
		Label: cfg.label, Mix: cfg.mix, Loop: "closed", Clients: cfg.clients,
		WarmupS: cfg.warmup.Seconds(), MeasuredS: seconds, LateStarts: res.late,
		Iterations: newOpReport(res.iterations, seconds), Operations: map[string]*opReport{},
		LatencyFrom:  "request sent (closed loop)",
		HistogramErr: "percentiles are bucket upper bounds, at most 0.8% above the true value",
	}
	if cfg.rate > 0 {
		r.Loop, r.TargetRate = "open", cfg.rate
		r.LatencyFrom = "scheduled send time (open loop; corrects coordinated omission)"
	}
	for name, s := range res.ops {
		o := newOpReport(s, seconds)
		r.Operations[name] = &o
		r.RPCs += s.ok
	}
	if seconds > 0 {
		r.RPCsPerS = float64(r.RPCs) / seconds
	}
	return r
}

func (r *report) addServer(pid int, before, after procSample, res runResult) {
	cpu := (after.CPU - before.CPU).Seconds()
	window := after.Sampled.Sub(before.Sampled).Seconds()
	s := &serverReport{
		PID: pid, CPUSeconds: cpu, PeakRSSMiB: float64(after.PeakRSS) / (1 << 20), RSSMiB: float64(after.RSS) / (1 << 20),
		Threads: after.Threads,
	}
	if window > 0 {
		s.CPUCores = cpu / window
	}
	if r.RPCs > 0 {
		s.CPUPerRPCUs = cpu * 1e6 / float64(r.RPCs)
	}
	r.Server = s
}

func (r *report) print(w io.Writer) {
	if r.Label != "" {
		fmt.Fprintf(w, "== %s\n", r.Label)
	}
	loop := fmt.Sprintf("closed loop, %d clients", r.Clients)
	if r.Loop == "open" {
		loop = fmt.Sprintf("open loop, %.0f iterations/s scheduled, at most %d in flight", r.TargetRate, r.Clients)
	}
	fmt.Fprintf(w, "mix %s, %s, measured %.1fs after %.0fs warm-up\n", r.Mix, loop, r.MeasuredS, r.WarmupS)
	fmt.Fprintf(w, "latency from the %s; %s\n", r.LatencyFrom, r.HistogramErr)
	fmt.Fprintf(w, "%-14s %9s %10s %8s %8s %8s %8s %8s %8s  errors\n", "operation", "ok", "per s", "mean", "p50", "p95", "p99", "p99.9", "max")
	names := make([]string, 0, len(r.Operations))
	for name := range r.Operations {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return opOrder(a) - opOrder(b) })
	row := func(name string, o *opReport) {
		l := o.LatencyMS
		fmt.Fprintf(w, "%-14s %9d %10.1f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f  %s\n",
			name, o.OK, o.PerS, l.Mean, l.P50, l.P95, l.P99, l.P999, l.Max, errorsText(o.Errors))
	}
	for _, name := range names {
		row(name, r.Operations[name])
	}
	if len(names) > 1 {
		row("(iteration)", &r.Iterations)
	}
	fmt.Fprintf(w, "throughput: %.1f RPC/s (%.1f iterations/s)\n", r.RPCsPerS, r.Iterations.PerS)
	fmt.Fprintf(w, "orderbench itself: CPU %.1fs (%.0f µs/RPC)\n", r.ClientCPUSeconds, r.ClientCPUPerRPCUs)
	if r.LateStarts > 0 {
		fmt.Fprintf(w, "late starts (>1ms behind schedule): %d\n", r.LateStarts)
	}
	for code, text := range r.Iterations.ErrorTexts {
		fmt.Fprintf(w, "  e.g. %s: %s\n", code, text)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "server pid %d: CPU %.1fs (%.2f cores, %.0f µs/RPC), peak RSS (VmHWM) %.1f MiB, RSS now %.1f MiB, %d threads\n",
			s.PID, s.CPUSeconds, s.CPUCores, s.CPUPerRPCUs, s.PeakRSSMiB, s.RSSMiB, s.Threads)
	}
	if k := r.Kafka; k != nil {
		fmt.Fprintf(w, "kafka lag over %d events (ms): receive p50 %.2f p95 %.2f p99 %.2f max %.2f; produce p50 %.2f p99 %.2f\n",
			k.Events, k.ReceiveMS.P50, k.ReceiveMS.P95, k.ReceiveMS.P99, k.ReceiveMS.Max, k.ProduceMS.P50, k.ProduceMS.P99)
		fmt.Fprintf(w, "  after the CreateOrder answer (%d matched, %d before it): p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
			k.Matched, k.Early, k.AfterAnswerMS.P50, k.AfterAnswerMS.P95, k.AfterAnswerMS.P99, k.AfterAnswerMS.Max)
		fmt.Fprintf(w, "  (%s)\n", k.What)
	}
}

func opOrder(name string) int {
	return slices.Index([]string{opCreate, opConfirm, opPay, opShip, opDeliver, opGet}, name)
}

func errorsText(errs map[string]int64) string {
	if len(errs) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(errs))
	for code, n := range errs {
		parts = append(parts, fmt.Sprintf("%s=%d", code, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
