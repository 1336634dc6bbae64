package server

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/telemetry"
)

// Options are hooks for tests and for programs that embed the service.
type Options struct {
	// TracerProvider, when set, traces with this provider instead of the
	// one the OTEL_* variables configure (tests: an in-memory exporter).
	TracerProvider trace.TracerProvider
}

// observability is the service's metrics registry and tracer provider.
type observability struct {
	metrics *telemetry.Metrics
	tracing *telemetry.Tracing
}

func newObservability(ctx context.Context, cfg config.Config, opts Options, logger *slog.Logger) (*observability, error) {
	o := &observability{metrics: telemetry.NewMetrics(telemetry.ServiceInfo{ServiceName: cfg.ServiceName, CellID: cfg.CellID})}
	if opts.TracerProvider != nil {
		o.tracing = telemetry.NewTracingWith(opts.TracerProvider)
		return o, nil
	}
	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{
		Enabled: cfg.TracingEnabled(), Protocol: cfg.OTLPProtocol, ServiceName: cfg.OTelServiceName, CellID: cfg.CellID,
	})
	if err != nil {
		return nil, err
	}
	o.tracing = tracing
	if tracing.Enabled {
		// The SDK reports export failures through this global hook; send
		// them to the service's log instead of the standard logger.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			logger.Warn("opentelemetry", "error", err)
		}))
		logger.Info("tracing: OpenTelemetry spans exported over OTLP", "protocol", cfg.OTLPProtocol,
			"endpoint", cfg.OTLPEndpoint, "service_name", cfg.OTelServiceName)
	} else {
		logger.Info("tracing: off (set OTEL_EXPORTER_OTLP_ENDPOINT to export spans)")
	}
	return o, nil
}

// tracerProvider is the provider to trace with, nil when tracing is off:
// then nothing installs tracing hooks at all, and the decorators use a no-op
// tracer.
func (o *observability) tracerProvider() trace.TracerProvider {
	if !o.tracing.Enabled {
		return nil
	}
	return o.tracing.Provider
}

// close flushes the spans still buffered.
func (o *observability) close(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), telemetry.ShutdownTimeout)
	defer cancel()
	if err := o.tracing.Shutdown(ctx); err != nil {
		logger.Warn("tracing shutdown incomplete", "error", err)
	}
}
