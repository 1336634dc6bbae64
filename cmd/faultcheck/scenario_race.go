package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"google.golang.org/grpc/codes"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// scenarioWriteRace (e): 32 writers send a change to one order at once, all
// with the same expected_version. Exactly one may win each round; every
// loser must get ABORTED; the log must hold one event per version.
func scenarioWriteRace(ctx context.Context, e *env) scenarioResult {
	const name = "e"
	const writers = 32
	rounds := e.pick(5, 20)
	title := fmt.Sprintf("%d concurrent writers on one order with expected_version, %d rounds", writers, rounds)
	res := scenarioResult{name: name, title: title, pass: true}

	r, err := e.newRun(ctx, name, nil)
	if err != nil {
		return errorf(name, title, err)
	}
	defer r.finish(&res)

	rng := rand.New(rand.NewPCG(e.opts.seed, 7))
	created := r.sender.send(ctx, "race", 0, 1, newCreate(rng, "fault-race", "e-race-create"), 0)
	if created.Code != codes.OK {
		res.fail("create the raced order: %s %v", created.Code, created.Err)
		return res
	}
	target, version := created.Order.GetId(), created.Order.GetVersion()

	winners, losers, others := 0, 0, 0
	for round := 1; round <= rounds && ctx.Err() == nil; round++ {
		start := make(chan struct{})
		results := make([]outcome, writers)
		var wg sync.WaitGroup
		for w := range writers {
			req := &orderv1.ChangeShippingAddressRequest{
				OrderId: target, ExpectedVersion: version,
				ShippingAddress: fmt.Sprintf("round %d writer %d", round, w),
				RequestId:       fmt.Sprintf("e-race-r%d-w%d", round, w),
			}
			wg.Go(func() {
				<-start // all at once
				results[w] = r.sender.send(ctx, "race", w, 1, req, 0)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, o := range results {
			switch o.Code {
			case codes.OK:
				won++
				if o.Order.GetVersion() != version+1 {
					res.fail("round %d: winner got version %d, want %d", round, o.Order.GetVersion(), version+1)
				}
			case codes.Aborted:
				losers++
			default:
				others++
				res.fail("round %d: a writer got %s (%v), want OK or ABORTED", round, o.Code, o.Err)
			}
		}
		winners += won
		if won != 1 {
			res.fail("round %d: %d winners at expected_version %d, want exactly 1", round, won, version)
		}
		version++
	}

	var versions, distinct, maxVersion int
	err = r.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version), COALESCE(max(version), 0) FROM order_events WHERE aggregate_id = $1`,
		target).Scan(&versions, &distinct, &maxVersion)
	if err != nil {
		res.fail("read versions: %v", err)
	} else if versions != distinct || maxVersion != versions || versions != 1+winners {
		res.fail("order %s has %d events, %d distinct versions, max %d; want 1..%d", target, versions, distinct, maxVersion, 1+winners)
	}
	res.note("rounds=%d winners=%d aborted=%d other=%d; order has versions 1..%d", rounds, winners, losers, others, maxVersion)

	c, err := r.check(ctx, nil, codes.Aborted)
	if err != nil {
		res.fail("check: %v", err)
		return res
	}
	judge(&res, c)
	res.counts = fmt.Sprintf("%s winners=%d aborted=%d other=%d", res.counts, winners, losers, others)
	return res
}
