package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/order-service/internal/application"
)

// deleteRequestsBatch bounds how many idempotency records one DELETE
// removes, so the cleanup never holds many row locks or a long transaction.
const deleteRequestsBatch = 1000

const findRequestSQL = `
SELECT fingerprint, order_id, version, created_at FROM idempotency_keys
WHERE scope = $1 AND request_id = $2`

// deleteRequestsSQL takes the oldest expired records through the created_at
// index; SKIP LOCKED lets two instances clean up side by side.
const deleteRequestsSQL = `
DELETE FROM idempotency_keys k
USING (
  SELECT scope, request_id FROM idempotency_keys
  WHERE created_at < $1
  ORDER BY created_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
) expired
WHERE k.scope = expired.scope AND k.request_id = expired.request_id`

// FindRequest implements application.IdempotencyStore. Concurrent calls may
// share a round trip (see group_commit_reads.go); a lone call runs
// findRequestOne.
func (s *OrderStore) FindRequest(ctx context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	if s.reads != nil {
		return s.reads.findRequest(ctx, scope, requestID)
	}
	return s.findRequestOne(ctx, scope, requestID)
}

// findRequestOne looks one request up in a round trip of its own.
func (s *OrderStore) findRequestOne(ctx context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	rec := application.IdempotencyRecord{Scope: scope, RequestID: requestID}
	var fingerprint []byte
	err := s.pool.QueryRow(ctx, findRequestSQL, scope, requestID).Scan(&fingerprint, &rec.OrderID, &rec.Version, &rec.CreatedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return application.IdempotencyRecord{}, false, nil
	case err != nil:
		return application.IdempotencyRecord{}, false, dbError(fmt.Sprintf("find request %q", requestID), err)
	case len(fingerprint) != len(rec.Fingerprint):
		return application.IdempotencyRecord{}, false, fmt.Errorf("find request %q: stored fingerprint has %d bytes, want %d", requestID, len(fingerprint), len(rec.Fingerprint))
	}
	copy(rec.Fingerprint[:], fingerprint)
	rec.CreatedAt = rec.CreatedAt.UTC()
	return rec, true, nil
}

// DeleteRequestsBefore implements application.IdempotencyStore. It deletes
// in batches, each its own short transaction, until a batch comes back
// short; records expiring meanwhile wait for the next run.
func (s *OrderStore) DeleteRequestsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, deleteRequestsSQL, cutoff, deleteRequestsBatch)
		if err != nil {
			return total, dbError("delete expired requests", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < deleteRequestsBatch {
			return total, nil
		}
	}
}
