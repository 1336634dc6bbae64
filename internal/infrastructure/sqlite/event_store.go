package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// Load implements application.EventStore.
func (s *Store) Load(ctx context.Context, id order.ID) ([]order.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT event_type, data, version, timestamp
		FROM order_events WHERE aggregate_id = ? ORDER BY version`, idBytes(id))
	if err != nil {
		return nil, dbError(ctx, "load order events", err)
	}
	defer rows.Close()
	var events []order.Event
	var currency order.Currency // from OrderCreated: later payloads omit it
	for rows.Next() {
		e, err := decodeEventRow(rows, id, currency)
		if err != nil {
			return nil, err
		}
		if created, ok := e.(order.OrderCreated); ok {
			currency = created.Currency
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, "load order events", err)
	}
	if len(events) == 0 {
		return nil, order.ErrNotFound
	}
	return events, nil
}

func decodeEventRow(rows *sql.Rows, id order.ID, currency order.Currency) (order.Event, error) {
	var (
		eventType string
		data      []byte
		version   int
		at        int64
	)
	if err := rows.Scan(&eventType, &data, &version, &at); err != nil {
		return nil, fmt.Errorf("scan event of order %s: %w", id, err)
	}
	h := order.EventHeader{OrderID: id, Version: version, OccurredAt: fromMicros(at)}
	e, err := protomap.UnmarshalEvent(h, eventType, data, currency)
	if err != nil {
		return nil, fmt.Errorf("load order events: %w", err)
	}
	return e, nil
}

// Append implements application.EventStore: the events, the projection and
// the idempotency record in one transaction, then a signal to the relay.
func (s *Store) Append(ctx context.Context, c application.Commit) error {
	records, err := encodeCommit(c)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return appendCommit(ctx, tx, c, records)
	})
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	s.signals.notify()
	return nil
}

// encodeCommit checks that the commit is self-consistent and serialises its
// events before the writer slot is taken, so the slot is held only for SQL.
func encodeCommit(c application.Commit) ([]application.EventRecord, error) {
	if len(c.Events) == 0 {
		return nil, fmt.Errorf("commit for order %s has no events", c.OrderID)
	}
	if c.State.ID != c.OrderID || c.State.Version != c.LastVersion() {
		return nil, fmt.Errorf("commit for order %s: state is order %s at version %d, want version %d",
			c.OrderID, c.State.ID, c.State.Version, c.LastVersion())
	}
	records := make([]application.EventRecord, len(c.Events))
	for i, e := range c.Events {
		h := e.Event.Header()
		if h.OrderID != c.OrderID || h.Version != c.ExpectedVersion+i+1 {
			return nil, fmt.Errorf("commit for order %s: event %d has order %s version %d", c.OrderID, i, h.OrderID, h.Version)
		}
		data, err := protomap.MarshalEvent(e.Event)
		if err != nil {
			return nil, fmt.Errorf("commit for order %s: %w", c.OrderID, err)
		}
		records[i] = application.EventRecord{
			EventID: e.ID, OrderID: c.OrderID, Type: e.Event.EventType(), Version: h.Version,
			OccurredAt: h.OccurredAt, Data: data, Metadata: e.Metadata,
		}
	}
	return records, nil
}

func appendCommit(ctx context.Context, tx *sql.Tx, c application.Commit, records []application.EventRecord) error {
	if err := insertEvents(ctx, tx, c, records); err != nil {
		return err
	}
	if err := saveProjection(ctx, tx, c); err != nil {
		return err
	}
	return insertRequest(ctx, tx, c.Idempotency)
}

const insertEventSQL = `INSERT INTO order_events (
	id, aggregate_id, event_type, data, user_id, timestamp, version, schema_version,
	request_id, correlation_id, causation_id, cell_id, service_name, trace_parent)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertEvents appends the events; UNIQUE (aggregate_id, version) failing
// means another writer appended that version first.
func insertEvents(ctx context.Context, tx *sql.Tx, c application.Commit, records []application.EventRecord) error {
	stmt, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return dbError(ctx, "prepare event insert", err)
	}
	defer stmt.Close()
	for _, r := range records {
		md := r.Metadata
		_, err := stmt.ExecContext(ctx,
			idBytes(r.EventID), idBytes(r.OrderID), r.Type, string(r.Data), md.ActorID, micros(r.OccurredAt),
			r.Version, md.SchemaVersion, nullText(md.RequestID), nullText(md.CorrelationID),
			nullText(md.CausationID), md.CellID, md.ServiceName, nullText(md.TraceParent))
		if isUniqueViolation(err, "order_events.aggregate_id, order_events.version") {
			return &order.ConcurrencyError{OrderID: c.OrderID, ExpectedVersion: c.ExpectedVersion}
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
