package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// lateAfter is how far behind its schedule an open-loop request may start
// before it counts as late: many late starts mean the generator (or its
// in-flight bound) could not keep up, and the latencies include the wait.
const lateAfter = time.Millisecond

// opStats is one worker's record of one operation.
type opStats struct {
	hist *histogram
	ok   int64
	errs map[codes.Code]int64
	// firstErr keeps one message per code, to make an error count readable.
	firstErr map[codes.Code]string
}

func newOpStats() *opStats {
	return &opStats{hist: newHistogram(), errs: map[codes.Code]int64{}, firstErr: map[codes.Code]string{}}
}

func (s *opStats) merge(o *opStats) {
	s.hist.merge(o.hist)
	s.ok += o.ok
	for c, n := range o.errs {
		s.errs[c] += n
		if _, ok := s.firstErr[c]; !ok {
			s.firstErr[c] = o.firstErr[c]
		}
	}
}

// workerStats is everything one worker measured; no locks, merged at the end.
type workerStats struct {
	ops        map[string]*opStats
	iterations *opStats // whole iterations (= ops for single-request mixes)
	late       int64
}

func (w *workerStats) op(name string) *opStats {
	s, ok := w.ops[name]
	if !ok {
		s = newOpStats()
		w.ops[name] = s
	}
	return s
}

// runResult is the merged measurement.
type runResult struct {
	ops          map[string]*opStats
	iterations   *opStats
	late         int64
	measureStart time.Time
	measureEnd   time.Time // when the last measured request finished
}

type runner struct {
	cfg       config
	wl        *workload
	onMeasure func() // called once, when measuring starts (after warm-up)
}

func newRunner(cfg config, wl *workload) *runner { return &runner{cfg: cfg, wl: wl} }

// run drives the load and returns what was measured. Requests that start
// before the warm-up ends are sent but not counted.
func (r *runner) run(ctx context.Context) runResult {
	start := time.Now()
	measureFrom := start.Add(r.cfg.warmup)
	end := measureFrom.Add(r.cfg.duration)
	if r.cfg.count > 0 {
		end = time.Time{} // by count
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	measuring := make(chan struct{})
	go func() {
		t := time.NewTimer(time.Until(measureFrom))
		defer t.Stop()
		select {
		case <-t.C:
			if r.onMeasure != nil {
				r.onMeasure()
			}
		case <-ctx.Done():
		}
		close(measuring)
	}()

	workers := r.cfg.clients
	stats := make([]*workerStats, workers)
	var issued atomic.Int64 // iterations handed out (count mode and open-loop tickets)
	var lastDone atomic.Int64
	var wg sync.WaitGroup
	for i := range workers {
		stats[i] = &workerStats{ops: map[string]*opStats{}, iterations: newOpStats()}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for ctx.Err() == nil {
				ticket := issued.Add(1) - 1
				if r.cfg.count > 0 && ticket >= r.cfg.count {
					return
				}
				var intended time.Time
				if r.cfg.rate > 0 {
					intended = start.Add(time.Duration(float64(ticket) * float64(time.Second) / r.cfg.rate))
					if !end.IsZero() && !intended.Before(end) {
						return
					}
					if wait := time.Until(intended); wait > 0 {
						t := time.NewTimer(wait)
						select {
						case <-t.C:
						case <-ctx.Done():
							t.Stop()
							return
						}
					} else if -wait > lateAfter && !intended.Before(measureFrom) {
						stats[i].late++
					}
				} else {
					intended = time.Now()
					if !end.IsZero() && !intended.Before(end) {
						return
					}
				}
				counted := !intended.Before(measureFrom)
				r.iterate(ctx, i, rng, stats[i], intended, counted)
				if counted {
					lastDone.Store(time.Now().UnixNano())
				}
			}
		})
	}
	wg.Wait()
	cancel()
	<-measuring

	res := runResult{ops: map[string]*opStats{}, iterations: newOpStats(), measureStart: measureFrom}
	for _, s := range stats {
		for name, o := range s.ops {
			if _, ok := res.ops[name]; !ok {
				res.ops[name] = newOpStats()
			}
			res.ops[name].merge(o)
		}
		res.iterations.merge(s.iterations)
		res.late += s.late
	}
	res.measureEnd = time.Unix(0, lastDone.Load())
	if lastDone.Load() == 0 {
		res.measureEnd = time.Now()
	}
	return res
}

// iterate runs one iteration's steps in order. The first step's latency
// counts from intended (the scheduled send time in the open loop); each
// later step from when it was sent, as it depends on the previous answer.
func (r *runner) iterate(ctx context.Context, worker int, rng *rand.Rand, ws *workerStats, intended time.Time, counted bool) {
	steps := r.wl.iteration(worker, rng)
	from := intended
	var failed error
	for _, st := range steps {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
		err := st.run(cctx)
		cancel()
		now := time.Now()
		if ctx.Err() != nil && err != nil {
			return // interrupted: neither a success nor the server's error
		}
		if counted {
			record(ws.op(st.op), now.Sub(from), err)
		}
		if err != nil {
			failed = err
			break
		}
		from = now
	}
	if counted {
		record(ws.iterations, time.Since(intended), failed)
	}
}

func record(s *opStats, d time.Duration, err error) {
	if err == nil {
		s.ok++
		s.hist.record(d)
		return
	}
	code := status.Code(err)
	s.errs[code]++
	if _, ok := s.firstErr[code]; !ok {
		s.firstErr[code] = err.Error()
	}
}

// preload creates the orders the read mix reads, with -clients workers.
func preload(ctx context.Context, wl *workload, cfg config) ([]string, error) {
	ids := make([]string, cfg.preload)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range min(cfg.clients, cfg.preload) {
		wg.Go(func() {
			c := wl.client(w)
			for {
				i := next.Add(1) - 1
				if i >= int64(cfg.preload) || ctx.Err() != nil {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
				resp, err := c.CreateOrder(wl.withAuth(cctx), wl.createRequest(w))
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("preload: CreateOrder: %w", err)
					}
					mu.Unlock()
					return
				}
				ids[i] = resp.GetOrder().GetId()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return ids, ctx.Err()
}
