package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// backlogCountCap bounds the rows Backlog counts, so a status refresh every
// few seconds stays cheap even behind a huge backlog: beyond the cap the
// count reads as the cap ("at least this many").
const backlogCountCap = 1_000_000

// listenRetryMin and listenRetryMax bound the reconnect backoff of the
// notification listener.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 10 * time.Second
)

// OutboxSource reads the event log as the relay's outbox (outbox.Source).
// It is safe for concurrent use.
type OutboxSource struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

var _ outbox.Source = (*OutboxSource)(nil)

// NewOutboxSource returns the outbox source over the pool's database.
func NewOutboxSource(pool *pgxpool.Pool, logger *slog.Logger) *OutboxSource {
	return &OutboxSource{pool: pool, logger: logger}
}

// readAfterSQL reads the next events in publish order.
//
// Why it never skips: positions and transaction ids are handed out when a
// row is inserted, not when its transaction commits, so "position > last
// seen" would pass over a row whose transaction commits after a later one
// did. Instead it reads only rows of transactions older than the snapshot's
// xmin, all of which have finished (committed rows are visible, aborted ones
// are gone). Every transaction still running, or not yet holding an id, gets
// an id >= xmin, so any row that may still appear sorts after everything
// returned here: a long transaction delays publishing (of everything behind
// it), it never makes the relay skip an event. transaction_id is the
// top-level xid even inside savepoints, and xid8 does not wrap around.
// xmin is server-wide: a long write transaction in any database of the
// server holds publishing back (read-only ones, holding no xid, do not).
const readAfterSQL = `
SELECT position, transaction_id, id, aggregate_id, event_type, version, "timestamp", data,
       user_id, COALESCE(request_id, ''), COALESCE(correlation_id, ''), COALESCE(causation_id, ''),
       COALESCE(trace_parent, ''), service_name, cell_id, schema_version
FROM order_events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  AND (transaction_id, position) > ($1, $2)
ORDER BY transaction_id, position
LIMIT $3`

// ReadAfter implements outbox.Source.
func (s *OutboxSource) ReadAfter(ctx context.Context, after outbox.Position, limit int) ([]outbox.Event, error) {
	rows, err := s.pool.Query(ctx, readAfterSQL, after.TxID, after.Seq, limit)
	if err != nil {
		return nil, dbError("read outbox", err)
	}
	events, err := pgx.CollectRows(rows, scanOutboxEvent)
	if err != nil {
		return nil, dbError("read outbox", err)
	}
	return events, nil
}

func scanOutboxEvent(row pgx.CollectableRow) (outbox.Event, error) {
	var e outbox.Event
	var eventID, orderID [16]byte
	md := &e.Metadata
	err := row.Scan(&e.Position.Seq, &e.Position.TxID, &eventID, &orderID, &e.Type, &e.Version, &e.OccurredAt, &e.Data,
		&md.ActorID, &md.RequestID, &md.CorrelationID, &md.CausationID,
		&md.TraceParent, &md.ServiceName, &md.CellID, &md.SchemaVersion)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("scan event: %w", err)
	}
	e.EventID, e.OrderID = order.ID(eventID), order.ID(orderID)
	// The column is a TIMESTAMP without zone holding UTC (seed schema).
	e.OccurredAt = e.OccurredAt.UTC()
	return e, nil
}

// Checkpoint implements outbox.Source.
func (s *OutboxSource) Checkpoint(ctx context.Context, relay string) (outbox.Position, error) {
	var p outbox.Position
	err := s.pool.QueryRow(ctx,
		`SELECT transaction_id, position FROM relay_checkpoints WHERE relay_name = $1`, relay,
	).Scan(&p.TxID, &p.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return outbox.Position{}, nil
	}
	if err != nil {
		return outbox.Position{}, dbError("load checkpoint of relay "+relay, err)
	}
	return p, nil
}

// SaveCheckpoint implements outbox.Source. The checkpoint only moves
// forward: a relay that lost its lease and finishes late cannot rewind the
// one that took over (rewinding would only cause duplicates, but needlessly).
func (s *OutboxSource) SaveCheckpoint(ctx context.Context, relay string, p outbox.Position) error {
	_, err := s.pool.Exec(ctx, `
INSERT INTO relay_checkpoints (relay_name, transaction_id, position, updated_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (relay_name) DO UPDATE
   SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position, updated_at = now()
 WHERE (relay_checkpoints.transaction_id, relay_checkpoints.position)
     < (EXCLUDED.transaction_id, EXCLUDED.position)`, relay, p.TxID, p.Seq)
	if err != nil {
		return dbError("save checkpoint of relay "+relay, err)
	}
	return nil
}

// Park implements outbox.Source. Parking the same event again (a relay
// that crashed before its checkpoint retries the batch) keeps the first
// record.
func (s *OutboxSource) Park(ctx context.Context, e outbox.Event, reason string) error {
	_, err := s.pool.Exec(ctx, `
INSERT INTO relay_parked_events (event_id, position, reason) VALUES ($1, $2, $3)
ON CONFLICT (event_id) DO NOTHING`, [16]byte(e.EventID), e.Position.Seq, reason)
	if err != nil {
		return dbError(fmt.Sprintf("park event %s", e.EventID), err)
	}
	return nil
}

// ParkedCount implements outbox.Source.
func (s *OutboxSource) ParkedCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM relay_parked_events`).Scan(&n); err != nil {
		return 0, dbError("count parked events", err)
	}
	return n, nil
}

// Backlog implements outbox.Source. It counts every committed event after
// the position, including those a long transaction still holds back from
// publishing, walking the (transaction_id, position) index at most
// backlogCountCap rows far.
func (s *OutboxSource) Backlog(ctx context.Context, after outbox.Position) (int64, time.Time, error) {
	var n int64
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `
SELECT count(*), min(ts) FROM (
  SELECT "timestamp" AS ts FROM order_events
  WHERE (transaction_id, position) > ($1, $2)
  ORDER BY transaction_id, position
  LIMIT $3
) behind`, after.TxID, after.Seq, backlogCountCap).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, dbError("measure outbox backlog", err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, oldest.UTC(), nil
}

// Notifications implements outbox.Source: LISTEN on a dedicated connection,
// reconnecting with backoff. After every (re)connect it signals once,
// because notifications sent while it was disconnected are lost.
func (s *OutboxSource) Notifications(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		s.listen(ctx, ch)
	}()
	return ch
}

func (s *OutboxSource) listen(ctx context.Context, ch chan<- struct{}) {
	delay := listenRetryMin
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, ch, func() { delay = listenRetryMin })
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("outbox listener disconnected; reconnecting", "channel", NotifyChannel, "retry_in", delay, "err", err)
		if !outbox.Sleep(ctx, delay) {
			return
		}
		delay = min(2*delay, listenRetryMax)
	}
}

// listenOnce holds one LISTEN connection until it fails or ctx ends;
// connected runs once LISTEN is in place.
func (s *OutboxSource) listenOnce(ctx context.Context, ch chan<- struct{}, connected func()) error {
	conn, err := s.dedicatedConn(ctx)
	if err != nil {
		return err
	}
	defer closeDedicatedConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen %s: %w", NotifyChannel, err)
	}
	connected()
	wakeRelay(ch)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		wakeRelay(ch)
	}
}

// dedicatedConn opens a connection outside the pool, with the pool's
// settings: LISTEN and session advisory locks belong to one session and
// must not be handed back to other users.
func (s *OutboxSource) dedicatedConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, dbError("connect", err)
	}
	return conn, nil
}

// signal wakes the relay without blocking: one pending signal is enough.
func wakeRelay(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func closeDedicatedConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx) // closing a broken connection fails; nothing to do about it
}
