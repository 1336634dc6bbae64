package main

import (
	"context"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/testkit"
)

// scenarioKafkaOutage (c): the broker is stopped under load. Commands never
// depend on Kafka, so not one may fail; the events wait in the log and the
// relay drains the backlog once the broker is back.
func scenarioKafkaOutage(ctx context.Context, e *env) scenarioResult {
	const name = "c"
	outage := e.pickDur(10*time.Second, 30*time.Second)
	workers := e.pick(8, 16)
	title := fmt.Sprintf("Kafka broker stopped for %s under load, %d workers", outage, workers)
	res := scenarioResult{name: name, title: title, pass: true}

	r, err := e.newRun(ctx, name, nil)
	if err != nil {
		return errorf(name, title, err)
	}
	defer r.finish(&res)
	defer func() { _ = e.broker.Restart() }() // running again for later scenarios, whatever happens

	l := r.newLoad(workers)
	stopLoad := l.start(ctx)

	outbox.Sleep(ctx, e.pickDur(3*time.Second, 5*time.Second))
	publishedAtStop := topicSize(ctx, r)
	e.broker.Stop()
	stopped := time.Now()
	ackedBefore := l.acked.Load()
	outbox.Sleep(ctx, outage)
	ackedDuring := l.acked.Load() - ackedBefore
	if err := e.broker.Restart(); err != nil {
		stopLoad()
		res.fail("%v", err)
		return res
	}
	res.note("broker down %s; %d requests acknowledged meanwhile", time.Since(stopped).Round(time.Millisecond), ackedDuring)
	backlog, drain := awaitDrain(ctx, r, &res, publishedAtStop)
	outbox.Sleep(ctx, e.pickDur(2*time.Second, 5*time.Second))
	stopLoad()

	c, err := r.check(ctx, nil)
	if err != nil {
		res.fail("check: %v", err)
		return res
	}
	judge(&res, c)
	failures := 0
	for code, n := range c.Codes {
		if code != "OK" {
			failures += n
		}
	}
	if failures > 0 {
		res.fail("%d command attempts failed while only Kafka was down (%s)", failures, fmtCodes(c.Codes))
	}
	if ackedDuring == 0 {
		res.fail("no command was acknowledged during the outage")
	}
	res.counts = fmt.Sprintf("%s command_failures=%d acked_during_outage=%d backlog=%d drained_after_restart=%s",
		res.counts, failures, ackedDuring, backlog-publishedAtStop, drain.Round(time.Millisecond))
	return res
}

// drainBound bounds how long the relay may take to drain the backlog once
// the broker is back.
const drainBound = 180 * time.Second

// awaitDrain, called as the broker comes back, counts the backlog (every
// event committed by then) and waits until the topic holds as many records;
// the checker then proves they are exactly those events. It notes and
// returns the backlog and how long the drain took.
func awaitDrain(ctx context.Context, r *scenarioRun, res *scenarioResult, publishedAtStop int64) (int64, time.Duration) {
	var backlog int64
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM order_events`).Scan(&backlog); err != nil {
		res.fail("count events: %v", err)
	}
	drain, drained := waitTopicSize(ctx, r, backlog, drainBound)
	if !drained {
		res.fail("the backlog of %d events did not drain within %s of the broker's return", backlog, drainBound)
	}
	res.note("backlog at the broker's return: %d events committed, %d published before the stop; drained %s after the return",
		backlog, publishedAtStop, drain.Round(time.Millisecond))
	return backlog, drain
}

// waitTopicSize polls until the topic holds at least n records.
func waitTopicSize(ctx context.Context, r *scenarioRun, n int64, timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := testkit.Poll(ctx, 100*time.Millisecond, func() error {
		if size := topicSize(ctx, r); size < n {
			return fmt.Errorf("%d of %d records", size, n)
		}
		return nil
	})
	return time.Since(start), err == nil
}
