package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

func TestTransientClassifiesFailures(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code}) }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &pgconn.ConnectError{}, true},
		{"network error", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"server hung up", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"pool closed", puddle.ErrClosedPool, true},
		{"connection exception", pg("08006"), true},
		{"too many connections", pg("53300"), true},
		{"out of memory", pg("53200"), true},
		{"admin shutdown", pg("57P01"), true},
		{"crash shutdown", pg("57P02"), true},
		{"cannot connect now", pg("57P03"), true},
		{"serialization failure", pg("40001"), true},
		{"deadlock", pg("40P01"), true},
		{"statement timeout", pg("57014"), true},
		{"lock timeout", pg("55P03"), true},
		{"caller cancelled", fmt.Errorf("query: %w", context.Canceled), false},
		{"unique violation", pg("23505"), false},
		{"check violation", pg("23514"), false},
		{"undefined column", pg("42703"), false},
		{"plain error", errors.New("decode: bad payload"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.want {
				t.Fatalf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if got := errors.Is(dbError("op", tc.err), application.ErrUnavailable); got != tc.want {
				t.Fatalf("dbError marks ErrUnavailable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAppendErrorMapsConstraints(t *testing.T) {
	id := order.ID{1}
	commit := application.Commit{OrderID: id, ExpectedVersion: 3, Idempotency: &application.IdempotencyRecord{RequestID: "req-1"}}
	unique := func(constraint string) error {
		return &pgconn.PgError{Code: "23505", ConstraintName: constraint}
	}
	conflict := func(t *testing.T, err error) {
		t.Helper()
		var c *order.ConcurrencyError
		if !errors.As(err, &c) || c.OrderID != id || c.ExpectedVersion != 3 || c.CurrentVersion != 0 {
			t.Fatalf("error = %v, want a concurrency error on order %s at expected version 3", err, id)
		}
	}
	conflict(t, appendError(commit, unique(constraintEventVersion)))
	conflict(t, appendError(commit, unique(constraintOrderKey)))
	conflict(t, appendError(commit, fmt.Errorf("batch: %w", errProjectionMoved)))
	if err := appendError(commit, unique(constraintRequestKey)); !errors.Is(err, application.ErrDuplicateRequest) {
		t.Fatalf("idempotency key violation = %v, want ErrDuplicateRequest", err)
	}
	err := appendError(commit, unique("order_items_pkey"))
	var c *order.ConcurrencyError
	if errors.As(err, &c) || errors.Is(err, application.ErrDuplicateRequest) || errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("another unique violation = %v, want a plain error", err)
	}
	if err := appendError(commit, &pgconn.PgError{Code: "57P01"}); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("admin shutdown = %v, want ErrUnavailable", err)
	}
}
