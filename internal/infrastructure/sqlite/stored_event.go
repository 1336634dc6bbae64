package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/acme/order-service/internal/application"
)

// eventColumns lists the order_events columns storedEvent scans, in order.
const eventColumns = `position, id, aggregate_id, event_type, version, timestamp, data, user_id,
	request_id, correlation_id, causation_id, trace_parent, service_name, cell_id, schema_version`

// storedEvent is one order_events row: the history record and its place in
// the global log.
type storedEvent struct {
	position int64
	record   application.EventRecord
}

func queryEvents(ctx context.Context, q querier, query string, args ...any) ([]storedEvent, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(ctx, "query events", err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, "query events", err)
	}
	return out, nil
}

func scanEvent(rows *sql.Rows) (storedEvent, error) {
	var (
		e                      storedEvent
		r                      = &e.record
		md                     = &r.Metadata
		eventID, orderID       []byte
		at                     int64
		request, correlation   sql.NullString
		causation, traceParent sql.NullString
	)
	err := rows.Scan(&e.position, &eventID, &orderID, &r.Type, &r.Version, &at, &r.Data, &md.ActorID,
		&request, &correlation, &causation, &traceParent, &md.ServiceName, &md.CellID, &md.SchemaVersion)
	if err != nil {
		return storedEvent{}, fmt.Errorf("scan event: %w", err)
	}
	if r.EventID, err = idFromBytes(eventID); err != nil {
		return storedEvent{}, fmt.Errorf("event at position %d: %w", e.position, err)
	}
	if r.OrderID, err = idFromBytes(orderID); err != nil {
		return storedEvent{}, fmt.Errorf("event at position %d: %w", e.position, err)
	}
	r.OccurredAt = fromMicros(at)
	md.RequestID, md.CorrelationID = request.String, correlation.String
	md.CausationID, md.TraceParent = causation.String, traceParent.String
	return e, nil
}
