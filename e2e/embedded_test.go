package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
)

// Issue 6: with no DATABASE_URL and no KAFKA_BROKERS the service keeps its
// orders in SQLite under DATA_DIR and publishes to its own broker. Orders,
// their history and the topic survive a restart, and the relay resumes from
// its checkpoint instead of publishing everything again.
func TestEmbeddedModeSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 2*time.Minute)
	env := embeddedEnv(t, t.TempDir()) // no DATABASE_URL, no KAFKA_BROKERS: nothing else reaches the process
	svc := startService(t, "embedded#1", env, "")
	for _, want := range []string{"storage: embedded SQLite", "kafka: embedded broker"} {
		if !strings.Contains(svc.Logs(), want) {
			t.Errorf("start-up log does not say %q", want)
		}
	}
	c := svc.GRPC

	// Three orders in three different states.
	var ids []string
	for _, user := range []string{"alice", "bob", "carol"} {
		r, err := c.CreateOrder(ctx, seedCreate(user, "embedded-"+user))
		requireOK(t, "CreateOrder", err)
		ids = append(ids, r.GetOrder().GetId())
	}
	_, err := c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: ids[0], ExpectedVersion: 1})
	requireOK(t, "ConfirmOrder", err)
	_, err = c.PayOrder(ctx, &orderv1.PayOrderRequest{OrderId: ids[0], Amount: "44.98", ExpectedVersion: 2})
	requireOK(t, "PayOrder", err)
	_, err = c.ShipOrder(ctx, &orderv1.ShipOrderRequest{OrderId: ids[0], Carrier: "DHL", TrackingNumber: "JD01", ExpectedVersion: 3})
	requireOK(t, "ShipOrder", err)
	_, err = c.AddOrderItem(ctx, &orderv1.AddOrderItemRequest{OrderId: ids[1], ExpectedVersion: 1,
		Item: &orderv1.NewLineItem{ProductId: "sku-7", ProductName: "Sprocket", Quantity: 5, UnitPrice: "0.99"}})
	requireOK(t, "AddOrderItem", err)
	_, err = c.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: ids[1], Reason: "duplicate", ExpectedVersion: 2})
	requireOK(t, "CancelOrder", err)
	_, err = c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: ids[2]})
	requireOK(t, "ConfirmOrder", err)

	before := snapshotOrders(t, ctx, c, ids)
	history := historyOf(t, ctx, c, ids)
	if n := countEvents(history); n != 4+3+2 {
		t.Fatalf("%d events, want 9", n)
	}

	// Every event reaches the embedded broker once, in per-order order.
	read := func(ctx context.Context) ([]*kgo.Record, error) {
		return readTopic(ctx, []string{svc.KafkaAddr}, topic)
	}
	records := awaitRecords(t, read, history, 30*time.Second)
	checkRecords(t, records, history, "/order-service/local")
	svc.Stop()

	// Same DATA_DIR (and the same configuration): everything is still there.
	svc = startService(t, "embedded#2", env, "")
	c = svc.GRPC
	after := snapshotOrders(t, ctx, c, ids)
	for i, id := range ids {
		sameOrder(t, "order after restart", after[i], before[i])
		if got := listEvents(t, ctx, c, id, 0); !sameEvents(got, history[id]) {
			t.Errorf("history of %s after restart: %d events, differs from the %d before", id, len(got), len(history[id]))
		}
	}

	// One more order. Its event is published after anything the relay might
	// have re-sent at start-up, so once it is on the topic a republished
	// backlog would be there too: the topic must hold each event exactly once.
	r, err := c.CreateOrder(ctx, seedCreate("dave", "embedded-dave"))
	requireOK(t, "CreateOrder after restart", err)
	ids = append(ids, r.GetOrder().GetId())
	history = historyOf(t, ctx, c, ids)
	read = func(ctx context.Context) ([]*kgo.Record, error) {
		return readTopic(ctx, []string{svc.KafkaAddr}, topic)
	}
	records = awaitRecords(t, read, history, 30*time.Second)
	if len(records) != countEvents(history) {
		t.Errorf("after the restart the topic holds %d records for %d events: the relay republished", len(records), countEvents(history))
	}
	checkRecords(t, records, history, "/order-service/local")
	svc.Stop()
}

// The zero-configuration start the README promises (`go run
// cmd/server/main.go` on a fresh machine): the binary with nothing in its
// environment but PATH, HOME and the three listen addresses reaches
// readiness, serves, and keeps its data in ./data. The addresses are fresh
// ports, not the defaults (9000, 8080, 9092) — those are machine-wide, and
// other test binaries and checkouts run at the same time; internal/config's
// tests pin the defaults themselves.
func TestZeroConfigStartup(t *testing.T) {
	// Not parallel: t.Setenv needs it.
	//
	// Poison the test's own environment: the child must not inherit it.
	t.Setenv("DATABASE_URL", "postgres://leaked@127.0.0.1:1/leaked")
	t.Setenv("KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("DATA_DIR", "/nonexistent/leaked")
	env := listenEnv(t)
	dir := t.TempDir()
	svc := startService(t, "zero-config", env, dir)
	t.Logf("zero-config start-up: ready %s after exec (binary race-instrumented: %v)", svc.ReadyAfter.Round(time.Millisecond), binaryRace)
	for _, want := range []string{`msg="order service ready"`, "storage: embedded SQLite", "kafka: embedded broker"} {
		if !strings.Contains(svc.Logs(), want) {
			t.Errorf("start-up log (text by default when embedded) does not say %q:\n%s", want, svc.Logs())
		}
	}

	ctx := testContext(t, time.Minute)
	r, err := svc.GRPC.CreateOrder(ctx, seedCreate("user-123", ""))
	requireOK(t, "CreateOrder", err)
	got, err := svc.GRPC.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: r.GetOrder().GetId()})
	requireOK(t, "GetOrder", err)
	sameOrder(t, "GetOrder", got.GetOrder(), r.GetOrder())
	for _, p := range []string{"data/orders.db", "data/kafka"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("default DATA_DIR ./data: %v", err)
		}
	}
	svc.Stop()
}

func snapshotOrders(t testing.TB, ctx context.Context, c orderv1.OrderServiceClient, ids []string) []*orderv1.Order {
	t.Helper()
	out := make([]*orderv1.Order, len(ids))
	for i, id := range ids {
		r, err := c.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: id})
		requireOK(t, "GetOrder "+id, err)
		out[i] = r.GetOrder()
	}
	return out
}

func sameEvents(a, b []*orderv1.OrderEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
