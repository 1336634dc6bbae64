//go:build integration

package kafka_test

// End-to-end: commands commit through the PostgreSQL event store, the
// outbox relay reads the log (postgres.OutboxSource) and publishes it to an
// in-process Kafka broker (kfake); the tests read the topic back and check
// the outbox's promise: every committed event, never a rolled-back one, in
// per-order version order, duplicates only as re-deliveries of one ce_id.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/kafka"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/infrastructure/system"
)

const relayName = "kafka"

// harness is one service's world: a database, a broker and the commands.
type harness struct {
	t        *testing.T
	pool     *pgxpool.Pool
	cluster  *kafkatest.Cluster
	commands *application.Commands
	logger   *slog.Logger
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	pool := migratedPool(t, 48)
	store := postgres.NewOrderStore(pool)
	commands := application.NewCommands(store, store, system.Clock{}, system.UUIDv7{}, application.CommandsConfig{
		Origin:      application.Origin{ServiceName: "order-service", CellID: "cell-001"},
		MaxAttempts: 3,
	})
	return &harness{
		t: t, pool: pool, commands: commands,
		cluster: kafkatest.Start(t, 6, kafka.DefaultTopic),
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// migratedPool is pgtest.NewMigratedPool with room for many writers.
func migratedPool(t *testing.T, maxConns int) *pgxpool.Pool {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	sep := " "
	if strings.Contains(dsn, "://") {
		sep = "&"
		if !strings.Contains(dsn, "?") {
			sep = "?"
		}
	}
	pool := pgtest.NewPool(t, dsn+sep+"pool_max_conns="+strconv.Itoa(maxConns))
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }()
	if err := postgres.Migrate(t.Context(), db, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return pool
}

// relayConfig keeps the defaults that matter (batch 500, poll 1s) and
// shortens what only makes tests wait.
func relayConfig() outbox.RelayConfig {
	return outbox.RelayConfig{
		Name: relayName, StatusInterval: 200 * time.Millisecond, MaxBackoff: time.Second,
		PublishTimeout: 2 * time.Second, ShutdownTimeout: 5 * time.Second,
	}
}

// instance is one running relay with its own Kafka client, as a separate
// service instance would have.
type instance struct {
	relay *outbox.Relay
	stop  func() error
}

func (h *harness) startRelay(src outbox.Source, cfg outbox.RelayConfig) *instance {
	h.t.Helper()
	client, err := kafka.NewClient(h.cluster.Brokers())
	if err != nil {
		h.t.Fatal(err)
	}
	relay, err := outbox.NewRelay(src, kafka.NewPublisher(client, kafka.PublisherConfig{}), cfg, h.logger)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				runErr = errors.New("relay did not stop within 20s")
			}
			client.Close()
		})
		return runErr
	}
	h.t.Cleanup(func() { _ = stop() })
	return &instance{relay: relay, stop: stop}
}

func (h *harness) source() *postgres.OutboxSource {
	return postgres.NewOutboxSource(h.pool, h.logger)
}

// load runs writers that each create orders and change their address,
// every command through the real store in its own transaction.
type load struct {
	commands atomic.Int64
	failures atomic.Int64
	firstErr atomic.Value
}

// writer runs up to n commands (n < 0: until stop closes): orders of ten
// events each, an OrderCreated then nine ShippingAddressChanged.
func (h *harness) writer(ctx context.Context, l *load, w, n int, stop <-chan struct{}) {
	var orderID string
	for i := 0; n < 0 || i < n; i++ {
		select {
		case <-stop:
			return
		default:
		}
		var err error
		if i%10 == 0 {
			orderID, err = h.create(ctx, w, i)
		} else {
			_, err = h.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{
				Meta: meta(), OrderID: orderID, ShippingAddress: fmt.Sprintf("%d Writer Street, box %d", w, i),
			})
		}
		l.commands.Add(1)
		if err != nil {
			l.failures.Add(1)
			l.firstErr.CompareAndSwap(nil, err)
		}
	}
}

func (h *harness) create(ctx context.Context, w, i int) (string, error) {
	snap, err := h.commands.CreateOrder(ctx, application.CreateOrder{
		Meta: meta(), UserID: fmt.Sprintf("user-%d", w), ShippingAddress: "1 Main Street",
		Items: []application.NewItem{{ProductID: fmt.Sprintf("sku-%d", i), ProductName: "Widget", Quantity: 2, UnitPrice: "9.99"}},
	})
	return snap.ID.String(), err
}

func meta() application.CommandMeta {
	return application.CommandMeta{
		Actor:       application.Anonymous,
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
}

// runWriters starts writers goroutines; wait blocks until they finish.
func (h *harness) runWriters(ctx context.Context, writers, each int, stop <-chan struct{}) (*load, func()) {
	l := &load{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { h.writer(ctx, l, w, each, stop) })
	}
	return l, wg.Wait
}

func (l *load) check(t *testing.T) {
	t.Helper()
	if n := l.failures.Load(); n != 0 {
		t.Fatalf("%d of %d commands failed, first: %v", n, l.commands.Load(), l.firstErr.Load())
	}
	t.Logf("%d commands, no failure", l.commands.Load())
}

// holdOpen appends an event in a transaction that stays open for hold
// before committing: the late commit the outbox must not skip.
func (h *harness) holdOpen(ctx context.Context, hold time.Duration, inserted chan<- struct{}) (uuid.UUID, error) {
	defer close(inserted)
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return uuid.Nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	id, err := insertRawEvent(ctx, tx, uuid.New(), 1)
	if err != nil {
		return uuid.Nil, err
	}
	inserted <- struct{}{}
	timer := time.NewTimer(hold) // the scenario: a slow transaction, not a test wait
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return uuid.Nil, ctx.Err()
	case <-timer.C:
	}
	return id, tx.Commit(ctx)
}

// rollBack appends two events of a new order and rolls back.
func (h *harness) rollBack(ctx context.Context) ([]uuid.UUID, error) {
	tx, err := h.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	orderID := uuid.New()
	var ids []uuid.UUID
	for v := 1; v <= 2; v++ {
		id, err := insertRawEvent(ctx, tx, orderID, v)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, tx.Rollback(ctx)
}

// rowQuerier is a pool or a transaction.
type rowQuerier interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// insertRawEvent writes an event row as Append does, with a notification.
func insertRawEvent(ctx context.Context, tx rowQuerier, orderID uuid.UUID, version int) (uuid.UUID, error) {
	id := uuid.Must(uuid.NewV7())
	eventType := "ShippingAddressChanged"
	if version == 1 {
		eventType = "OrderCreated"
	}
	err := tx.QueryRow(ctx, `
WITH e AS (
  INSERT INTO order_events (id, aggregate_id, event_type, data, user_id, timestamp, version, service_name, cell_id)
  VALUES ($1, $2, $3, '{"shipping_address":"raw"}', 'raw-writer', now() AT TIME ZONE 'UTC', $4, 'order-service', 'cell-001')
  RETURNING id)
SELECT e.id FROM e, pg_notify($5, '')`, id, orderID, eventType, version, postgres.NotifyChannel).Scan(&id)
	return id, err
}

// waitDrained waits until the relay's checkpoint is at the end of the log.
func (h *harness) waitDrained(within time.Duration) {
	h.t.Helper()
	began := time.Now()
	deadline := began.Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var behind int64
		err := h.pool.QueryRow(h.t.Context(), `
SELECT count(*) FROM order_events e
WHERE NOT EXISTS (
  SELECT 1 FROM relay_checkpoints c
  WHERE c.relay_name = $1 AND (e.transaction_id, e.position) <= (c.transaction_id, c.position))`, relayName).Scan(&behind)
		if err != nil {
			h.t.Fatal(err)
		}
		if behind == 0 {
			h.t.Logf("drained %s after the writers stopped", time.Since(began).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d events still unpublished after %s", behind, within)
		}
		<-tick.C
	}
}

// streamReport summarises what verify found on the topic.
type streamReport struct {
	records, events, orders, duplicates int
}

// verify reads the whole topic and checks it against the committed log.
func (h *harness) verify(absent ...uuid.UUID) streamReport {
	h.t.Helper()
	committed := h.committedEvents()
	records, err := kafkatest.ReadAll(h.t.Context(), h.cluster.Brokers(), kafka.DefaultTopic)
	if err != nil {
		h.t.Fatal(err)
	}
	slices.SortStableFunc(records, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	seen := make(map[string]int) // ce_id → times
	last := make(map[string]int) // order → highest version delivered
	rep := streamReport{records: len(records)}
	for _, r := range records {
		h.checkRecord(r, committed, seen, last, &rep)
	}
	for id := range committed {
		if seen[id] == 0 {
			h.t.Errorf("committed event %s (order %s v%d) is not on Kafka", id, committed[id].order, committed[id].version)
		}
	}
	for _, id := range absent {
		if seen[id.String()] > 0 {
			h.t.Errorf("event %s of a rolled-back transaction is on Kafka", id)
		}
	}
	rep.events, rep.orders = len(committed), len(last)
	h.t.Logf("topic: %d records for %d committed events of %d orders, %d duplicates", rep.records, rep.events, rep.orders, rep.duplicates)
	return rep
}

type committedEvent struct {
	order   string
	version int
}

func (h *harness) committedEvents() map[string]committedEvent {
	h.t.Helper()
	rows, err := h.pool.Query(h.t.Context(), `SELECT id::text, aggregate_id::text, version FROM order_events`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	events := make(map[string]committedEvent)
	for rows.Next() {
		var id string
		var e committedEvent
		if err := rows.Scan(&id, &e.order, &e.version); err != nil {
			h.t.Fatal(err)
		}
		events[id] = e
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return events
}

// checkRecord checks one record against the log and the order's stream so
// far: a first delivery must be the order's next version; a repeat must be
// an event delivered before (same ce_id).
func (h *harness) checkRecord(r *kgo.Record, committed map[string]committedEvent, seen map[string]int, last map[string]int, rep *streamReport) {
	hd := headers(r)
	id := hd[kafka.HeaderID]
	e, ok := committed[id]
	if !ok {
		h.t.Errorf("record %s/%d carries event %q, which was never committed", kafka.DefaultTopic, r.Offset, id)
		return
	}
	version, _ := strconv.Atoi(hd[kafka.HeaderOrderVersion])
	if string(r.Key) != e.order || hd[kafka.HeaderSubject] != e.order || version != e.version {
		h.t.Errorf("record for event %s: key %q subject %q version %d, want order %s v%d",
			id, r.Key, hd[kafka.HeaderSubject], version, e.order, e.version)
	}
	seen[id]++
	if seen[id] > 1 {
		rep.duplicates++
		return
	}
	if want := last[e.order] + 1; e.version != want {
		h.t.Errorf("order %s: v%d arrived first-time after v%d (want v%d): reordered or missing", e.order, e.version, last[e.order], want)
	}
	last[e.order] = max(last[e.order], e.version)
}

// eventually polls cond every 20ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	began := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(began) > within {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
	return time.Since(began)
}

func TestRelayPublishesEveryCommittedEventDespiteALateCommit(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r := h.startRelay(h.source(), relayConfig()).relay

	const writers, each = 32, 200
	l, wait := h.runWriters(ctx, writers, each, nil)
	held := make(chan error, 1)
	inserted := make(chan struct{})
	var heldID uuid.UUID
	go func() {
		var err error
		heldID, err = h.holdOpen(ctx, 5*time.Second, inserted)
		held <- err
	}()
	<-inserted
	// While it is open, events committed after it wait: the relay falls
	// behind instead of publishing past it.
	var behind outbox.RelayStatus
	eventually(t, 5*time.Second, "the relay held back by the open transaction", func() bool {
		behind = r.Status()
		return behind.Backlog > 0 && behind.SecondsBehind > 2
	})
	t.Logf("while the transaction was open: backlog %d, %.1fs behind", behind.Backlog, behind.SecondsBehind)
	var rolledBack []uuid.UUID
	for range 10 {
		ids, err := h.rollBack(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rolledBack = append(rolledBack, ids...)
	}
	wait()
	if err := <-held; err != nil {
		t.Fatalf("held transaction: %v", err)
	}
	l.check(t)
	h.waitDrained(30 * time.Second)
	rep := h.verify(rolledBack...)
	if rep.events != writers*each+1 {
		t.Fatalf("%d committed events, want %d (every command one event, plus the held one)", rep.events, writers*each+1)
	}
	if committed := h.committedEvents(); committed[heldID.String()].version != 1 {
		t.Fatalf("held event %s not committed", heldID)
	}
}

func TestRelayDrainsBacklogAfterBrokerOutage(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r := h.startRelay(h.source(), relayConfig()).relay

	stop := make(chan struct{})
	l, wait := h.runWriters(ctx, 8, -1, stop)
	eventually(t, 10*time.Second, "first events published", func() bool { return r.Status().Published > 0 })

	h.cluster.Stop()
	down := time.Now()
	var lag outbox.RelayStatus
	eventually(t, 8*time.Second, "lag visible in Status while the broker is down", func() bool {
		lag = r.Status()
		return lag.State == outbox.StateBrokerUnreachable && lag.Backlog > 0 && lag.SecondsBehind > 1
	})
	t.Logf("status %s into the outage: %+v", time.Since(down).Round(time.Millisecond), lag)
	outage := time.NewTimer(10*time.Second - time.Since(down)) // the scenario: a 10 s outage
	<-outage.C
	h.cluster.Restart()
	up := time.Now()
	eventually(t, 20*time.Second, "publishing again", func() bool { return r.Status().Published > lag.Published })
	t.Logf("publishing again %s after the broker returned", time.Since(up).Round(time.Millisecond))
	close(stop)
	wait()
	l.check(t)
	h.waitDrained(30 * time.Second)
	h.verify()
	eventually(t, 5*time.Second, "caught-up", func() bool {
		st := r.Status()
		return st.State == outbox.StateCaughtUp && st.Backlog == 0 && st.SecondsBehind == 0
	})
}

// crashingSource makes the relay die between a publish and its checkpoint:
// the given SaveCheckpoint call kills the run (its ctx) and fails.
type crashingSource struct {
	outbox.Source
	at    int
	calls atomic.Int64
	kill  func()
}

func (c *crashingSource) SaveCheckpoint(ctx context.Context, relay string, p outbox.Position) error {
	if c.calls.Add(1) == int64(c.at) {
		c.kill()
		return errors.New("killed between publish and checkpoint")
	}
	return c.Source.SaveCheckpoint(ctx, relay, p)
}

func TestRelayKilledBetweenPublishAndCheckpointLosesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	l, wait := h.runWriters(ctx, 6, 100, nil)
	wait()
	l.check(t)

	cfg := relayConfig()
	cfg.BatchSize = 50
	crash := &crashingSource{Source: h.source(), at: 3}
	client, err := kafka.NewClient(h.cluster.Brokers())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	first, err := outbox.NewRelay(crash, kafka.NewPublisher(client, kafka.PublisherConfig{}), cfg, h.logger)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, kill := context.WithCancel(ctx)
	crash.kill = kill
	if err := first.Run(runCtx); err == nil {
		t.Fatal("Run returned nil although its last checkpoint failed")
	} else {
		t.Logf("first relay died: %v", err)
	}

	h.startRelay(h.source(), cfg) // the restart
	h.waitDrained(30 * time.Second)
	rep := h.verify()
	if rep.duplicates != cfg.BatchSize {
		t.Fatalf("%d duplicates, want the %d events of the batch published but not checkpointed", rep.duplicates, cfg.BatchSize)
	}
}

func TestRelayFailsOverBetweenInstancesWithoutReordering(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	cfg := relayConfig()
	a := h.startRelay(h.source(), cfg)
	b := h.startRelay(h.source(), cfg)

	stop := make(chan struct{})
	l, wait := h.runWriters(ctx, 8, -1, stop)
	leading := func(i *instance) bool { return i.relay.Status().State != outbox.StateWaitingForLease }
	eventually(t, 10*time.Second, "a leader", func() bool { return (leading(a) || leading(b)) && !(leading(a) && leading(b)) })
	leader, standby := a, b
	if leading(b) {
		leader, standby = b, a
	}
	eventually(t, 10*time.Second, "the leader publishing", func() bool { return leader.relay.Status().Published > 0 })

	// 1. The leader stops: it finishes its batch and releases the lease.
	if err := leader.stop(); err != nil {
		t.Fatalf("leader stop: %v", err)
	}
	took := eventually(t, 5*time.Second, "the standby to take over", func() bool { return standby.relay.Status().Published > 0 })
	t.Logf("standby took over %s after the leader stopped", took.Round(time.Millisecond))

	// 2. The new leader's lease connection breaks (its process hangs, its
	// network fails): it must stop, and someone must go on within seconds.
	third := h.startRelay(h.source(), cfg)
	before := standby.relay.Status().Published + third.relay.Status().Published
	if n := terminateLeaseHolder(t, h.pool); n != 1 {
		t.Fatalf("terminated %d lease sessions, want 1", n)
	}
	took = eventually(t, 5*time.Second, "a relay publishing again", func() bool {
		return standby.relay.Status().Published+third.relay.Status().Published > before+100
	})
	t.Logf("publishing resumed %s after the lease connection broke", took.Round(time.Millisecond))

	close(stop)
	wait()
	l.check(t)
	h.waitDrained(30 * time.Second)
	h.verify()
}

// terminateLeaseHolder ends the session holding the relay's advisory lock.
func terminateLeaseHolder(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(t.Context(), `
SELECT count(pg_terminate_backend(pid)) FROM pg_locks
WHERE locktype = 'advisory' AND granted
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((classid::bigint << 32) | objid::bigint) = $1`, postgres.LeaseKey(relayName)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
