package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// ReadAfter implements outbox.Source.
//
// "position > after" is gap-safe here, unlike in PostgreSQL (where a
// position is taken at insert and may commit after a later one). A
// position is assigned by AUTOINCREMENT inside the appending transaction, and
// that transaction holds SQLite's single write lock from BEGIN IMMEDIATE to
// COMMIT: no other transaction can take a position until it has committed or
// rolled back. Positions therefore become visible in increasing order, and a
// reader's WAL snapshot always holds every committed position below the
// highest it sees; nothing can later commit behind the relay's checkpoint.
// A rolled-back transaction may leave its positions to the next writer, which
// is harmless: they were never visible. TxID stays 0.
func (s *EmbeddedStore) ReadAfter(ctx context.Context, after outbox.Position, limit int) ([]outbox.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	if err := sqlitePosition(after); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	stored, err := queryEvents(ctx, s.db, `SELECT `+eventColumns+` FROM order_events
		WHERE position > ? ORDER BY position LIMIT ?`, after.Seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after.Seq, err)
	}
	out := make([]outbox.Event, len(stored))
	for i, e := range stored {
		r := e.record
		out[i] = outbox.Event{
			Position: outbox.Position{Seq: e.position}, EventID: r.EventID, OrderID: r.OrderID, Type: r.Type,
			Version: r.Version, OccurredAt: r.OccurredAt, Data: r.Data, Metadata: r.Metadata,
		}
	}
	return out, nil
}

// sqlitePosition rejects positions that did not come from this store: a
// transaction id means a PostgreSQL position, meaningless here.
func sqlitePosition(p outbox.Position) error {
	if p.TxID != 0 {
		return fmt.Errorf("position %+v has a transaction id; SQLite positions have none", p)
	}
	return nil
}

// Checkpoint implements outbox.Source.
func (s *EmbeddedStore) Checkpoint(ctx context.Context, relay string) (outbox.Position, error) {
	var p outbox.Position
	err := s.db.QueryRowContext(ctx, `SELECT position FROM relay_checkpoints WHERE relay_name = ?`, relay).Scan(&p.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return outbox.Position{}, nil
	}
	if err != nil {
		return outbox.Position{}, dbError(ctx, fmt.Sprintf("read checkpoint of relay %q", relay), err)
	}
	return p, nil
}

// SaveCheckpoint implements outbox.Source. The checkpoint only moves
// forward: a relay that lost its lease and finishes late must not rewind the
// one that took over. updated_at is operational metadata, so it takes the
// wall clock, like PostgreSQL's now().
func (s *EmbeddedStore) SaveCheckpoint(ctx context.Context, relay string, p outbox.Position) error {
	if err := sqlitePosition(p); err != nil {
		return fmt.Errorf("save checkpoint of relay %q: %w", relay, err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO relay_checkpoints (relay_name, position, updated_at)
			VALUES (?, ?, ?)
			ON CONFLICT (relay_name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
			WHERE relay_checkpoints.position < excluded.position`,
			relay, p.Seq, micros(time.Now()))
		if err != nil {
			return dbError(ctx, fmt.Sprintf("save checkpoint of relay %q", relay), err)
		}
		return nil
	})
}

// Park implements outbox.Source. Parking an event again (a relay that
// crashed before its checkpoint retries the batch) keeps the first record.
func (s *EmbeddedStore) Park(ctx context.Context, e outbox.Event, reason string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO relay_parked_events (event_id, position, reason, parked_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (event_id) DO NOTHING`,
			idBytes(e.EventID), e.Position.Seq, reason, micros(time.Now()))
		if err != nil {
			return dbError(ctx, fmt.Sprintf("park event %s", e.EventID), err)
		}
		return nil
	})
}

// ParkedCount implements outbox.Source.
func (s *EmbeddedStore) ParkedCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM relay_parked_events`).Scan(&n); err != nil {
		return 0, dbError(ctx, "count parked events", err)
	}
	return n, nil
}

// Backlog implements outbox.Source; the age is that of the first unpublished
// event in publish order.
func (s *EmbeddedStore) Backlog(ctx context.Context, after outbox.Position) (int64, time.Time, error) {
	if err := sqlitePosition(after); err != nil {
		return 0, time.Time{}, fmt.Errorf("backlog: %w", err)
	}
	var (
		n      int64
		oldest sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT count(*),
		(SELECT timestamp FROM order_events WHERE position > ?1 ORDER BY position LIMIT 1)
		FROM order_events WHERE position > ?1`, after.Seq).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, dbError(ctx, "backlog", err)
	}
	return n, fromNullMicros(oldest), nil
}
