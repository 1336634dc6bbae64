package sqlite

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// chanPublisher hands every published event to the test.
type chanPublisher struct{ out chan outbox.Event }

func (p chanPublisher) Publish(ctx context.Context, events []outbox.Event) error {
	for _, e := range events {
		select {
		case p.out <- e:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// TestRelayIsWokenByCommits runs the real relay on the store with a polling
// interval far beyond the test's patience: an event committed while the
// relay idles can only reach the publisher through Notifications.
func TestRelayIsWokenByCommits(t *testing.T) {
	s, _ := openTestStore(t)
	f := newFixture(t)
	pub := chanPublisher{out: make(chan outbox.Event, 16)}
	relay, err := outbox.NewRelay(s, pub, outbox.RelayConfig{PollInterval: time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	stopped := make(chan error, 1)
	go func() { stopped <- relay.Run(ctx) }()

	first := f.NewOrder("user-1")
	must(t, s.Append(t.Context(), f.Commit(first, 0, "")))
	awaitPublished(t, pub, first.ID(), 1)
	second := f.NewOrder("user-2")
	must(t, s.Append(t.Context(), f.Commit(second, 0, "")))
	awaitPublished(t, pub, second.ID(), 1)

	stop()
	select {
	case err := <-stopped:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not stop")
	}
	cp, err := s.Checkpoint(t.Context(), "kafka")
	must(t, err)
	if cp != (outbox.Position{Seq: 2}) {
		t.Fatalf("relay checkpoint = %+v, want seq 2", cp)
	}
}

func awaitPublished(t *testing.T, pub chanPublisher, id order.ID, version int) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-pub.out:
			if e.OrderID == id && e.Version == version {
				return
			}
		case <-timeout:
			t.Fatalf("order %s version %d was not published", id, version)
		}
	}
}
