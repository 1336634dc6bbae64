package grpcapi

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/acme/order-service/internal/application"
)

// Metadata keys this edge reads. The gateway forwards the HTTP headers of the
// same names under these keys.
const (
	MetadataRequestID     = "x-request-id"
	MetadataCorrelationID = "x-correlation-id"
	MetadataTraceParent   = "traceparent"
)

// maxIDLen bounds client-chosen identifiers that end up in logs and events.
const maxIDLen = 128

type requestIDKey struct{}

// callRecord is what inner interceptors tell the log line about a call. The
// unary chain runs in one goroutine, so it needs no lock.
type callRecord struct {
	actor         application.Actor
	authenticated bool
}

type callRecordKey struct{}

// recordActor puts the authenticated principal on the call's log line.
func recordActor(ctx context.Context, a application.Actor) {
	if call, ok := ctx.Value(callRecordKey{}).(*callRecord); ok {
		call.actor, call.authenticated = a, true
	}
}

// RequestIDFrom returns the request id of the call: the client's
// x-request-id, or the one the server made up when it sent none.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// loggingInterceptor gives every call a request id (echoed in the response
// header so clients can quote it) and writes one log line when it ends.
func loggingInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		requestID := incomingID(ctx, MetadataRequestID)
		if requestID == "" {
			requestID = uuid.NewString()
		}
		// SetHeader fails only once headers were sent, which cannot have
		// happened before the handler ran.
		_ = grpc.SetHeader(ctx, metadata.Pairs(MetadataRequestID, requestID))
		ctx = context.WithValue(ctx, requestIDKey{}, requestID)
		call := &callRecord{}
		ctx = context.WithValue(ctx, callRecordKey{}, call)

		resp, err := handler(ctx, req)
		code := status.Code(err)
		attrs := []slog.Attr{
			slog.String("method", info.FullMethod),
			slog.String("code", code.String()),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", requestID),
			slog.String("trace_id", TraceIDFrom(ctx)),
		}
		if call.authenticated {
			attrs = append(attrs, slog.String("principal", call.actor.ID), slog.String("role", call.actor.Role.String()))
		}
		logger.LogAttrs(ctx, levelOf(code), "grpc call", attrs...)
		return resp, err
	}
}

func levelOf(code codes.Code) slog.Level {
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// incomingValue returns the first value of a metadata key.
func incomingValue(ctx context.Context, key string) string {
	if vs := metadata.ValueFromIncomingContext(ctx, key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// incomingID returns a client-chosen identifier, or "" when it is missing or
// not a short token of visible ASCII: such values reach logs and the event
// store, so they must not be able to forge log lines or bloat rows.
func incomingID(ctx context.Context, key string) string {
	v := incomingValue(ctx, key)
	if v == "" || len(v) > maxIDLen {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return ""
		}
	}
	return v
}

// TraceParentFrom is the W3C traceparent of the call's current span when it
// is traced (so a request that came without one still records its trace),
// else the caller's own traceparent when it sent a valid one, else "". It
// goes into the metadata of the events the call causes, and from there into
// the Kafka records' traceparent header, so consumers continue the trace.
func TraceParentFrom(ctx context.Context) string {
	if trace.SpanContextFromContext(ctx).IsValid() {
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(ctx, carrier)
		return carrier.Get(MetadataTraceParent)
	}
	if tp := incomingValue(ctx, MetadataTraceParent); validTraceParent(tp) {
		return tp
	}
	return ""
}

// TraceIDFrom is the trace id of TraceParentFrom, or "".
func TraceIDFrom(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return traceID(incomingValue(ctx, MetadataTraceParent))
}

// traceID extracts the trace id of a W3C traceparent
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"), or "".
func traceID(traceparent string) string {
	if !validTraceParent(traceparent) {
		return ""
	}
	return strings.Split(traceparent, "-")[1]
}

func validTraceParent(tp string) bool {
	if len(tp) > 256 { // later versions may append fields, but not essays
		return false
	}
	parts := strings.Split(tp, "-")
	if len(parts) < 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return false
	}
	for _, p := range parts[:4] {
		if !isLowerHex(p) {
			return false
		}
	}
	return parts[1] != strings.Repeat("0", 32) && parts[2] != strings.Repeat("0", 16)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}
