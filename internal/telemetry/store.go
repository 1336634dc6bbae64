package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// OrderStore is what the storage adapters give the application: the event
// store, the read model and the idempotency records.
type OrderStore interface {
	application.EventStore
	application.ReadModel
	application.IdempotencyStore
}

// ObservedStore decorates an OrderStore at the port: a span per operation (the
// database work of a command or query, whichever adapter does it; the
// PostgreSQL driver's own spans nest below), its duration by operation and
// outcome, and the events each successful append committed, by type.
type ObservedStore struct {
	next   OrderStore
	tracer trace.Tracer
	m      *Metrics
	system string
}

var _ OrderStore = (*ObservedStore)(nil)

// NewObservedStore wraps next. system names the database on spans
// ("postgresql", "sqlite"); tp nil means no tracing.
func NewObservedStore(next OrderStore, system string, tp trace.TracerProvider, m *Metrics) *ObservedStore {
	return &ObservedStore{next: next, tracer: tracerOf(tp), m: m, system: system}
}

// start opens the span of one operation.
func (s *ObservedStore) start(ctx context.Context, op string, attrs ...attribute.KeyValue) (context.Context, trace.Span, time.Time) {
	attrs = append(attrs, attribute.String("db.system.name", s.system))
	ctx, span := s.tracer.Start(ctx, "store."+op, trace.WithAttributes(attrs...))
	return ctx, span, time.Now()
}

// end closes it and records the duration.
func (s *ObservedStore) end(span trace.Span, op string, began time.Time, err error) {
	s.m.storeDuration.WithLabelValues(op, outcome(err)).Observe(time.Since(began).Seconds())
	endSpan(span, err)
	span.End()
}

// Load implements application.EventStore.
func (s *ObservedStore) Load(ctx context.Context, id order.ID) ([]order.Event, error) {
	ctx, span, began := s.start(ctx, "Load", attrOrderID.String(id.String()))
	events, err := s.next.Load(ctx, id)
	span.SetAttributes(attrEvents.Int(len(events)))
	s.end(span, "Load", began, err)
	return events, err
}

// Append implements application.EventStore.
func (s *ObservedStore) Append(ctx context.Context, c application.Commit) error {
	ctx, span, began := s.start(ctx, "Append", attrOrderID.String(c.OrderID.String()),
		attrExpectedVersion.Int(c.ExpectedVersion), attrEvents.Int(len(c.Events)))
	err := s.next.Append(ctx, c)
	s.end(span, "Append", began, err)
	if err == nil {
		for _, e := range c.Events {
			s.m.eventsAppended.WithLabelValues(e.Event.EventType()).Inc()
		}
	}
	return err
}

// GetOrder implements application.ReadModel.
func (s *ObservedStore) GetOrder(ctx context.Context, id order.ID) (order.State, error) {
	ctx, span, began := s.start(ctx, "GetOrder", attrOrderID.String(id.String()))
	snap, err := s.next.GetOrder(ctx, id)
	s.end(span, "GetOrder", began, err)
	return snap, err
}

// ListOrders implements application.ReadModel.
func (s *ObservedStore) ListOrders(ctx context.Context, f application.OrderFilter) ([]order.State, error) {
	ctx, span, began := s.start(ctx, "ListOrders", attribute.Int("order.page_limit", f.Limit))
	orders, err := s.next.ListOrders(ctx, f)
	s.end(span, "ListOrders", began, err)
	return orders, err
}

// ListOrderEvents implements application.ReadModel.
func (s *ObservedStore) ListOrderEvents(ctx context.Context, id order.ID, afterVersion, limit int) ([]application.EventRecord, error) {
	ctx, span, began := s.start(ctx, "ListOrderEvents", attrOrderID.String(id.String()))
	events, err := s.next.ListOrderEvents(ctx, id, afterVersion, limit)
	s.end(span, "ListOrderEvents", began, err)
	return events, err
}

// FindRequest implements application.IdempotencyStore. The request id is
// the client's string and stays off the span.
func (s *ObservedStore) FindRequest(ctx context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	ctx, span, began := s.start(ctx, "FindRequest")
	rec, found, err := s.next.FindRequest(ctx, scope, requestID)
	span.SetAttributes(attribute.Bool("order.request_found", found))
	s.end(span, "FindRequest", began, err)
	return rec, found, err
}

// DeleteRequestsBefore implements application.IdempotencyStore: background
// housekeeping, timed but not traced (it has no request to belong to).
func (s *ObservedStore) DeleteRequestsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	began := time.Now()
	n, err := s.next.DeleteRequestsBefore(ctx, cutoff)
	s.m.storeDuration.WithLabelValues("DeleteRequestsBefore", outcome(err)).Observe(time.Since(began).Seconds())
	return n, err
}
