package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// An unreachable broker: Prepare retries until it is back, Status says
// connecting with the last error meanwhile, the log has one line per change
// rather than one per retry, and the relay publishes afterwards.
func TestPrepareRetriesUntilSetupSucceeds(t *testing.T) {
	var logs bytes.Buffer // written by Prepare's goroutine, read once it returned
	r := newRelay(t, newFakeSource(3), &fakePublisher{}, fastConfig(), slog.New(slog.NewTextHandler(&logs, nil)))
	var mu sync.Mutex
	attempts, reachable := 0, false
	setup := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if !reachable {
			return errors.New("unable to dial")
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- r.Prepare(t.Context(), "kafka topic", setup) }()
	eventually(t, 5*time.Second, "ten failed attempts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return attempts >= 10
	})
	st := r.Status()
	if st.State != outbox.StateConnecting || st.LastError != "unable to dial" || st.Leader() {
		t.Fatalf("status while the set-up fails: %+v (leader %v), want connecting with the error, not leading", st, st.Leader())
	}
	mu.Lock()
	reachable = true
	mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Prepare did not return after the set-up succeeded")
	}
	if got := strings.Count(logs.String(), "not ready"); got != 1 {
		t.Errorf("%d 'not ready' log lines for one unchanged failure, want 1:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "kafka topic ready") {
		t.Errorf("no 'ready' log line:\n%s", logs.String())
	}
	if st := r.Status(); st.State == outbox.StateConnecting {
		t.Fatalf("state after Prepare = %s", st.State)
	}
}

func TestPrepareReturnsFinalErrorAtOnce(t *testing.T) {
	r := newRelay(t, newFakeSource(0), &fakePublisher{}, fastConfig(), quietLogger())
	misconfigured := errors.New("topic does not exist")
	calls := 0
	err := r.Prepare(t.Context(), "kafka topic", func(context.Context) error {
		calls++
		return outbox.Final(misconfigured)
	})
	if !errors.Is(err, misconfigured) || calls != 1 {
		t.Fatalf("Prepare = %v after %d calls, want the final error after 1", err, calls)
	}
}

func TestPrepareStopsWithContext(t *testing.T) {
	r := newRelay(t, newFakeSource(0), &fakePublisher{}, fastConfig(), quietLogger())
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := r.Prepare(ctx, "kafka topic", func(context.Context) error {
		if calls++; calls == 3 {
			cancel()
		}
		return errors.New("unable to dial")
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Prepare after the stop = %v, want context.Canceled", err)
	}
}
