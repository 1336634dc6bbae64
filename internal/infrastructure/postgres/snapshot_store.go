package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

const loadSnapshotSQL = `
SELECT version, snapshot_version, data, created_at FROM order_snapshots WHERE order_id = $1`

// saveSnapshotSQL replaces whatever snapshot the order had: the last write
// wins (see application.SnapshotStore.SaveSnapshot).
const saveSnapshotSQL = `
INSERT INTO order_snapshots (order_id, version, snapshot_version, data, created_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (order_id) DO UPDATE SET
  version = excluded.version, snapshot_version = excluded.snapshot_version,
  data = excluded.data, created_at = excluded.created_at`

// loadAfterSQL reads the OrderCreated too: the later payloads leave the
// order's currency out, and the decoder takes it from there.
// The two range scans are a UNION ALL: an OR of them would scan the order's
// whole history.
const loadAfterSQL = `
(SELECT ` + eventColumns + ` FROM order_events WHERE aggregate_id = $1 AND version = 1)
UNION ALL
(SELECT ` + eventColumns + ` FROM order_events WHERE aggregate_id = $1 AND version > GREATEST($2::int, 1))
ORDER BY version`

// LoadSnapshot implements application.SnapshotStore.
func (s *OrderStore) LoadSnapshot(ctx context.Context, id order.ID) (application.Snapshot, bool, error) {
	row := eventlog.StoredSnapshot{OrderID: id}
	err := s.pool.QueryRow(ctx, loadSnapshotSQL, id).Scan(&row.Version, &row.SchemaVersion, &row.Data, &row.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return application.Snapshot{}, false, nil
	}
	if err != nil {
		return application.Snapshot{}, false, dbError(fmt.Sprintf("load snapshot of order %s", id), err)
	}
	snap, err := eventlog.DecodeSnapshot(row)
	if err != nil {
		return application.Snapshot{}, false, fmt.Errorf("load snapshot: %w", err)
	}
	return snap, true, nil
}

// SaveSnapshot implements application.SnapshotStore.
func (s *OrderStore) SaveSnapshot(ctx context.Context, snap application.Snapshot) error {
	row, err := eventlog.EncodeSnapshot(snap)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if _, err := s.pool.Exec(ctx, saveSnapshotSQL, row.OrderID, row.Version, row.SchemaVersion, row.Data, row.CreatedAt); err != nil {
		return dbError(fmt.Sprintf("save snapshot of order %s", row.OrderID), err)
	}
	return nil
}

// LoadAfter implements application.SnapshotStore.
func (s *OrderStore) LoadAfter(ctx context.Context, id order.ID, afterVersion int) ([]order.Event, error) {
	// Planned for its parameters each time, never from a cached generic
	// plan: that one cannot know "version > $2" selects a few rows of a long
	// history, and once the statistics see long histories it scans them.
	rows, err := s.pool.Query(ctx, loadAfterSQL, pgx.QueryExecModeExec, id, afterVersion)
	if err != nil {
		return nil, dbError(fmt.Sprintf("load order %s after version %d", id, afterVersion), err)
	}
	events, err := decodeEvents(id, rows, afterVersion)
	if err != nil {
		return nil, dbError(fmt.Sprintf("load order %s after version %d", id, afterVersion), err)
	}
	return events, nil
}
