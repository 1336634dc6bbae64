package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/interfaces/grpcapi"
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

// commandNames are the commands Commands wraps: the bounded values of the
// command label.
var commandNames = []string{
	"CreateOrder", "AddOrderItem", "RemoveOrderItem", "ChangeOrderItemQuantity", "ChangeShippingAddress",
	"ConfirmOrder", "PayOrder", "ShipOrder", "DeliverOrder", "CancelOrder",
}

// Label values of the conflict and replay counters.
const (
	causeExpectedVersion  = "expected_version"
	causeConcurrentAppend = "concurrent_append"
	replayReplayed        = "replayed"
	replayPayloadMismatch = "payload_mismatch"
)

type commandKey struct{}

// withCommand names the command a context runs, for Observer's labels.
func withCommand(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, commandKey{}, name)
}

// commandFrom is the command withCommand named, or "unknown".
func commandFrom(ctx context.Context) string {
	if name, ok := ctx.Value(commandKey{}).(string); ok {
		return name
	}
	return "unknown"
}

// handle runs one command or query handler in a span of its own
// ("command.CreateOrder", "query.GetOrder"), the child of the RPC's span and
// the parent of the store's.
func handle[T any](ctx context.Context, tracer trace.Tracer, kind, name, orderID string, meta *application.CommandMeta, run func(context.Context) (T, error)) (T, error) {
	ctx = withCommand(ctx, name)
	attrs := []attribute.KeyValue{attrCommand.String(name)}
	if orderID != "" {
		attrs = append(attrs, attrOrderID.String(orderID))
	}
	if meta != nil && meta.ExpectedVersion != 0 {
		attrs = append(attrs, attrExpectedVersion.Int(meta.ExpectedVersion))
	}
	ctx, span := tracer.Start(ctx, kind+"."+name, trace.WithAttributes(attrs...))
	defer span.End()
	v, err := run(ctx)
	endSpan(span, err)
	return v, err
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

// Commands wraps the application's command handlers in spans and names the
// command for the Observer's metrics.
type Commands struct {
	next   grpcapi.Commands
	tracer trace.Tracer
}

var _ grpcapi.Commands = Commands{}

// NewCommands wraps next; tp nil means no tracing.
func NewCommands(next grpcapi.Commands, tp trace.TracerProvider) Commands {
	return Commands{next: next, tracer: tracerOf(tp)}
}

// CreateOrder implements grpcapi.Commands.
func (c Commands) CreateOrder(ctx context.Context, cmd application.CreateOrder) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "CreateOrder", "", &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.CreateOrder(ctx, cmd)
	})
}

// AddOrderItem implements grpcapi.Commands.
func (c Commands) AddOrderItem(ctx context.Context, cmd application.AddOrderItem) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "AddOrderItem", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.AddOrderItem(ctx, cmd)
	})
}

// RemoveOrderItem implements grpcapi.Commands.
func (c Commands) RemoveOrderItem(ctx context.Context, cmd application.RemoveOrderItem) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "RemoveOrderItem", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.RemoveOrderItem(ctx, cmd)
	})
}

// ChangeOrderItemQuantity implements grpcapi.Commands.
func (c Commands) ChangeOrderItemQuantity(ctx context.Context, cmd application.ChangeOrderItemQuantity) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "ChangeOrderItemQuantity", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.ChangeOrderItemQuantity(ctx, cmd)
	})
}

// ChangeShippingAddress implements grpcapi.Commands.
func (c Commands) ChangeShippingAddress(ctx context.Context, cmd application.ChangeShippingAddress) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "ChangeShippingAddress", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.ChangeShippingAddress(ctx, cmd)
	})
}

// ConfirmOrder implements grpcapi.Commands.
func (c Commands) ConfirmOrder(ctx context.Context, cmd application.ConfirmOrder) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "ConfirmOrder", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.ConfirmOrder(ctx, cmd)
	})
}

// PayOrder implements grpcapi.Commands.
func (c Commands) PayOrder(ctx context.Context, cmd application.PayOrder) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "PayOrder", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.PayOrder(ctx, cmd)
	})
}

// ShipOrder implements grpcapi.Commands.
func (c Commands) ShipOrder(ctx context.Context, cmd application.ShipOrder) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "ShipOrder", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.ShipOrder(ctx, cmd)
	})
}

// DeliverOrder implements grpcapi.Commands.
func (c Commands) DeliverOrder(ctx context.Context, cmd application.DeliverOrder) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "DeliverOrder", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.DeliverOrder(ctx, cmd)
	})
}

// CancelOrder implements grpcapi.Commands.
func (c Commands) CancelOrder(ctx context.Context, cmd application.CancelOrder) (order.Snapshot, error) {
	return handle(ctx, c.tracer, "command", "CancelOrder", cmd.OrderID, &cmd.Meta, func(ctx context.Context) (order.Snapshot, error) {
		return c.next.CancelOrder(ctx, cmd)
	})
}

// Queries wraps the application's query handlers in spans.
type Queries struct {
	next   grpcapi.Queries
	tracer trace.Tracer
}

var _ grpcapi.Queries = Queries{}

// NewQueries wraps next; tp nil means no tracing.
func NewQueries(next grpcapi.Queries, tp trace.TracerProvider) Queries {
	return Queries{next: next, tracer: tracerOf(tp)}
}

// GetOrder implements grpcapi.Queries.
func (q Queries) GetOrder(ctx context.Context, actor application.Actor, orderID string) (order.Snapshot, error) {
	return handle(ctx, q.tracer, "query", "GetOrder", orderID, nil, func(ctx context.Context) (order.Snapshot, error) {
		return q.next.GetOrder(ctx, actor, orderID)
	})
}

// ListOrders implements grpcapi.Queries.
func (q Queries) ListOrders(ctx context.Context, in application.ListOrders) (application.OrderPage, error) {
	return handle(ctx, q.tracer, "query", "ListOrders", "", nil, func(ctx context.Context) (application.OrderPage, error) {
		return q.next.ListOrders(ctx, in)
	})
}

// ListOrderEvents implements grpcapi.Queries.
func (q Queries) ListOrderEvents(ctx context.Context, in application.ListOrderEvents) (application.EventPage, error) {
	return handle(ctx, q.tracer, "query", "ListOrderEvents", in.OrderID, nil, func(ctx context.Context) (application.EventPage, error) {
		return q.next.ListOrderEvents(ctx, in)
	})
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
	o.m.replays.WithLabelValues(commandFrom(ctx), result).Inc()
	trace.SpanFromContext(ctx).AddEvent("idempotent replay", trace.WithAttributes(attrOutcome.String(result)))
}

// Conflict implements application.Observer.
func (o Observer) Conflict(ctx context.Context, c application.Conflict) {
	command := commandFrom(ctx)
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
