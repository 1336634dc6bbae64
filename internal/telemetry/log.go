package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// LogHandler adds the request id and the trace and span ids to every record
// logged with a request's context (InfoContext, LogAttrs, …), unless the
// record names them already, so that any line written while serving a call
// can be found from the call's log line or trace.
type LogHandler struct {
	next      slog.Handler
	requestID func(context.Context) string
}

// NewLogHandler wraps next. requestID returns the request id of the call a
// context belongs to, "" outside calls (the gRPC layer's RequestIDFrom);
// nil: no request ids.
func NewLogHandler(next slog.Handler, requestID func(context.Context) string) *LogHandler {
	if requestID == nil {
		requestID = func(context.Context) string { return "" }
	}
	return &LogHandler{next: next, requestID: requestID}
}

// Enabled implements slog.Handler.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.next.Handle(ctx, r)
	}
	requestID := h.requestID(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if requestID == "" && !sc.IsValid() {
		return h.next.Handle(ctx, r)
	}
	var hasRequestID, hasTraceID bool
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "request_id":
			hasRequestID = true
		case "trace_id":
			hasTraceID = true
		}
		return true
	})
	if requestID != "" && !hasRequestID {
		r.AddAttrs(slog.String("request_id", requestID))
	}
	if sc.IsValid() && !hasTraceID {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(attrs), requestID: h.requestID}
}

// WithGroup implements slog.Handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), requestID: h.requestID}
}
