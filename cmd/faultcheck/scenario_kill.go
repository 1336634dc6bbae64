package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// scenarioKill (a): the service is killed with SIGKILL repeatedly under
// load and restarted each time. Requests in flight get no answer; the
// workers retry them with the same request id, the checker retries what is
// still unsettled. The relay restarts from its last checkpoint, so records
// may repeat (same ce_id) but none may be missing.
func scenarioKill(ctx context.Context, e *env) scenarioResult {
	const name, title = "a", "kill -9 under load"
	kills := e.pick(2, 5)
	between := e.pickDur(2*time.Second, 3*time.Second)
	workers := e.pick(12, 16)
	res := scenarioResult{name: name, title: fmt.Sprintf("kill -9 x%d under load, %d workers", kills, workers), pass: true}

	r, err := e.newRun(ctx, name, nil)
	if err != nil {
		return errorf(name, title, err)
	}
	defer r.finish(&res)

	l := r.newLoad(workers)
	stopLoad := l.start(ctx)

	var restarts []time.Duration
	for i := 0; i < kills && ctx.Err() == nil; i++ {
		if !outbox.Sleep(ctx, between) {
			break
		}
		before := l.acked.Load()
		r.svc.Kill()
		took, err := r.svc.Start(ctx)
		if err != nil {
			stopLoad()
			res.fail("restart %d: %v", i+1, err)
			return res
		}
		restarts = append(restarts, took)
		res.note("kill %d: %d requests acknowledged before it; restarted and ready in %s", i+1, before, took.Round(time.Millisecond))
	}
	outbox.Sleep(ctx, between)
	stopLoad()

	c, err := r.check(ctx, nil)
	if err != nil {
		res.fail("check: %v", err)
		return res
	}
	judge(&res, c)
	if len(restarts) != kills {
		res.fail("only %d of %d kills done", len(restarts), kills)
	}
	res.counts = fmt.Sprintf("kills=%d %s", len(restarts), res.counts)
	if len(restarts) > 0 {
		slices.Sort(restarts)
		parts := make([]string, len(restarts))
		for i, d := range restarts {
			parts[i] = d.Round(time.Millisecond).String()
		}
		res.note("restart-to-ready times: %s", strings.Join(parts, " "))
	}
	return res
}
