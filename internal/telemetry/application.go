package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/order-service/internal/application"
)

// Span attributes of this package. Order ids are opaque identifiers, fine
// on spans (never on metric labels); user ids, addresses and request ids
// are not recorded.
const (
	attrCommand         = attribute.Key("order.command")
	attrOrderID         = attribute.Key("order.id")
	attrExpectedVersion = attribute.Key("order.expected_version")
	attrOutcome         = attribute.Key("order.outcome")
	attrEvents          = attribute.Key("order.events")
)

// Label values of the conflict and replay counters.
const (
	causeExpectedVersion  = "expected_version"
	causeConcurrentAppend = "concurrent_append"
	replayReplayed        = "replayed"
	replayPayloadMismatch = "payload_mismatch"
)

// commandOf is the command a context runs, or "unknown": the command label
// of the Observer's metrics.
func commandOf(ctx context.Context) string {
	if info, ok := application.InfoFrom(ctx); ok {
		return info.Name
	}
	return "unknown"
}

// Handlers is the application middleware of this package: every command and
// query runs in a span of its own ("command.CreateOrder", "query.GetOrder"),
// the child of the RPC's span and the parent of the store's; every command's
// replay, conflict and retry series exist from the start (zero), so that
// rates and alerts work before the first one. tp nil means no tracing, m
// nil no metric series.
func Handlers(tp trace.TracerProvider, m *Metrics) application.Middleware {
	tracer := tracerOf(tp)
	return func(info application.Info, next application.Next) application.Next {
		if m != nil && info.Kind == application.KindCommand {
			m.initCommand(info.Name)
		}
		spanName := string(info.Kind) + "." + info.Name
		return func(ctx context.Context, call *application.Call) error {
			attrs := []attribute.KeyValue{attrCommand.String(info.Name)}
			if call.OrderID != "" {
				attrs = append(attrs, attrOrderID.String(call.OrderID))
			}
			if call.ExpectedVersion != 0 {
				attrs = append(attrs, attrExpectedVersion.Int(call.ExpectedVersion))
			}
			ctx, span := tracer.Start(ctx, spanName, trace.WithAttributes(attrs...))
			defer span.End()
			err := next(ctx, call)
			endSpan(span, err)
			return err
		}
	}
}

// endSpan records a handler's outcome. Answers the service means to give
// (invalid input, not found, conflicts, refused transitions) leave the span
// unset: only failures of the service mark it as an error.
func endSpan(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	o := outcome(err)
	span.SetAttributes(attrOutcome.String(o))
	if failed(o) {
		span.RecordError(err)
		span.SetStatus(codes.Error, o)
	}
}

// Observer implements application.Observer: it counts replays, conflicts
// and retries by command and marks them on the command's span.
type Observer struct{ m *Metrics }

var _ application.Observer = Observer{}

// NewObserver records into m.
func NewObserver(m *Metrics) Observer { return Observer{m: m} }

// Replayed implements application.Observer.
func (o Observer) Replayed(ctx context.Context, matched bool) {
	result := replayReplayed
	if !matched {
		result = replayPayloadMismatch
	}
	o.m.replays.WithLabelValues(commandOf(ctx), result).Inc()
	trace.SpanFromContext(ctx).AddEvent("idempotent replay", trace.WithAttributes(attrOutcome.String(result)))
}

// Conflict implements application.Observer.
func (o Observer) Conflict(ctx context.Context, c application.Conflict) {
	command := commandOf(ctx)
	cause := causeExpectedVersion
	if c.Concurrent {
		cause = causeConcurrentAppend
	}
	o.m.conflicts.WithLabelValues(command, cause).Inc()
	if c.Retrying {
		o.m.retries.WithLabelValues(command).Inc()
	}
	trace.SpanFromContext(ctx).AddEvent("version conflict", trace.WithAttributes(
		attribute.String("order.conflict.cause", cause), attribute.Bool("order.conflict.retrying", c.Retrying)))
}
