//go:build integration

package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/testkit"
)

// TestPostgresTracesAndPoolMetrics runs the service on PostgreSQL: the
// statements a request sends are client spans below the store's spans, in
// the request's trace, and the pgx pool's statistics are exported.
func TestPostgresTracesAndPoolMetrics(t *testing.T) {
	t.Parallel()
	svc, spans := tracedService(t, map[string]string{
		"DATABASE_URL": pgtest.NewDatabase(t), "AUTH_MODE": "off", "DB_MAX_CONNS": "4",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	created, err := svc.GRPC.CreateOrder(ctx, newOrder("user-1", "pg-trace-1"))
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if _, err := svc.GRPC.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: created.GetOrder().GetId()}); err != nil {
		t.Fatalf("GetOrder: %v", err)
	}

	testkit.Eventually(t, 10*time.Second, "SQL spans under the store's spans", func() error {
		ended := spans.Ended()
		rpc := find(ended, func(s sdktrace.ReadOnlySpan) bool { return s.Name() == "order.v1.OrderService/GetOrder" })
		if rpc == nil {
			return fmt.Errorf("no GetOrder server span")
		}
		query := childOf(ended, rpc, "query.GetOrder")
		if query == nil {
			return fmt.Errorf("no query.GetOrder span")
		}
		store := childOf(ended, query, "store.GetOrder")
		if store == nil {
			return fmt.Errorf("no store.GetOrder span")
		}
		sql := find(ended, func(s sdktrace.ReadOnlySpan) bool {
			return strings.HasPrefix(s.Name(), "postgresql ") && s.Parent().SpanID() == store.SpanContext().SpanID()
		})
		if sql == nil {
			return fmt.Errorf("no postgresql span under store.GetOrder")
		}
		// A statement, or a batch (one round trip) with its statements as events.
		text := attrOf(sql, "db.query.text")
		for _, e := range sql.Events() {
			for _, kv := range e.Attributes {
				if kv.Key == "db.query.text" {
					text += "\n" + kv.Value.AsString()
				}
			}
		}
		if attrOf(sql, "db.system.name") != "postgresql" || !strings.Contains(text, "orders") {
			return fmt.Errorf("SQL span %s: %v, statements %q", sql.Name(), sql.Attributes(), text)
		}
		return nil
	})
	// The relay's own statements (polling, lease) are not traced.
	for _, s := range spans.Ended() {
		if strings.HasPrefix(s.Name(), "postgresql ") && !s.Parent().IsValid() {
			t.Errorf("root SQL span %s: %s", s.Name(), attrOf(s, "db.query.text"))
		}
	}

	m := scrape(t, svc.HTTP+"/metrics")
	for _, name := range []string{"db_pool_max_connections", "db_pool_open_connections", "db_pool_acquires_total", "db_pool_acquire_wait_seconds_total"} {
		v, ok := m.value(name, "db_system", "postgresql")
		if !ok {
			t.Errorf("%s: no postgresql series", name)
		}
		if name == "db_pool_max_connections" && v != 4 {
			t.Errorf("db_pool_max_connections = %v, want 4", v)
		}
		if name == "db_pool_acquires_total" && v <= 0 {
			t.Errorf("db_pool_acquires_total = %v", v)
		}
	}
	// The operator's consistency check: the read model equals the replayed log.
	if code, body, err := get(ctx, svc.Admin+"/admin/consistency"); err != nil || code != http.StatusOK ||
		!strings.Contains(string(body), `"clean":true`) || !strings.Contains(string(body), `"histories":1`) {
		t.Errorf("/admin/consistency: %d %s %v", code, body, err)
	}
	testkit.Eventually(t, 30*time.Second, "the relay publishes from PostgreSQL", func() error {
		if v, _ := scrape(t, svc.HTTP+"/metrics").value("outbox_relay_published_events_total"); v != 1 {
			return fmt.Errorf("published %v", v)
		}
		return nil
	})
}
