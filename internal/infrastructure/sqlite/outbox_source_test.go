package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/outbox/sourcetest"
)

func TestOutboxSourceContract(t *testing.T) {
	sourcetest.Run(t, func(t *testing.T) sourcetest.Harness {
		s, _ := openTestStore(t)
		return sourcetest.Harness{Source: s, Store: s, Hold: func(t *testing.T, c application.Commit) func(bool) error {
			return holdAppend(t, s, c)
		}}
	}, sourcetest.Features{SerialWriters: true})
}

var errRolledBack = errors.New("rolled back on purpose")

// holdAppend writes the commit in a write transaction left open: it holds
// the writer and its positions, and commits (or rolls back) only when told.
func holdAppend(t *testing.T, s *EmbeddedStore, c application.Commit) func(commit bool) error {
	t.Helper()
	p, err := eventlog.Prepare(c)
	must(t, err)
	written, finish, done := make(chan error, 1), make(chan bool), make(chan error, 1)
	go func() {
		done <- s.write(t.Context(), func(tx *sql.Tx) error {
			err := appendCommit(t.Context(), tx, p)
			written <- err
			if commit := <-finish; !commit && err == nil {
				return errRolledBack
			}
			return err
		})
	}()
	select {
	case err := <-written:
		must(t, err)
	case err := <-done:
		t.Fatalf("hold a write transaction: %v", err)
	}
	t.Cleanup(func() {
		select {
		case finish <- false: // the test ended without finishing it
			<-done
		default:
		}
	})
	return func(commit bool) error {
		finish <- commit
		if err := <-done; !errors.Is(err, errRolledBack) || commit {
			return err
		}
		return nil
	}
}

func TestNotificationsFireAfterEachCommit(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	notes := s.Notifications(ctx)
	requireNoSignal(t, notes, "before any Append")

	o := f.NewOrder("user-1")
	must(t, s.Append(t.Context(), f.Commit(o, 0, "")))
	requireSignal(t, notes, "after an Append")

	var conflict *order.ConcurrencyError
	if err := s.Append(t.Context(), f.Commit(o, 0, "")); !errors.As(err, &conflict) {
		t.Fatalf("re-appending version 1: error = %v, want a conflict", err)
	}
	requireNoSignal(t, notes, "after a failed Append")

	for range 3 {
		must(t, s.Append(t.Context(), f.Commit(f.NewOrder("user-1"), 0, "")))
	}
	requireSignal(t, notes, "after three Appends")
	requireNoSignal(t, notes, "once the pending signal was taken (signals coalesce)")

	cancel()
	select {
	case _, open := <-notes:
		if open {
			t.Fatal("a signal arrived after the subscription ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the channel did not close when its context ended")
	}
}

func requireSignal(t *testing.T, notes <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-notes:
	case <-time.After(5 * time.Second):
		t.Fatalf("no signal %s", when)
	}
}

func requireNoSignal(t *testing.T, notes <-chan struct{}, when string) {
	t.Helper()
	select {
	case <-notes:
		t.Fatalf("unexpected signal %s", when)
	default:
	}
}

// The suite shows the lease exclusive; here the store holding it closes.
func TestLeaseEndsWithTheStore(t *testing.T) {
	s, _ := openTestStore(t)
	ctx := t.Context()
	held, release, err := s.AcquireLease(ctx, "kafka")
	must(t, err)
	defer release()

	must(t, s.Close())
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the lease outlived the store")
	}
	if _, _, err := s.AcquireLease(ctx, "kafka"); err == nil {
		t.Fatal("AcquireLease on a closed store succeeded")
	}
}
