package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// Bounds scenario b holds the service to.
const (
	// failFastP99 is "well under the request timeout": a fifth of it.
	failFastP99 = requestTimeout / 5
	// recoveryBound: the service serves again within this long of
	// PostgreSQL accepting connections, by itself.
	recoveryBound = 5 * time.Second
)

// probe is one /readyz answer.
type probe struct {
	at    time.Time
	ready bool
}

// scenarioPostgresOutage (b): the private PostgreSQL is stopped with
// -m immediate (every backend killed, as in a crash) for a while under load,
// then started. During the outage requests must fail fast with UNAVAILABLE
// and /readyz must say not ready; afterwards the service must recover by
// itself within recoveryBound, and nothing acknowledged may be lost.
func scenarioPostgresOutage(ctx context.Context, e *env) scenarioResult {
	const name = "b"
	outage := 10 * time.Second
	workers := e.pick(8, 16)
	title := fmt.Sprintf("PostgreSQL stopped -m immediate for %s under load, %d workers", outage, workers)
	res := scenarioResult{name: name, title: title, pass: true}

	r, err := e.newRun(ctx, name, nil)
	if err != nil {
		return errorf(name, title, err)
	}
	defer r.finish(&res)
	// The cluster must run again whatever happens below: later scenarios use it.
	defer func() {
		if !e.pg.Running() {
			_ = e.pg.Start(context.Background())
		}
	}()

	l := r.newLoad(workers)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { l.Run(ctx, loadCtx, "load") })

	var probesMu sync.Mutex
	var probes []probe
	probeCtx, stopProbes := context.WithCancel(ctx)
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for probeCtx.Err() == nil {
			at := time.Now()
			pctx, cancel := context.WithTimeout(probeCtx, time.Second)
			err := r.svc.Ready(pctx)
			cancel()
			probesMu.Lock()
			probes = append(probes, probe{at: at, ready: err == nil})
			probesMu.Unlock()
			select {
			case <-probeCtx.Done():
			case <-tick.C:
			}
		}
	})

	outbox.Sleep(ctx, e.pickDur(3*time.Second, 5*time.Second))
	if err := e.pg.StopImmediate(ctx); err != nil {
		stopLoad()
		stopProbes()
		wg.Wait()
		res.fail("%v", err)
		return res
	}
	stopped := time.Now()
	outbox.Sleep(ctx, outage)
	restarting := time.Now()
	if err := e.pg.Start(ctx); err != nil {
		stopLoad()
		stopProbes()
		wg.Wait()
		res.fail("%v", err)
		return res
	}
	back := time.Now()
	res.note("PostgreSQL down %s (stop returned → start began); start with crash recovery took %s",
		restarting.Sub(stopped).Round(time.Millisecond), back.Sub(restarting).Round(time.Millisecond))

	// Keep the load on until the service has served again for a while.
	outbox.Sleep(ctx, recoveryBound+e.pickDur(3*time.Second, 5*time.Second))
	stopLoad()
	stopProbes()
	wg.Wait()

	entries, err := r.entries()
	if err != nil {
		res.fail("journal: %v", err)
		return res
	}

	// Fail fast: every request sent while the database was down failed
	// with UNAVAILABLE, quickly.
	var latencies []time.Duration
	outageCodes := map[string]int{}
	for _, en := range window(entries, stopped, restarting) {
		outageCodes[en.Code]++
		if en.Code != "OK" {
			latencies = append(latencies, time.Duration(en.LatencyMS*float64(time.Millisecond)))
		}
	}
	p50, p99, worst := percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 100)
	res.note("requests sent during the outage: %d (%s); failure latency p50 %s p99 %s max %s (bound p99 < %s)",
		len(latencies), fmtCodes(outageCodes), p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond), failFastP99)
	if len(latencies) == 0 {
		res.fail("no request failed during the outage: the outage was not observed")
	}
	if p99 >= failFastP99 {
		res.fail("failures during the outage are not fast: p99 %s >= %s", p99.Round(time.Millisecond), failFastP99)
	}
	for code, n := range outageCodes {
		if code != "Unavailable" {
			res.fail("%d requests sent during the outage answered %s (want UNAVAILABLE)", n, code)
		}
	}

	// Readiness: not ready throughout the outage (from 1s after the stop,
	// the probe interval plus its timeout), ready again soon after.
	var duringReady, duringNotReady int
	readyAgain := time.Time{}
	for _, p := range probes {
		switch {
		case p.at.After(stopped.Add(time.Second)) && p.at.Before(restarting):
			if p.ready {
				duringReady++
			} else {
				duringNotReady++
			}
		case !p.at.Before(back) && p.ready && readyAgain.IsZero():
			readyAgain = p.at
		}
	}
	res.note("/readyz during the outage: %d not ready, %d ready", duringNotReady, duringReady)
	if duringNotReady == 0 || duringReady > 0 {
		res.fail("/readyz did not report not-ready throughout the outage (%d ready, %d not ready)", duringReady, duringNotReady)
	}

	// Recovery: the first request sent after PostgreSQL was back that
	// succeeded, measured to its answer; and /readyz.
	firstOK := time.Time{}
	for _, en := range window(entries, back, time.Now()) {
		if en.Code == "OK" && (firstOK.IsZero() || en.Done().Before(firstOK)) {
			firstOK = en.Done()
		}
	}
	switch {
	case firstOK.IsZero():
		res.fail("no request succeeded after PostgreSQL was back")
	default:
		rec := firstOK.Sub(back)
		res.note("recovery: first successful request %s after PostgreSQL accepted connections; /readyz ready after %s (bound %s)",
			rec.Round(time.Millisecond), sinceOr(readyAgain, back), recoveryBound)
		if rec > recoveryBound {
			res.fail("service took %s to serve again (bound %s)", rec.Round(time.Millisecond), recoveryBound)
		}
	}
	if readyAgain.IsZero() || readyAgain.Sub(back) > recoveryBound {
		res.fail("/readyz not ready within %s of PostgreSQL being back", recoveryBound)
	}

	c, err := r.check(ctx, nil)
	if err != nil {
		res.fail("check: %v", err)
		return res
	}
	judge(&res, c)
	res.counts = fmt.Sprintf("%s fail_p99=%s recovery=%s", res.counts, p99.Round(time.Millisecond), sinceOr(firstOK, back))
	return res
}

func sinceOr(t, from time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(from).Round(time.Millisecond).String()
}
