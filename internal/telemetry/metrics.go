package telemetry

import (
	"net/http"
	"runtime/debug"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the service's Prometheus registry and the instruments the
// decorators, middleware and collectors of this package record into. It is
// a registry of its own, never the global default one, so that tests can
// build any number of services in one process. Safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	grpc *grpcprom.ServerMetrics

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	eventsAppended *prometheus.CounterVec
	conflicts      *prometheus.CounterVec
	retries        *prometheus.CounterVec
	replays        *prometheus.CounterVec
	storeDuration  *prometheus.HistogramVec

	publishDuration prometheus.Histogram
	publishErrors   prometheus.Counter
	rejectedEvents  prometheus.Counter

	ready prometheus.Gauge
}

// ServiceInfo labels the order_service_info series.
type ServiceInfo struct {
	ServiceName string
	CellID      string
}

// latencyBuckets suit calls that take from a fraction of a millisecond (a
// cached read) to the request timeout.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics builds the registry with the Go runtime, process and build
// collectors and every instrument of the service. Collectors that read
// adapters (pool, relay) are added with Register once those exist.
func NewMetrics(info ServiceInfo) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{registry: reg}
	m.grpc = grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_server_requests_total",
		Help: "HTTP requests answered, by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_server_request_duration_seconds", Buckets: latencyBuckets,
		Help: "Time to answer HTTP requests, by method, route pattern and status code.",
	}, []string{"method", "route", "code"})
	m.eventsAppended = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "order_service_events_appended_total",
		Help: "Events committed to the event log, by event type.",
	}, []string{"event_type"})
	m.conflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "order_service_version_conflicts_total",
		Help: "Commands that found the order at another version: cause=expected_version (the caller's version was stale) or concurrent_append (a lost race).",
	}, []string{"command", "cause"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "order_service_command_retries_total",
		Help: "Commands re-decided on fresh state after losing a race (no expected version sent).",
	}, []string{"command"})
	m.replays = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "order_service_idempotent_replays_total",
		Help: "Commands whose request id was seen before: outcome=replayed (same payload, original result returned) or payload_mismatch (rejected).",
	}, []string{"command", "outcome"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "order_service_store_operation_duration_seconds", Buckets: latencyBuckets,
		Help: "Time spent in the event store and read model, by operation and outcome.",
	}, []string{"operation", "outcome"})
	m.publishDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "outbox_relay_publish_duration_seconds", Buckets: latencyBuckets,
		Help: "Time to publish one batch of events to the broker, acknowledgements included.",
	})
	m.publishErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "outbox_relay_publish_errors_total",
		Help: "Batches the broker did not acknowledge (unreachable, timed out): the relay retries them.",
	})
	m.rejectedEvents = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "outbox_relay_rejected_events_total",
		Help: "Events the broker refused for good (too large, invalid); the relay parks them.",
	})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "order_service_ready",
		Help: "1 while the service is ready for traffic (database reachable and migrated), else 0.",
	})
	serviceInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "order_service_info",
		Help: "Always 1; the labels name the deployment.",
		ConstLabels: prometheus.Labels{
			"service_name": info.ServiceName, "cell_id": info.CellID, "version": buildVersion(),
		},
	})
	serviceInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		m.grpc, m.httpRequests, m.httpDuration,
		m.eventsAppended, m.conflicts, m.retries, m.replays, m.storeDuration,
		m.publishDuration, m.publishErrors, m.rejectedEvents, m.ready, serviceInfo,
	)
	return m
}

// Register adds collectors (the pool's, the relay's) to the registry.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Registry is the registry behind Handler, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the registry in the Prometheus text format (or
// OpenMetrics, with exemplars, to a scraper that asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.registry, promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		Registry:          m.registry,
		EnableOpenMetrics: true,
		// A scrape that fails halfway should not hide everything else.
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

// SetReady records the readiness the health watcher last saw.
func (m *Metrics) SetReady(ready bool) {
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}

// buildVersion is the main module's version as the Go toolchain stamped it
// ("(devel)" for a plain go build).
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

// initCommand creates a command's replay, conflict and retry series at
// zero, so that rates and alerts work before the first one.
func (m *Metrics) initCommand(name string) {
	m.retries.WithLabelValues(name)
	m.conflicts.WithLabelValues(name, causeExpectedVersion)
	m.conflicts.WithLabelValues(name, causeConcurrentAppend)
	m.replays.WithLabelValues(name, replayReplayed)
	m.replays.WithLabelValues(name, replayPayloadMismatch)
}
