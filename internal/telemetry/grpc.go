package telemetry

import (
	"context"
	"strconv"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// GRPCUnaryInterceptor counts and times every unary call by service, method
// and status code (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_handling_seconds). It belongs outermost in the chain, so that
// it sees the final code of every call, panics and refused calls included.
func (m *Metrics) GRPCUnaryInterceptor() grpc.UnaryServerInterceptor {
	return m.grpc.UnaryServerInterceptor(grpcprom.WithExemplarFromContext(traceExemplar))
}

// GRPCStreamInterceptor is GRPCUnaryInterceptor for streaming calls (health
// Watch, reflection).
func (m *Metrics) GRPCStreamInterceptor() grpc.StreamServerInterceptor {
	return m.grpc.StreamServerInterceptor(grpcprom.WithExemplarFromContext(traceExemplar))
}

// InitializeGRPC creates the zero series of every registered method, so
// that rates and alerts work before a method's first call.
func (m *Metrics) InitializeGRPC(srv *grpc.Server) { m.grpc.InitializeMetrics(srv) }

// traceExemplar links a latency observation to its trace, when the call is
// traced and sampled.
func traceExemplar(ctx context.Context) prometheus.Labels {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return nil
	}
	return prometheus.Labels{"trace_id": sc.TraceID().String()}
}

// ObserveRequest implements httpapi.RequestObserver: one answered HTTP
// request. route is the matched pattern (never the raw path), so the series
// stay bounded whatever clients send.
func (m *Metrics) ObserveRequest(method, route string, code int, elapsed time.Duration) {
	c := statusText(code)
	m.httpRequests.WithLabelValues(method, route, c).Inc()
	m.httpDuration.WithLabelValues(method, route, c).Observe(elapsed.Seconds())
}

// statusText is the code label: the number, or "other" for nonsense.
func statusText(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}

// GRPCStatsHandler traces the calls of the named gRPC services (health
// checks and reflection stay untraced): a server span per call, continuing
// the caller's traceparent.
func GRPCStatsHandler(tp trace.TracerProvider, services ...string) stats.Handler {
	fs := make([]otelgrpc.Filter, len(services))
	for i, s := range services {
		fs[i] = filters.ServiceName(s)
	}
	return otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(Propagator()),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()), // Prometheus has the RPC metrics
		otelgrpc.WithFilter(filters.Any(fs...)),
	)
}
