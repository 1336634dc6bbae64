package telemetry

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
	"github.com/acme/order-service/internal/infrastructure/system"
)

// racingStore loses the next append's race when armed, as if another
// writer had appended first.
type racingStore struct {
	*memory.FakeStore
	armed atomic.Bool
}

func (s *racingStore) Append(ctx context.Context, c application.Commit) error {
	if s.armed.CompareAndSwap(true, false) {
		return &order.ConcurrencyError{OrderID: c.OrderID, ExpectedVersion: c.ExpectedVersion}
	}
	return s.FakeStore.Append(ctx, c)
}

type fixture struct {
	m      *Metrics
	spans  *tracetest.SpanRecorder
	store  *racingStore
	app    *application.Service
	tracer *sdktrace.TracerProvider
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{m: NewMetrics(ServiceInfo{ServiceName: "svc", CellID: "c1"}), spans: tracetest.NewSpanRecorder(), store: &racingStore{FakeStore: memory.New()}}
	f.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	t.Cleanup(func() { _ = f.tracer.Shutdown(context.Background()) })
	store := NewObservedStore(f.store, "memory", f.tracer, f.m)
	app, err := application.NewService(application.Ports{
		Events: store, Requests: store, Read: store, Clock: system.Clock{}, IDs: system.UUIDv7{},
	}, application.CommandsConfig{MaxAttempts: 3, Observer: NewObserver(f.m)}, Handlers(f.tracer, f.m))
	if err != nil {
		t.Fatal(err)
	}
	f.app = app
	return f
}

func createOrder(requestID, address string) application.CreateOrder {
	return application.CreateOrder{
		Meta: application.CommandMeta{Actor: application.Anonymous, RequestID: requestID}, UserID: "user-1",
		ShippingAddress: address,
		Items:           []application.NewItem{{ProductID: "p1", ProductName: "Widget", Quantity: 1, UnitPrice: "1.00"}},
	}
}

func TestCommandMetricsAndSpans(t *testing.T) {
	f := newFixture(t)
	ctx, rpc := f.tracer.Tracer("test").Start(context.Background(), "rpc")
	snap, err := f.app.CreateOrder.Handle(ctx, createOrder("r1", "1 Main St"))
	if err != nil {
		t.Fatal(err)
	}
	id := snap.ID.String()
	// Same request id, same payload: a replay. Another payload: refused.
	if _, err := f.app.CreateOrder.Handle(ctx, createOrder("r1", "1 Main St")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.app.CreateOrder.Handle(ctx, createOrder("r1", "2 Side Rd")); outcome(err) != outcomeInvalid {
		t.Fatalf("reused request id = %v", err)
	}
	// A lost race without an expected version: re-decided, then committed.
	f.store.armed.Store(true)
	if _, err := f.app.ConfirmOrder.Handle(ctx, application.ConfirmOrder{Meta: application.CommandMeta{Actor: application.Anonymous}, OrderID: id}); err != nil {
		t.Fatalf("ConfirmOrder after a lost race: %v", err)
	}
	// A stale expected version: ABORTED, not retried.
	_, err = f.app.CancelOrder.Handle(ctx, application.CancelOrder{Meta: application.CommandMeta{Actor: application.Anonymous, ExpectedVersion: 1}, OrderID: id})
	if outcome(err) != outcomeConflict {
		t.Fatalf("stale CancelOrder = %v", err)
	}
	if _, err := f.app.GetOrder.Handle(ctx, application.GetOrder{Actor: application.Anonymous, OrderID: id}); err != nil {
		t.Fatal(err)
	}
	rpc.End()

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"replayed", testutil.ToFloat64(f.m.replays.WithLabelValues("CreateOrder", "replayed")), 1},
		{"payload_mismatch", testutil.ToFloat64(f.m.replays.WithLabelValues("CreateOrder", "payload_mismatch")), 1},
		{"race conflicts", testutil.ToFloat64(f.m.conflicts.WithLabelValues("ConfirmOrder", "concurrent_append")), 1},
		{"retries", testutil.ToFloat64(f.m.retries.WithLabelValues("ConfirmOrder")), 1},
		{"stale conflicts", testutil.ToFloat64(f.m.conflicts.WithLabelValues("CancelOrder", "expected_version")), 1},
		{"stale retries", testutil.ToFloat64(f.m.retries.WithLabelValues("CancelOrder")), 0},
		{"OrderCreated appended", testutil.ToFloat64(f.m.eventsAppended.WithLabelValues("OrderCreated")), 1},
		{"OrderConfirmed appended", testutil.ToFloat64(f.m.eventsAppended.WithLabelValues("OrderConfirmed")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(f.m.storeDuration); n == 0 {
		t.Error("no store durations")
	}

	// The spans: rpc → command.ConfirmOrder → store.Load, store.Append ×2
	// (the first lost the race), all one trace.
	spans := f.spans.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
		if s.SpanContext().TraceID() != rpc.SpanContext().TraceID() {
			t.Errorf("span %s in another trace", s.Name())
		}
	}
	confirm := only(t, byName["command.ConfirmOrder"])
	if confirm.Parent().SpanID() != rpc.SpanContext().SpanID() {
		t.Error("command.ConfirmOrder is not the rpc span's child")
	}
	if !hasEvent(confirm, "version conflict", attribute.Bool("order.conflict.retrying", true)) {
		t.Errorf("command.ConfirmOrder has no retried conflict event: %v", confirm.Events())
	}
	var appends, conflicts int
	for _, s := range byName["store.Append"] {
		if s.Parent().SpanID() == confirm.SpanContext().SpanID() {
			appends++
			if attr(s, attrOutcome) == outcomeConflict {
				conflicts++
			}
		}
	}
	if appends != 2 || conflicts != 1 {
		t.Errorf("store.Append under ConfirmOrder: %d, %d conflicted; want 2, 1", appends, conflicts)
	}
	cancel := only(t, byName["command.CancelOrder"])
	if attr(cancel, attrOutcome) != outcomeConflict || cancel.Status().Code != 0 {
		t.Errorf("stale CancelOrder span: outcome %q, status %v; want conflict, unset", attr(cancel, attrOutcome), cancel.Status())
	}
	if get := only(t, byName["query.GetOrder"]); attr(get, attrOrderID) != id {
		t.Errorf("query.GetOrder order.id = %q", attr(get, attrOrderID))
	}
	// No address or user id on any span.
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			if v := kv.Value.String(); v == "1 Main St" || v == "user-1" {
				t.Errorf("span %s carries %s=%q", s.Name(), kv.Key, v)
			}
		}
	}
}

func only(t *testing.T, spans []sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan {
	t.Helper()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	return spans[0]
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

func hasEvent(s sdktrace.ReadOnlySpan, name string, want attribute.KeyValue) bool {
	for _, e := range s.Events() {
		if e.Name != name {
			continue
		}
		for _, kv := range e.Attributes {
			if kv == want {
				return true
			}
		}
	}
	return false
}

// TestCommandSeriesStartAtZero: registering the middleware creates every
// command's series, and only the commands', before the first call.
func TestCommandSeriesStartAtZero(t *testing.T) {
	m := NewMetrics(ServiceInfo{ServiceName: "svc", CellID: "c1"})
	var commands []string
	record := func(info application.Info, next application.Next) application.Next {
		if info.Kind == application.KindCommand {
			commands = append(commands, info.Name)
		}
		return next
	}
	if _, err := application.NewService(application.Ports{}, application.CommandsConfig{}, record, Handlers(nil, m)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(commands, "CreateOrder") || slices.Contains(commands, "GetOrder") {
		t.Fatalf("commands registered: %v", commands)
	}
	for _, c := range []struct {
		name       string
		vec        *prometheus.CounterVec
		perCommand int
	}{{"retries", m.retries, 1}, {"conflicts", m.conflicts, 2}, {"replays", m.replays, 2}} {
		if n := testutil.CollectAndCount(c.vec); n != c.perCommand*len(commands) {
			t.Errorf("%s: %d series, want %d per command (%v)", c.name, n, c.perCommand, commands)
		}
	}
}
