package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// saveSnapshotSQL replaces whatever snapshot the order had: the last write
// wins (see application.SnapshotStore.SaveSnapshot).
const saveSnapshotSQL = `
INSERT INTO order_snapshots (order_id, version, snapshot_version, data, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (order_id) DO UPDATE SET
  version = excluded.version, snapshot_version = excluded.snapshot_version,
  data = excluded.data, created_at = excluded.created_at`

// loadAfterSQL reads version 1 and the versions after the given one as two
// index range scans (an OR of the two would scan the order's whole history).
const loadAfterSQL = `
SELECT event_type, version, schema_version, timestamp, data FROM order_events
WHERE aggregate_id = ?1 AND version = 1
UNION ALL
SELECT event_type, version, schema_version, timestamp, data FROM order_events
WHERE aggregate_id = ?1 AND version > max(?2, 1)
ORDER BY version`

// LoadSnapshot implements application.SnapshotStore.
func (s *EmbeddedStore) LoadSnapshot(ctx context.Context, id order.ID) (application.Snapshot, bool, error) {
	row := eventlog.StoredSnapshot{OrderID: id}
	var createdAt int64
	err := s.db.QueryRowContext(ctx, `SELECT version, snapshot_version, data, created_at
		FROM order_snapshots WHERE order_id = ?`, idBytes(id)).
		Scan(&row.Version, &row.SchemaVersion, &row.Data, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return application.Snapshot{}, false, nil
	}
	if err != nil {
		return application.Snapshot{}, false, dbError(ctx, fmt.Sprintf("load snapshot of order %s", id), err)
	}
	row.CreatedAt = fromMicros(createdAt)
	snap, err := eventlog.DecodeSnapshot(row)
	if err != nil {
		return application.Snapshot{}, false, fmt.Errorf("load snapshot: %w", err)
	}
	return snap, true, nil
}

// SaveSnapshot implements application.SnapshotStore. It takes the writer
// slot like any write: one statement, after the command's own commit.
func (s *EmbeddedStore) SaveSnapshot(ctx context.Context, snap application.Snapshot) error {
	row, err := eventlog.EncodeSnapshot(snap)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, saveSnapshotSQL,
			idBytes(row.OrderID), row.Version, row.SchemaVersion, row.Data, micros(row.CreatedAt))
		if err != nil {
			return dbError(ctx, "upsert", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save snapshot of order %s: %w", row.OrderID, err)
	}
	return nil
}

// LoadAfter implements application.SnapshotStore. It reads the OrderCreated
// too: the later payloads leave the order's currency out, and the decoder
// takes it from there.
func (s *EmbeddedStore) LoadAfter(ctx context.Context, id order.ID, afterVersion int) ([]order.Event, error) {
	rows, err := s.db.QueryContext(ctx, loadAfterSQL, idBytes(id), afterVersion)
	if err != nil {
		return nil, dbError(ctx, "load order events", err)
	}
	return decodeEvents(ctx, id, rows, afterVersion)
}
