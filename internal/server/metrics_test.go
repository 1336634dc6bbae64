package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/server"
	"github.com/acme/order-service/internal/testkit"
)

func newOrder(user, requestID string) *orderv1.CreateOrderRequest {
	return &orderv1.CreateOrderRequest{
		UserId: user, ShippingAddress: "1 Main St, Springfield", RequestId: requestID,
		Items: []*orderv1.NewLineItem{{ProductId: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"}},
	}
}

// TestMetricsEndToEnd drives gRPC and REST traffic through the real service
// (embedded SQLite and broker) and reads /metrics the way Prometheus does,
// on the HTTP port and on the admin listener.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil, server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// gRPC: two orders, one retried with its request id (a replay), a stale
	// expected version (ABORTED), an unknown order (NOT_FOUND).
	first, err := svc.GRPC.CreateOrder(ctx, newOrder("user-1", "metrics-1"))
	if err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	if _, err := svc.GRPC.CreateOrder(ctx, newOrder("user-1", "metrics-1")); err != nil {
		t.Fatalf("CreateOrder replay: %v", err)
	}
	if _, err := svc.GRPC.CreateOrder(ctx, newOrder("user-2", "")); err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}
	id := first.GetOrder().GetId()
	if _, err := svc.GRPC.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: id, ExpectedVersion: 7}); status.Code(err) != codes.Aborted {
		t.Fatalf("stale ConfirmOrder = %v, want ABORTED", err)
	}
	if _, err := svc.GRPC.GetOrder(ctx, &orderv1.GetOrderRequest{OrderId: "0190a5a4-0000-7000-8000-000000000000"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetOrder(unknown) = %v, want NOT_FOUND", err)
	}
	// REST: a read and a transition by route pattern, and a path no route takes.
	if code, body, err := get(ctx, svc.HTTP+"/v1/orders/"+id); err != nil || code != http.StatusOK {
		t.Fatalf("GET order: %d %s %v", code, body, err)
	}
	if code, body, err := do(ctx, http.MethodPost, svc.HTTP+"/v1/orders/"+id+":confirm", `{"expected_version":1}`, nil); err != nil || code != http.StatusOK {
		t.Fatalf("POST :confirm: %d %s %v", code, body, err)
	}
	if code, _, _ := get(ctx, svc.HTTP+"/no/such/path/"+id); code != http.StatusNotFound {
		t.Fatalf("GET unknown path = %d", code)
	}

	m := scrape(t, svc.HTTP+"/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64 // exact; -1: only > 0
	}{
		{"grpc_server_handled_total", []string{"grpc_method", "CreateOrder", "grpc_code", "OK"}, 3},
		{"grpc_server_handled_total", []string{"grpc_method", "ConfirmOrder", "grpc_code", "Aborted"}, 1},
		// The REST confirm went through the same gRPC server, in process.
		{"grpc_server_handled_total", []string{"grpc_method", "ConfirmOrder", "grpc_code", "OK"}, 1},
		{"grpc_server_handled_total", []string{"grpc_method", "GetOrder", "grpc_code", "NotFound"}, 1},
		{"grpc_server_handled_total", []string{"grpc_method", "PayOrder", "grpc_code", "OK"}, 0}, // pre-initialised
		{"grpc_server_handling_seconds", []string{"grpc_method", "CreateOrder"}, 3},
		{"http_server_requests_total", []string{"method", "GET", "route", "/v1/orders/{order_id}", "code", "200"}, 1},
		{"http_server_requests_total", []string{"method", "POST", "route", "/v1/orders/{order_id}:confirm", "code", "200"}, 1},
		{"http_server_requests_total", []string{"method", "GET", "route", "unmatched", "code", "404"}, 1},
		{"http_server_request_duration_seconds", []string{"route", "/v1/orders/{order_id}"}, 1},
		{"order_service_events_appended_total", []string{"event_type", "OrderCreated"}, 2},
		{"order_service_events_appended_total", []string{"event_type", "OrderConfirmed"}, 1},
		{"order_service_idempotent_replays_total", []string{"command", "CreateOrder", "outcome", "replayed"}, 1},
		{"order_service_version_conflicts_total", []string{"command", "ConfirmOrder", "cause", "expected_version"}, 1},
		{"order_service_store_operation_duration_seconds", []string{"operation", "Append", "outcome", "ok"}, 3},
		{"order_service_info", []string{"service_name", "order-service", "cell_id", "cell-test"}, 1},
		{"db_pool_max_connections", []string{"db_system", "sqlite"}, -1},
		{"db_pool_open_connections", []string{"db_system", "sqlite"}, -1},
		{"go_goroutines", nil, -1},
		{"process_resident_memory_bytes", nil, -1},
		{"go_build_info", nil, 1},
	} {
		got, ok := m.value(c.name, c.labels...)
		switch {
		case !ok:
			t.Errorf("%s%v: no such series", c.name, c.labels)
		case c.want < 0 && got <= 0:
			t.Errorf("%s%v = %v, want > 0", c.name, c.labels, got)
		case c.want >= 0 && got != c.want:
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Bounded labels: no order id, user id or raw path in any series.
	for name, f := range m {
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if v := lp.GetValue(); strings.Contains(v, id) || strings.Contains(v, "user-1") || strings.Contains(v, "/no/such") {
					t.Errorf("%s has an unbounded label %s=%q", name, lp.GetName(), v)
				}
			}
		}
	}

	// The relay publishes the three events (two created, one confirmed) and
	// says so, on both listeners.
	testkit.Eventually(t, 30*time.Second, "relay metrics", func() error {
		for _, url := range []string{svc.HTTP + "/metrics", svc.Admin + "/metrics"} {
			m := scrape(t, url)
			if v, _ := m.value("outbox_relay_published_events_total"); v != 3 {
				return fmt.Errorf("%s: outbox_relay_published_events_total = %v, want 3", url, v)
			}
			if v, _ := m.value("outbox_relay_state", "state", "caught-up"); v != 1 {
				return fmt.Errorf("%s: relay not caught up", url)
			}
			if v, ok := m.value("outbox_relay_backlog_events"); !ok || v != 0 {
				return fmt.Errorf("%s: outbox_relay_backlog_events = %v, %v", url, v, ok)
			}
			if v, ok := m.value("outbox_relay_parked_events"); !ok || v != 0 {
				return fmt.Errorf("%s: outbox_relay_parked_events = %v, %v", url, v, ok)
			}
			if v, _ := m.value("order_service_ready"); v != 1 {
				return fmt.Errorf("%s: order_service_ready = %v", url, v)
			}
			if v, _ := m.value("outbox_relay_publish_duration_seconds"); v < 1 {
				return fmt.Errorf("%s: no publish observed", url)
			}
		}
		return nil
	})
	if v, ok := m.value("outbox_relay_publish_errors_total"); !ok || v != 0 {
		t.Errorf("outbox_relay_publish_errors_total = %v, %v; want 0", v, ok)
	}

	// The dashboard and the alert rules ask only for series the service
	// exports (the names, at least: a renamed metric fails here, not in an
	// incident).
	m = scrape(t, svc.HTTP+"/metrics")
	for _, file := range []string{"../../deploy/grafana/order-service.json", "../../deploy/prometheus/alerts.yml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, match := range selector.FindAllStringSubmatch(string(data), -1) {
			names[match[1]] = true
		}
		if len(names) < 5 {
			t.Fatalf("%s: only %d metric names found", file, len(names))
		}
		for name := range names {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if _, ok := m[base]; !ok && name != "up" {
				t.Errorf("%s uses %s, which the service does not export", file, name)
			}
		}
	}
}

// selector finds the metric names of PromQL selectors (name{…}).
var selector = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)

// TestOperatorEndpoints checks /readyz's relay section, the admin
// listener's /admin/relay and pprof, and the log lines' fields.
func TestOperatorEndpoints(t *testing.T) {
	t.Parallel()
	svc := startService(t, nil, server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := svc.GRPC.CreateOrder(ctx, newOrder("user-1", "ops-1")); err != nil {
		t.Fatalf("CreateOrder: %v", err)
	}

	var ready struct {
		Status   string `json:"status"`
		Database string `json:"database"`
		Relay    struct {
			State     string  `json:"state"`
			Published int64   `json:"published_events"`
			LastError *string `json:"last_error"`
		} `json:"relay"`
	}
	testkit.Eventually(t, 30*time.Second, "/readyz shows the relay caught up", func() error {
		code, body, err := get(ctx, svc.HTTP+"/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		if err := json.Unmarshal(body, &ready); err != nil {
			return err
		}
		if ready.Status != "ready" || ready.Database != "ok" || ready.Relay.State != "caught-up" || ready.Relay.Published != 1 {
			return fmt.Errorf("%s", body)
		}
		return nil
	})
	if ready.Relay.LastError != nil {
		t.Errorf("/readyz on the public port shows the relay's error text")
	}

	code, body, err := get(ctx, svc.Admin+"/admin/relay")
	var relay map[string]any
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &relay) != nil {
		t.Fatalf("/admin/relay: %d %s %v", code, body, err)
	}
	for _, key := range []string{"state", "leader", "backlog_events", "seconds_behind", "published_events", "parked_events", "position"} {
		if _, ok := relay[key]; !ok {
			t.Errorf("/admin/relay has no %q: %s", key, body)
		}
	}
	if code, body, err := get(ctx, svc.Admin+"/debug/pprof/"); err != nil || code != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("/debug/pprof/: %d %v", code, err)
	}
	if code, _, _ := get(ctx, svc.HTTP+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("pprof on the public HTTP port: %d, want 404", code)
	}
	if code, _, _ := get(ctx, svc.Admin+"/admin/consistency"); code != http.StatusNotFound {
		t.Errorf("/admin/consistency with the embedded store: %d, want 404 (PostgreSQL only)", code)
	}
	if code, _, _ := get(ctx, svc.Admin+"/v1/orders?user_id=user-1"); code != http.StatusNotFound {
		t.Errorf("the API on the admin listener: %d, want 404", code)
	}

	// Every line names the service and cell; every call's line its request id.
	for _, line := range svc.logLines(t) {
		if line["service"] != "order-service" || line["cell"] != "cell-test" {
			t.Errorf("log line without service/cell: %v", line)
		}
		if line["msg"] == "grpc call" && line["request_id"] == "" {
			t.Errorf("call log line without request id: %v", line)
		}
		if strings.Contains(fmt.Sprint(line), "1 Main St") {
			t.Errorf("a shipping address reached the log: %v", line)
		}
	}
}
