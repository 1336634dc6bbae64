//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/infrastructure/system"
)

// The contract holds with every Append committing alone, too (the default
// store, with group commit, runs it in TestStoreContract).
func TestStoreContractWithoutGroupCommit(t *testing.T) {
	t.Parallel()
	porttest.Run(t, func(t *testing.T) porttest.Ports {
		store := postgres.NewOrderStore(pgtest.NewMigratedPool(t), postgres.WithoutGroupCommit())
		return porttest.Ports{Store: store, Read: store, Requests: store}
	})
}

// One shared transaction holding every kind of commit: each gets its own
// outcome, the valid ones are all committed, the failed ones leave no
// trace, and a commit whose caller gave up while it waited is left out.
func TestGroupCommitMixedBatchOutcomes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	store := postgres.NewOrderStore(pool, postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 64, Flushers: 1}))
	ctx := t.Context()

	// Committed before the batch: x at version 2 (with a request id), y and
	// z at version 1.
	x := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(x, 0, "req-existing")))
	storeMust(t, x.Confirm(time.Now()))
	storeMust(t, store.Append(ctx, storeCommit(x, 1, "")))
	y := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(y, 0, "")))
	z := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(z, 0, "")))

	cases := []*batchCase{
		{name: "valid create", commit: storeCommit(storeOrder(t, "user-1"), 0, ""), want: wantOK},
		{name: "valid create with request id", commit: storeCommit(storeOrder(t, "user-2"), 0, "req-new"), want: wantOK},
		{name: "stale version", commit: staleCancel(t, store, x), want: wantConflict},
		{name: "y writer a", commit: addressChange(t, store, y, "1 A St"), want: wantOneOf("y")},
		{name: "y writer b", commit: addressChange(t, store, y, "2 B St"), want: wantOneOf("y")},
		{name: "request id already committed", commit: storeCommit(storeOrder(t, "user-1"), 0, "req-existing"), want: wantDuplicate},
		{name: "twin a", commit: storeCommit(storeOrder(t, "user-3"), 0, "req-twin"), want: wantOneOf("twin")},
		{name: "twin b", commit: storeCommit(storeOrder(t, "user-3"), 0, "req-twin"), want: wantOneOf("twin")},
		{name: "line id taken", commit: storeCommit(storeOrder(t, "user-4", system.UUIDv7{}.NewID(), x.State().Items[0].ID()), 0, ""), want: wantInvalid},
		{name: "projection ahead of the log", commit: projectionAhead(t, store, z), want: wantConflict},
		{name: "caller gave up", commit: storeCommit(storeOrder(t, "user-1"), 0, ""), want: wantCancelled},
	}
	for i := range 8 {
		cases = append(cases, &batchCase{name: fmt.Sprintf("filler %d", i), commit: storeCommit(storeOrder(t, "user-5"), 0, fmt.Sprintf("req-fill-%d", i)), want: wantOK})
	}

	release := blockFlusher(t, store, pool)
	before := storeDigest(t, pool)
	var wg sync.WaitGroup
	for _, c := range cases {
		cctx, cancel := context.WithCancel(ctx)
		c.cancel = cancel
		wg.Go(func() { c.err = store.Append(cctx, c.commit) })
	}
	waitQueued(t, store, len(cases))
	for _, c := range cases {
		if c.name == "caller gave up" { // still queued: the flusher must leave it out
			c.cancel()
		}
	}
	release()
	wg.Wait()
	for _, c := range cases {
		c.cancel()
	}

	committed := checkBatchOutcomes(t, cases)
	if got := store.GroupCommitStats().Largest; got != int64(len(cases)-1) {
		t.Errorf("largest batch %d commits, want all %d that stayed queued in one", got, len(cases)-1)
	}
	checkOnlyCommittedWritten(t, store, pool, before, cases, committed)
	if n := len(storeEventVersions(t, pool, x.ID())); n != 2 {
		t.Errorf("x has %d events after the stale commit, want 2", n)
	}
	if n := len(storeEventVersions(t, pool, y.ID())); n != 2 {
		t.Errorf("y has %d events after two writers at version 1, want 2", n)
	}
	if n := len(storeEventVersions(t, pool, z.ID())); n != 1 {
		t.Errorf("z has %d events after the commit ahead of its projection, want 1", n)
	}
	rec, found, err := store.FindRequest(ctx, "user-3", "req-twin")
	storeMust(t, err)
	if winner := committed["twin"]; !found || winner == nil || rec.OrderID != winner.commit.OrderID {
		t.Errorf("req-twin record = %+v (found %v), want the winning twin's order", rec, found)
	}
	storeConsistent(t, pool)
}

// A failed shared COMMIT fails every member with ErrUnavailable and writes
// nothing: a deferred constraint makes the COMMIT itself fail.
func TestGroupCommitFailedCommitFailsEveryMember(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	store := postgres.NewOrderStore(pool, postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 64, Flushers: 1}))
	ctx := t.Context()
	_, err := pool.Exec(ctx, `
		CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.shipping_address = 'fail at commit' THEN RAISE EXCEPTION 'deferred check failed'; END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON orders
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();`)
	storeMust(t, err)

	poison := storeOrder(t, "user-1")
	storeMust(t, poison.ChangeShippingAddress(apptest.Address(t, "fail at commit"), time.Now()))
	cases := []*batchCase{{name: "poison", commit: storeCommit(poison, 0, "req-poison")}}
	for i := range 4 {
		cases = append(cases, &batchCase{name: fmt.Sprintf("valid %d", i), commit: storeCommit(storeOrder(t, "user-1"), 0, fmt.Sprintf("req-%d", i))})
	}
	release := blockFlusher(t, store, pool)
	before := storeDigest(t, pool)
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Go(func() { c.err = store.Append(ctx, c.commit) })
	}
	waitQueued(t, store, len(cases))
	release()
	wg.Wait()
	for _, c := range cases {
		if !errors.Is(c.err, application.ErrUnavailable) {
			t.Errorf("%s: Append = %v, want ErrUnavailable", c.name, c.err)
		}
	}
	// Only the blocker's own commit (made alone) is new.
	after := storeDigest(t, pool)
	for _, table := range []string{"order_events", "orders"} {
		var n int
		storeMust(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n))
		if n != 1 {
			t.Errorf("%s holds %d rows, want only the blocker's 1 (before the batch: %s, after: %s)", table, n, before[table], after[table])
		}
	}
}

// Many writers through the public Append at once, on a few hot orders and
// many new ones: whatever batches form, every success is in the log and
// every failure is a conflict or a duplicate that left nothing behind.
func TestGroupCommitConcurrentWritersKeepTheirOutcomes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	store := postgres.NewOrderStore(pool, postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 16, Flushers: 2}))
	ctx := t.Context()
	hot := make([]*order.Order, 3)
	for i := range hot {
		hot[i] = storeOrder(t, "user-1")
		storeMust(t, store.Append(ctx, storeCommit(hot[i], 0, "")))
	}
	const writers = 64
	cases := make([]*batchCase, writers)
	for i := range cases {
		switch i % 4 {
		case 0: // a lost race is likely: everyone changes a hot order at version 1
			cases[i] = &batchCase{name: fmt.Sprintf("hot %d", i), commit: addressChange(t, store, hot[i%3], fmt.Sprintf("%d Hot St", i))}
		case 1: // pairs share a request id
			cases[i] = &batchCase{name: fmt.Sprintf("dup %d", i), commit: storeCommit(storeOrder(t, "user-2"), 0, fmt.Sprintf("req-%d", i/8))}
		default:
			cases[i] = &batchCase{name: fmt.Sprintf("new %d", i), commit: storeCommit(storeOrder(t, "user-3"), 0, "")}
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cases {
		wg.Go(func() {
			<-start
			c.err = store.Append(ctx, c.commit)
		})
	}
	close(start)
	wg.Wait()

	hotWins := map[order.ID]int{}
	requestWins := map[string]int{}
	for _, c := range cases {
		var conflict *order.ConcurrencyError
		_, loadErr := store.Load(ctx, c.commit.OrderID)
		switch {
		case c.err == nil:
			if c.commit.ExpectedVersion > 0 {
				hotWins[c.commit.OrderID]++
			} else if loadErr != nil {
				t.Errorf("%s: succeeded but Load = %v", c.name, loadErr)
			}
			if r := c.commit.Idempotency; r != nil {
				requestWins[r.RequestID]++
			}
		case errors.As(c.err, &conflict) && c.commit.ExpectedVersion > 0:
		case errors.Is(c.err, application.ErrDuplicateRequest):
			if !errors.Is(loadErr, order.ErrNotFound) {
				t.Errorf("%s: duplicate, but its order is there (Load = %v)", c.name, loadErr)
			}
		default:
			t.Errorf("%s: Append = %v", c.name, c.err)
		}
	}
	for _, h := range hot {
		if hotWins[h.ID()] != 1 || len(storeEventVersions(t, pool, h.ID())) != 2 {
			t.Errorf("hot order %s: %d winners, %d events; want 1 and 2", h.ID(), hotWins[h.ID()], len(storeEventVersions(t, pool, h.ID())))
		}
	}
	for id, n := range requestWins {
		if n != 1 {
			t.Errorf("request %s won %d times", id, n)
		}
	}
	storeConsistent(t, pool)
	t.Logf("group commit: %+v", store.GroupCommitStats())
}

// batchCase is one commit of a test batch and what it must come to.
type batchCase struct {
	name   string
	commit application.Commit
	want   func(error) (ok bool, group string)
	err    error
	cancel context.CancelFunc
}

func wantOK(err error) (bool, string) { return err == nil, "" }

func wantConflict(err error) (bool, string) {
	var conflict *order.ConcurrencyError
	return errors.As(err, &conflict), ""
}

func wantDuplicate(err error) (bool, string) {
	return errors.Is(err, application.ErrDuplicateRequest), ""
}

// wantInvalid: a plain failure, neither a lost race nor a transient one.
func wantInvalid(err error) (bool, string) {
	var conflict *order.ConcurrencyError
	return err != nil && !errors.As(err, &conflict) && !errors.Is(err, application.ErrUnavailable) &&
		!errors.Is(err, application.ErrDuplicateRequest), ""
}

func wantCancelled(err error) (bool, string) {
	return errors.Is(err, context.Canceled) && !errors.Is(err, application.ErrUnavailable), ""
}

// wantOneOf: exactly one case of the group succeeds; the others lose with a
// conflict or a duplicate request.
func wantOneOf(group string) func(error) (bool, string) {
	return func(err error) (bool, string) {
		var conflict *order.ConcurrencyError
		return err == nil || errors.As(err, &conflict) || errors.Is(err, application.ErrDuplicateRequest), group
	}
}

// checkBatchOutcomes checks every case's error and returns the winner of
// each wantOneOf group.
func checkBatchOutcomes(t *testing.T, cases []*batchCase) map[string]*batchCase {
	t.Helper()
	winners := map[string]*batchCase{}
	wins := map[string]int{}
	for _, c := range cases {
		ok, group := c.want(c.err)
		if !ok {
			t.Errorf("%s: Append = %v", c.name, c.err)
		}
		if group != "" {
			wins[group] += 0
			if c.err == nil {
				wins[group]++
				winners[group] = c
			}
		}
	}
	for group, n := range wins {
		if n != 1 {
			t.Errorf("group %s: %d winners, want exactly 1", group, n)
		}
	}
	return winners
}

// checkOnlyCommittedWritten checks that exactly the successful creates are
// readable and that failed creates left no row anywhere.
func checkOnlyCommittedWritten(t *testing.T, store *postgres.OrderStore, pool *pgxpool.Pool, before map[string]string, cases []*batchCase, _ map[string]*batchCase) {
	t.Helper()
	ctx := t.Context()
	newOrders := 0
	for _, c := range cases {
		if c.commit.ExpectedVersion != 0 {
			continue
		}
		_, err := store.GetOrder(ctx, c.commit.OrderID)
		switch {
		case c.err == nil && err != nil:
			t.Errorf("%s succeeded but GetOrder = %v", c.name, err)
		case c.err != nil && !errors.Is(err, order.ErrNotFound):
			t.Errorf("%s failed (%v) but its order is readable (GetOrder = %v)", c.name, c.err, err)
		case c.err == nil:
			newOrders++
		}
	}
	var orders int
	storeMust(t, pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&orders))
	if want := countPrefix(before["orders"]) + newOrders + 1; orders != want { // +1: the blocker's order
		t.Errorf("orders holds %d rows, want %d", orders, want)
	}
}

func countPrefix(digest string) int {
	var n int
	_, _ = fmt.Sscanf(digest, "%d:", &n)
	return n
}

// blockFlusher occupies the store's only flusher: it commits a create whose
// request id an open transaction has just inserted, so the flusher waits on
// that row lock while the test queues commits behind it. release rolls the
// transaction back; the blocked create then commits (alone) and the queued
// commits go out together in the next batch.
func blockFlusher(t *testing.T, store *postgres.OrderStore, pool *pgxpool.Pool) (release func()) {
	t.Helper()
	ctx := t.Context()
	holder, err := pool.Begin(ctx)
	storeMust(t, err)
	_, err = holder.Exec(ctx, `INSERT INTO idempotency_keys (scope, request_id, fingerprint, order_id, version)
		VALUES ('user-9', 'req-block', '\x00', gen_random_uuid(), 1)`)
	storeMust(t, err)
	blocked := make(chan error, 1)
	go func() { blocked <- store.Append(ctx, storeCommit(storeOrder(t, "user-9"), 0, "req-block")) }()
	waitFor(t, "the flusher to wait on the held request id", func() bool {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return err == nil && waiting > 0
	})
	return func() {
		storeMust(t, holder.Rollback(ctx))
		if err := <-blocked; err != nil {
			t.Errorf("the blocking commit failed: %v", err)
		}
	}
}

func waitQueued(t *testing.T, store *postgres.OrderStore, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d commits to queue", n), func() bool { return store.QueuedCommits() == n })
}

// waitFor polls cond every 5 ms until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// staleCancel is a cancel of o decided at version 1 while o is at 2.
func staleCancel(t *testing.T, store *postgres.OrderStore, o *order.Order) application.Commit {
	t.Helper()
	history, err := store.Load(t.Context(), o.ID())
	storeMust(t, err)
	stale := storeRehydrate(t, history[:1])
	storeMust(t, stale.Cancel("too late", time.Now()))
	return storeCommit(stale, 1, "req-stale")
}

// addressChange is a change of o's address decided at its current version.
func addressChange(t *testing.T, store *postgres.OrderStore, o *order.Order, address string) application.Commit {
	t.Helper()
	history, err := store.Load(t.Context(), o.ID())
	storeMust(t, err)
	w := storeRehydrate(t, history)
	storeMust(t, w.ChangeShippingAddress(apptest.Address(t, address), time.Now()))
	return storeCommit(w, len(history), "")
}

// projectionAhead is a commit that believes o is at version 2 while it is
// at 1: its event (version 3) inserts, the guarded UPDATE matches no row.
func projectionAhead(t *testing.T, store *postgres.OrderStore, o *order.Order) application.Commit {
	t.Helper()
	history, err := store.Load(t.Context(), o.ID())
	storeMust(t, err)
	ahead := storeRehydrate(t, history)
	storeMust(t, ahead.Confirm(time.Now()))
	storeMust(t, ahead.Cancel("never stored", time.Now()))
	return storeCommit(ahead, 2, "")
}
