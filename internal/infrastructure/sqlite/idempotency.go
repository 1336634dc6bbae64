package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/application"
)

// FindRequest implements application.IdempotencyStore.
func (s *EmbeddedStore) FindRequest(ctx context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	var (
		fingerprint, orderID []byte
		createdAt            int64
	)
	rec := application.IdempotencyRecord{Scope: scope, RequestID: requestID}
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint, order_id, version, created_at
		FROM idempotency_keys WHERE scope = ? AND request_id = ?`, scope, requestID).
		Scan(&fingerprint, &orderID, &rec.Version, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return application.IdempotencyRecord{}, false, nil
	}
	if err != nil {
		return application.IdempotencyRecord{}, false, dbError(ctx, "find request", err)
	}
	if len(fingerprint) != len(rec.Fingerprint) {
		return application.IdempotencyRecord{}, false, fmt.Errorf("find request %q: stored fingerprint has %d bytes", requestID, len(fingerprint))
	}
	copy(rec.Fingerprint[:], fingerprint)
	if rec.OrderID, err = idFromBytes(orderID); err != nil {
		return application.IdempotencyRecord{}, false, fmt.Errorf("find request %q: %w", requestID, err)
	}
	rec.CreatedAt = fromMicros(createdAt)
	return rec, true, nil
}

// DeleteRequestsBefore implements application.IdempotencyStore.
func (s *EmbeddedStore) DeleteRequestsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, micros(cutoff))
		if err != nil {
			return dbError(ctx, "delete", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete requests before %s: %w", cutoff.Format(time.RFC3339Nano), err)
	}
	return n, nil
}
