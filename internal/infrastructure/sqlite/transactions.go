package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/acme/order-service/internal/application"
)

// write runs fn in a read-write transaction and commits it. Writers take the
// writer slot first, waiting at most busyTimeout, the same patience SQLite's
// busy handler has: a writer that cannot get in by then finds the store
// overloaded and fails as unavailable rather than queueing without bound.
func (s *EmbeddedStore) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.enterWriter(ctx); err != nil {
		return err
	}
	defer func() { <-s.writer }()
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE, see dsn
	if err != nil {
		return dbError(ctx, "begin", err)
	}
	if err := fn(tx); err != nil {
		// Nothing of a failed rollback is committed either; fn's error is the
		// one that explains what went wrong.
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError(ctx, "commit", err)
	}
	return nil
}

func (s *EmbeddedStore) enterWriter(ctx context.Context) error {
	timer := time.NewTimer(s.cfg.busyTimeout)
	defer timer.Stop()
	select {
	case s.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the writer: %w", ctx.Err())
	case <-timer.C:
		return fmt.Errorf("wait for the writer: %w: busy for %s", application.ErrUnavailable, s.cfg.busyTimeout)
	}
}

// read runs fn in a read-only transaction: one consistent WAL snapshot for
// queries that take several statements.
func (s *EmbeddedStore) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dbError(ctx, "begin read", err)
	}
	// Nothing was written, so how the transaction ends does not matter.
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// dbError wraps a driver error with the operation, marks transient ones
// (lock contention past busy_timeout) as application.ErrUnavailable, and keeps
// the caller's context error visible when that is what stopped the statement.
func dbError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w: %w", op, ctxErr, err)
	}
	if isBusy(err) {
		return fmt.Errorf("%s: %w: %w", op, application.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// sqliteCode returns the extended result code of a driver error (the driver
// turns extended codes on for every connection).
func sqliteCode(err error) (int, bool) {
	var e *sqlitedriver.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Code(), true
}

func isBusy(err error) bool {
	code, ok := sqliteCode(err)
	primary := code & 0xff
	return ok && (primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED)
}

// isUniqueViolation reports a UNIQUE or PRIMARY KEY constraint failure. When
// columns are given, the failure must name them: SQLite reports the columns
// ("UNIQUE constraint failed: t.a, t.b"), never an index name.
func isUniqueViolation(err error, columns string) bool {
	code, ok := sqliteCode(err)
	if !ok || (code != sqlite3.SQLITE_CONSTRAINT_UNIQUE && code != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return false
	}
	return columns == "" || strings.Contains(err.Error(), columns)
}
