package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

func TestRelayCollector(t *testing.T) {
	status := outbox.RelayStatus{
		State: outbox.StateBrokerUnreachable, Backlog: 42, SecondsBehind: 12.5, Published: 7, Parked: 1,
		LastError: "dial tcp 10.0.0.1:9092: connection refused", LastErrorAt: time.Unix(1700000000, 0),
	}
	c := NewRelayCollector(func() outbox.RelayStatus { return status })
	want := `
# HELP outbox_relay_backlog_events Committed events waiting to be published, as last measured by the leader.
# TYPE outbox_relay_backlog_events gauge
outbox_relay_backlog_events 42
# HELP outbox_relay_lag_seconds Age of the oldest event waiting to be published (0 when caught up).
# TYPE outbox_relay_lag_seconds gauge
outbox_relay_lag_seconds 12.5
# HELP outbox_relay_leader 1 while this instance holds the relay lease and publishes; standbys report 0 (and no backlog).
# TYPE outbox_relay_leader gauge
outbox_relay_leader 1
# HELP outbox_relay_parked_events Events parked in relay_parked_events after the broker refused them for good (all instances').
# TYPE outbox_relay_parked_events gauge
outbox_relay_parked_events 1
# HELP outbox_relay_published_events_total Events this instance had acknowledged by the broker.
# TYPE outbox_relay_published_events_total counter
outbox_relay_published_events_total 7
# HELP outbox_relay_state 1 for the relay's current state (connecting, waiting-for-lease, caught-up, lagging, broker-unreachable), 0 for the others.
# TYPE outbox_relay_state gauge
outbox_relay_state{state="broker-unreachable"} 1
outbox_relay_state{state="caught-up"} 0
outbox_relay_state{state="connecting"} 0
outbox_relay_state{state="lagging"} 0
outbox_relay_state{state="waiting-for-lease"} 0
# HELP outbox_relay_last_error_timestamp_seconds When the relay last failed and backed off (Unix time).
# TYPE outbox_relay_last_error_timestamp_seconds gauge
outbox_relay_last_error_timestamp_seconds 1.7e+09
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// Standby, parked not yet counted: no parked series rather than a fake 0.
	status = outbox.RelayStatus{State: outbox.StateWaitingForLease, Parked: -1}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP outbox_relay_leader 1 while this instance holds the relay lease and publishes; standbys report 0 (and no backlog).
# TYPE outbox_relay_leader gauge
outbox_relay_leader 0
`), "outbox_relay_leader", "outbox_relay_parked_events"); err != nil {
		t.Error(err)
	}

	public, _ := json.Marshal(NewRelayReport(outbox.RelayStatus{State: outbox.StateLagging, Parked: -1, LastError: "secret-host"}, false))
	if strings.Contains(string(public), "secret-host") || !strings.Contains(string(public), `"parked_events":null`) {
		t.Errorf("public relay report: %s", public)
	}
	detailed, _ := json.Marshal(NewRelayReport(outbox.RelayStatus{State: outbox.StateLagging, LastError: "boom", LastErrorAt: time.Now()}, true))
	if !strings.Contains(string(detailed), `"last_error":"boom"`) {
		t.Errorf("detailed relay report: %s", detailed)
	}
}

func TestPoolCollector(t *testing.T) {
	c := NewPoolCollector("sqlite", func() PoolStats {
		return PoolStats{Max: 8, Open: 3, InUse: 1, Idle: 2, Acquires: -1, Waits: 4, WaitTime: 1500 * time.Millisecond, Canceled: -1}
	})
	want := `
# HELP db_pool_acquire_wait_seconds_total Time spent waiting for a connection.
# TYPE db_pool_acquire_wait_seconds_total counter
db_pool_acquire_wait_seconds_total{db_system="sqlite"} 1.5
# HELP db_pool_acquired_connections Connections in use.
# TYPE db_pool_acquired_connections gauge
db_pool_acquired_connections{db_system="sqlite"} 1
# HELP db_pool_max_connections Most connections the pool may open.
# TYPE db_pool_max_connections gauge
db_pool_max_connections{db_system="sqlite"} 8
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"db_pool_acquire_wait_seconds_total", "db_pool_acquired_connections", "db_pool_max_connections", "db_pool_acquires_total"); err != nil {
		t.Error(err)
	}
}

func TestPublisherMetrics(t *testing.T) {
	m := NewMetrics(ServiceInfo{})
	var next fakePublisher
	p := NewPublisher(&next, nil, m)
	events := []outbox.Event{{Type: "OrderCreated"}, {Type: "OrderPaid"}}
	next.err = errors.New("broker down")
	_ = p.Publish(context.Background(), events)
	next.err = &outbox.RejectedError{Rejected: map[order.ID]string{{1}: "too large"}}
	_ = p.Publish(context.Background(), events)
	if got := testutil.ToFloat64(m.publishErrors); got != 1 {
		t.Errorf("publish errors = %v", got)
	}
	if got := testutil.ToFloat64(m.rejectedEvents); got != 1 {
		t.Errorf("rejected events = %v", got)
	}
}

type fakePublisher struct{ err error }

func (f *fakePublisher) Publish(context.Context, []outbox.Event) error { return f.err }

func TestPublisherLinksTheEventsTraces(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	p := NewPublisher(&fakePublisher{}, tp, NewMetrics(ServiceInfo{}))
	tp1 := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	events := []outbox.Event{
		{Metadata: application.EventMetadata{TraceParent: tp1}},
		{Metadata: application.EventMetadata{TraceParent: "garbage"}},
		{},
	}
	if err := p.Publish(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	ended := spans.Ended()
	if len(ended) != 1 || ended[0].Name() != "outbox publish" {
		t.Fatalf("spans: %v", ended)
	}
	links := ended[0].Links()
	if len(links) != 1 || links[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("links = %v", links)
	}
}

func TestPgxTracerOnlyUnderARequest(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tr := NewPgxTracer(tp)

	// No span in the context (relay polling): nothing traced, and the end
	// hook leaves the caller's context alone.
	ctx := tr.TraceQueryStart(context.Background(), nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
	tr.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{})
	if n := len(spans.Ended()); n != 0 {
		t.Fatalf("%d spans without a parent", n)
	}

	parentCtx, parent := tp.Tracer("t").Start(context.Background(), "store.Load")
	ctx = tr.TraceQueryStart(parentCtx, nil, pgx.TraceQueryStartData{SQL: "\n  select x from t where id = $1", Args: []any{"secret-arg"}})
	tr.TraceQueryEnd(ctx, nil, pgx.TraceQueryEndData{Err: &pgconn.PgError{Code: "23505"}})
	ctx = tr.TraceBatchStart(parentCtx, nil, pgx.TraceBatchStartData{Batch: &pgx.Batch{}})
	tr.TraceBatchQuery(ctx, nil, pgx.TraceBatchQueryData{SQL: "INSERT INTO t VALUES ($1)"})
	tr.TraceBatchEnd(ctx, nil, pgx.TraceBatchEndData{})
	parent.End()

	ended := spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans, want 3", len(ended))
	}
	query, batch := ended[0], ended[1]
	if query.Name() != "postgresql SELECT" || query.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("query span %q, parent %v", query.Name(), query.Parent().SpanID())
	}
	if attr(query, "db.response.status_code") != "23505" || query.Status().Code == 0 {
		t.Errorf("query span error: %v %v", query.Attributes(), query.Status())
	}
	for _, kv := range query.Attributes() {
		if strings.Contains(kv.Value.String(), "secret-arg") {
			t.Error("an argument value reached a span")
		}
	}
	if batch.Name() != "postgresql BATCH" || len(batch.Events()) != 1 {
		t.Errorf("batch span %q with %d events", batch.Name(), len(batch.Events()))
	}
	// The parent ends last, when its owner ends it: never in the tracer.
	if ended[2].Name() != "store.Load" || ended[2].EndTime().Before(batch.EndTime()) {
		t.Error("the parent span was ended by the tracer")
	}
}

func TestLogHandlerAddsIDs(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil), nil)).With("service", "svc")
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("t").Start(context.Background(), "rpc")
	defer span.End()

	logger.InfoContext(ctx, "inside a call")
	logger.Info("outside any call")
	logger.InfoContext(ctx, "names its own", "trace_id", "given")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second, third map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[1]), &second)
	_ = json.Unmarshal([]byte(lines[2]), &third)
	if first["trace_id"] != span.SpanContext().TraceID().String() || first["span_id"] == nil || first["service"] != "svc" {
		t.Errorf("line in a call: %s", lines[0])
	}
	if _, ok := second["trace_id"]; ok {
		t.Errorf("line outside a call: %s", lines[1])
	}
	if third["trace_id"] != "given" || strings.Count(lines[2], "trace_id") != 1 {
		t.Errorf("line with its own trace_id: %s", lines[2])
	}
}

func TestOperation(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT 1": "SELECT", "\n insert into x": "INSERT", "BEGIN": "BEGIN", "": "QUERY",
		"WITH a AS (select 1) SELECT": "WITH", "select(1)": "SELECT",
	} {
		if got := operation(sql); got != want {
			t.Errorf("operation(%q) = %q, want %q", sql, got, want)
		}
	}
}
