package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc/codes"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/testkit"
)

// scenarioHeldTransaction (d): the skip hazard of every "position > last
// seen" outbox. While 32 writers run, transactions of the service itself are
// kept open for the hold: a raw SQL transaction locks the rows of two orders
// (SELECT … FOR UPDATE, -held-orders), so the service's ConfirmOrder on each
// inserts its event (taking an early position) and then waits on the lock. The same
// raw transaction also inserts an order_events row of its own, and is
// rolled back at the end. Meanwhile the writers commit events with later
// positions. Afterwards every committed event must be on Kafka — the late
// one included — in order, and the rolled-back row never; and no writer on
// another order may have failed because of the held lock.
func scenarioHeldTransaction(ctx context.Context, e *env) scenarioResult {
	const name = "d"
	hold := e.pickDur(5*time.Second, 10*time.Second)
	const writers = 32
	held := e.opts.heldOrders
	if held <= 0 {
		// One held order leaves a group-commit flusher free, so the writers
		// always make progress (CI); two may block both (the full run).
		held = e.pick(1, 2)
	}
	title := fmt.Sprintf("write transaction held open %s (locking %d order(s)) while %d writers commit", hold, held, writers)
	res := scenarioResult{name: name, title: title, pass: true}

	r, err := e.newRun(ctx, name, nil)
	if err != nil {
		return errorf(name, title, err)
	}
	defer r.finish(&res)

	rng := rand.New(rand.NewPCG(e.opts.seed, 99))
	targets := make([]string, held)
	for i := range targets {
		created := r.sender.send(ctx, "held", 0, 1, newCreate(rng, "fault-held", fmt.Sprintf("d-held-create-%d", i)), 0)
		if created.Code != codes.OK {
			res.fail("create a held order: %s %v", created.Code, created.Err)
			return res
		}
		targets[i] = created.Order.GetId()
	}

	// The writers run first, so the held commands meet them in flight.
	l := r.newLoad(writers)
	stopLoad := l.start(ctx)
	defer stopLoad()
	outbox.Sleep(ctx, time.Second)

	locker, err := pgx.Connect(ctx, r.dbURL)
	if err != nil {
		res.fail("connect: %v", err)
		return res
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		res.fail("begin: %v", err)
		return res
	}
	defer tx.Rollback(context.Background())
	var rolledBack string
	if _, err := tx.Exec(ctx, `SELECT 1 FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, targets); err == nil {
		err = tx.QueryRow(ctx, `
INSERT INTO order_events (id, aggregate_id, event_type, data, user_id, timestamp, version)
VALUES (gen_random_uuid(), gen_random_uuid(), 'OrderCreated', '{}'::jsonb, 'fault-rolled-back', now() AT TIME ZONE 'UTC', 1)
RETURNING id::text`).Scan(&rolledBack)
	}
	if err != nil {
		res.fail("raw transaction: %v", err)
		return res
	}

	blocked := make(chan outcome, len(targets))
	for i, target := range targets {
		go func() {
			req := &orderv1.ConfirmOrderRequest{OrderId: target, ExpectedVersion: 1, RequestId: fmt.Sprintf("d-held-confirm-%d", i)}
			blocked <- r.sender.send(ctx, "held", 0, 1, req, 60*time.Second)
		}()
	}
	if err := waitForLockWaits(ctx, r, 1, 30*time.Second); err != nil { // one suffices: group commit may put several held commands in one waiting transaction
		res.fail("the service's ConfirmOrder never waited on the held lock: %v", err)
		return res
	}
	holdStart := time.Now()
	publishedBefore := topicSize(ctx, r)
	ackedBefore := l.acked.Load()
	outbox.Sleep(ctx, hold)
	publishedDuring := topicSize(ctx, r) - publishedBefore
	ackedDuring := l.acked.Load() - ackedBefore
	// Everything committed so far committed before the held events will.
	var committedPos int64
	if err := r.pool.QueryRow(ctx, `SELECT COALESCE(max(position), 0) FROM order_events`).Scan(&committedPos); err != nil {
		res.fail("read committed position: %v", err)
	}
	holdEnd := time.Now()
	if err := tx.Rollback(ctx); err != nil {
		res.fail("rollback: %v", err)
	}
	for range targets {
		var late outcome
		select {
		case late = <-blocked:
		case <-time.After(90 * time.Second):
			res.fail("a held ConfirmOrder was still blocked 90s after the lock was released")
		}
		if late.Code != codes.OK || late.Order.GetVersion() != 2 {
			res.fail("a held ConfirmOrder answered %s v%d (%v), want OK v2", late.Code, late.Order.GetVersion(), late.Err)
		}
	}
	outbox.Sleep(ctx, 2*time.Second)
	stopLoad()

	// The writers on other orders must not notice the held lock.
	entries, err := r.entries()
	if err != nil {
		res.fail("journal: %v", err)
		return res
	}
	var latencies []time.Duration
	failed, stalled := 0, 0
	for _, en := range entries {
		// Every writer request in flight at some point of the hold.
		if en.Phase != "load" || !en.Done().After(holdStart) || !en.Sent.Before(holdEnd) {
			continue
		}
		lat := time.Duration(en.LatencyMS * float64(time.Millisecond))
		latencies = append(latencies, lat)
		if en.Code != "OK" {
			failed++
		}
		if lat >= hold/2 {
			stalled++
		}
	}
	res.note("writers in flight during the hold: %d requests, p99 %s, max %s, %d took over %s, %d failed",
		len(latencies), percentile(latencies, 99).Round(time.Millisecond), percentile(latencies, 100).Round(time.Millisecond), stalled, hold/2, failed)
	if failed > 0 {
		res.fail("%d writer requests on other orders failed while %d order(s) were locked", failed, len(targets))
	}

	target := targets[0]
	// How many events took a later position but committed first: after
	// them, a relay reading "position > last seen" would have skipped the
	// late one.
	var overtaken int
	err = r.pool.QueryRow(ctx, `
SELECT count(*) FROM order_events e, order_events late
WHERE late.aggregate_id = $1 AND late.version = 2
  AND e.position > late.position AND e.position <= $2`, target, committedPos).Scan(&overtaken)
	if err != nil {
		res.fail("count overtaking events: %v", err)
	}
	res.note("held %s: %d writer requests acknowledged, %d records published meanwhile; %d events took a later position than the held one and committed before it",
		holdEnd.Sub(holdStart).Round(time.Millisecond), ackedDuring, publishedDuring, overtaken)
	switch {
	case ackedDuring == 0:
		res.fail("no writer request was acknowledged during the hold: every write stalled behind the held lock(s)")
	case overtaken == 0:
		res.fail("no event overtook the held transaction: the scenario proved nothing")
	}

	c, err := r.check(ctx, []string{rolledBack})
	if err != nil {
		res.fail("check: %v", err)
		return res
	}
	judge(&res, c)
	res.counts = fmt.Sprintf("%s overtaken=%d writers_failed_during_hold=%d stalled=%d", res.counts, overtaken, failed, stalled)
	return res
}

// waitForLockWaits polls until n backends of the scenario's database wait
// on a lock: the service's appends stuck behind the held row locks.
func waitForLockWaits(ctx context.Context, r *scenarioRun, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := testkit.Poll(ctx, testkit.PollEvery, func() error {
		var waiting int
		err := r.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL`).Scan(&waiting)
		if err == nil && waiting < n {
			err = fmt.Errorf("%d of %d waiting", waiting, n)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("no lock wait within %s: %w", timeout, err)
	}
	return nil
}

// topicSize is the number of records on the scenario's topic (sum of end
// offsets), or -1.
func topicSize(ctx context.Context, r *scenarioRun) int64 {
	client, err := kgo.NewClient(kgo.SeedBrokers(r.env.broker.Addr()))
	if err != nil {
		return -1
	}
	defer client.Close()
	ends, err := endOffsets(ctx, kadm.NewClient(client), r.topic)
	if err != nil {
		return -1
	}
	var n int64
	for _, o := range ends {
		n += o
	}
	return n
}
