package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// Load implements application.EventStore.
func (s *EmbeddedStore) Load(ctx context.Context, id order.ID) ([]order.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT event_type, version, schema_version, timestamp, data
		FROM order_events WHERE aggregate_id = ? ORDER BY version`, idBytes(id))
	if err != nil {
		return nil, dbError(ctx, "load order events", err)
	}
	events, err := decodeEvents(ctx, id, rows, 0)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, order.ErrNotFound
	}
	return events, nil
}

// decodeEvents decodes one order's event rows (event_type, version,
// schema_version, timestamp, data), fed in version order from its
// OrderCreated on, and keeps those with version > after. It closes rows.
func decodeEvents(ctx context.Context, id order.ID, rows *sql.Rows, after int) ([]order.Event, error) {
	defer rows.Close()
	var events []order.Event
	d := eventlog.NewHistoryDecoder(id)
	for rows.Next() {
		var r eventlog.StoredEvent
		var at int64
		if err := rows.Scan(&r.Type, &r.Version, &r.SchemaVersion, &at, &r.Data); err != nil {
			return nil, fmt.Errorf("scan event of order %s: %w", id, err)
		}
		r.OccurredAt = fromMicros(at)
		e, err := d.Decode(r)
		if err != nil {
			return nil, fmt.Errorf("load order events: %w", err)
		}
		if r.Version > after {
			events = append(events, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, "load order events", err)
	}
	return events, nil
}

// Append implements application.EventStore: the prepared commit in one
// transaction, then a signal to the relay. The commit is checked and encoded
// before the writer slot is taken, so the slot is held only for SQL.
func (s *EmbeddedStore) Append(ctx context.Context, c application.Commit) error {
	p, err := eventlog.Prepare(c)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return appendCommit(ctx, tx, p)
	})
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	s.signals.notify()
	return nil
}

// appendCommit writes a prepared commit in the order application.CommitPlan
// lays down: request id, events, projection.
func appendCommit(ctx context.Context, tx *sql.Tx, p eventlog.PreparedCommit) error {
	if err := insertRequest(ctx, tx, p.Idempotency); err != nil {
		return err
	}
	if err := insertEvents(ctx, tx, p); err != nil {
		return err
	}
	return saveProjection(ctx, tx, p.CommitPlan, p.PostalAddress)
}

const insertEventSQL = `INSERT INTO order_events (
	id, aggregate_id, event_type, data, user_id, timestamp, version, schema_version,
	request_id, correlation_id, causation_id, cell_id, service_name, trace_parent)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertEvents appends the events; UNIQUE (aggregate_id, version) failing
// means another writer appended that version first.
func insertEvents(ctx context.Context, tx *sql.Tx, p eventlog.PreparedCommit) error {
	stmt, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return dbError(ctx, "prepare event insert", err)
	}
	defer stmt.Close()
	for _, r := range p.Records {
		md := r.Metadata
		_, err := stmt.ExecContext(ctx,
			idBytes(r.EventID), idBytes(r.OrderID), r.Type, string(r.Data), md.ActorID, micros(r.OccurredAt),
			r.Version, md.SchemaVersion, nullText(md.RequestID), nullText(md.CorrelationID),
			nullText(md.CausationID), md.CellID, md.ServiceName, nullText(md.TraceParent))
		if isUniqueViolation(err, "order_events.aggregate_id, order_events.version") {
			return &order.ConcurrencyError{OrderID: p.OrderID, ExpectedVersion: p.ExpectedVersion}
		}
		if err != nil {
			return dbError(ctx, fmt.Sprintf("insert event %s v%d", r.Type, r.Version), err)
		}
	}
	return nil
}

// insertRequest records the command's request id; the primary key failing
// means a concurrent duplicate of the command committed first.
func insertRequest(ctx context.Context, tx *sql.Tx, r *application.IdempotencyRecord) error {
	if r == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys
		(scope, request_id, fingerprint, order_id, version, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Scope, r.RequestID, r.Fingerprint[:], idBytes(r.OrderID), r.Version, micros(r.CreatedAt))
	if isUniqueViolation(err, "") {
		return fmt.Errorf("record request %q: %w", r.RequestID, application.ErrDuplicateRequest)
	}
	if err != nil {
		return dbError(ctx, "record request", err)
	}
	return nil
}
