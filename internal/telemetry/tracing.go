package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// instrumentationName is the tracer name of the spans this package makes.
const instrumentationName = "github.com/acme/order-service/internal/telemetry"

// tracerOf is tp's tracer for this package, or a no-op one for nil.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(instrumentationName)
}

// Propagator is how trace context crosses process boundaries: W3C
// traceparent/tracestate and baggage. Passed explicitly to what needs it;
// the global propagator is left alone.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// OTLP protocols (OTEL_EXPORTER_OTLP_PROTOCOL).
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// TracingConfig switches tracing on and names the service.
type TracingConfig struct {
	// Enabled exports spans over OTLP; false keeps the no-op tracer.
	Enabled bool
	// Protocol is ProtocolGRPC or ProtocolHTTP.
	Protocol string
	// ServiceName is the resource's service.name; CellID its cell.id.
	ServiceName, CellID string
}

// Tracing is the service's tracer provider.
type Tracing struct {
	// Provider makes the spans; a no-op provider when tracing is off.
	Provider trace.TracerProvider
	// Enabled reports whether spans are recorded and exported.
	Enabled  bool
	shutdown func(context.Context) error
}

// Shutdown flushes the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// NewTracing builds the tracer provider. The OTLP exporter reads the rest of
// its settings from the standard environment (OTEL_EXPORTER_OTLP_ENDPOINT,
// _TRACES_ENDPOINT, _HEADERS, _TIMEOUT, _INSECURE, _CERTIFICATE,
// _COMPRESSION) and the SDK its sampler (OTEL_TRACES_SAMPLER, _ARG;
// parent-based always-on by default); OTEL_RESOURCE_ATTRIBUTES adds
// resource attributes. Connecting is lazy: an unreachable collector drops
// spans (and says so through the OpenTelemetry error handler), it never
// blocks start-up or requests.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	if !cfg.Enabled {
		return &Tracing{Provider: noop.NewTracerProvider()}, nil
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch cfg.Protocol {
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	case ProtocolHTTP, "":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("OTLP protocol %q: want %s or %s", cfg.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := Resource(ctx, cfg.ServiceName, cfg.CellID)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{Provider: tp, Enabled: true, shutdown: tp.Shutdown}, nil
}

// NewTracingWith wraps a provider made elsewhere (tests: an in-memory
// exporter). Its maker keeps it: Shutdown leaves it running.
func NewTracingWith(tp trace.TracerProvider) *Tracing {
	return &Tracing{Provider: tp, Enabled: true}
}

// Resource describes the service on every span: service.name (SERVICE_NAME
// unless OTEL_SERVICE_NAME says otherwise), cell.id, the SDK, the host and
// the process, plus OTEL_RESOURCE_ATTRIBUTES.
func Resource(ctx context.Context, serviceName, cellID string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithProcessRuntimeVersion(),
		resource.WithFromEnv(),
		// Last, so that it wins over OTEL_RESOURCE_ATTRIBUTES: the
		// configuration already applied OTEL_SERVICE_NAME.
		resource.WithAttributes(
			attribute.String("service.name", serviceName),
			attribute.String("service.version", buildVersion()),
			attribute.String("cell.id", cellID),
		),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return res, nil
}

// ShutdownTimeout bounds the final flush of spans at shutdown.
const ShutdownTimeout = 5 * time.Second
