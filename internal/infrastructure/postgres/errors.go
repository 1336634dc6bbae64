package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// Constraint names the error mapping depends on; migration 00002 and the
// seed schema define them, schema_test.go pins them.
const (
	constraintEventVersion = "order_events_aggregate_version_key"
	constraintOrderKey     = "orders_pkey"
	constraintRequestKey   = "idempotency_keys_pkey"
)

const sqlstateUniqueViolation = "23505"

// errProjectionMoved reports that the orders row was not at the commit's
// expected version: the UPDATE guarding the projection matched no row.
var errProjectionMoved = errors.New("orders row is not at the expected version")

// dbError adds context to a database error and marks it with
// application.ErrUnavailable when the same call may succeed later.
func dbError(op string, err error) error {
	if transient(err) {
		return fmt.Errorf("%s: %w: %w", op, application.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// appendError maps a failed Append: a lost race becomes the domain's
// concurrency error, a request id recorded first by a concurrent duplicate
// becomes ErrDuplicateRequest, the rest goes through dbError.
func appendError(c application.Commit, err error) error {
	conflict := &order.ConcurrencyError{OrderID: c.OrderID, ExpectedVersion: c.ExpectedVersion}
	if errors.Is(err, errProjectionMoved) {
		return conflict
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlstateUniqueViolation {
		switch pgErr.ConstraintName {
		case constraintEventVersion, constraintOrderKey:
			return conflict
		case constraintRequestKey:
			return fmt.Errorf("append order %s: request %q: %w", c.OrderID, c.Idempotency.RequestID, application.ErrDuplicateRequest)
		}
	}
	return dbError(fmt.Sprintf("append order %s", c.OrderID), err)
}

// transient reports whether err is a failure of the database or the path to
// it rather than of the request: retrying later, or on another connection,
// may succeed.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; nothing is wrong with the database
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return transientState(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		pgconn.SafeToRetry(err) || // failed before anything reached the server
		pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || // the server hung up
		errors.Is(err, puddle.ErrClosedPool) // shutting down: another instance can serve
}

// transientState classifies a SQLSTATE the server reported.
func transientState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient resources, e.g. too many connections
		return true
	}
	switch code {
	case "57P01", "57P02", "57P03": // admin shutdown, crash shutdown, cannot connect now
		return true
	case "40001", "40P01": // serialization failure, deadlock detected: the retry is a new transaction
		return true
	case "57014", "55P03": // statement_timeout, lock_timeout
		return true
	}
	return false
}
