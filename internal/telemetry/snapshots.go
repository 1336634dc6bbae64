package telemetry

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/order-service/internal/application"
)

// SnapshotObserver implements application.SnapshotObserver: it counts
// loads that could not use a snapshot, by reason, and snapshot writes, by
// outcome, and marks fallbacks on the command's span.
type SnapshotObserver struct {
	fallbacks *prometheus.CounterVec
	writes    *prometheus.CounterVec
}

var _ application.SnapshotObserver = SnapshotObserver{}

// snapshotReasons are every reason a load falls back for, created at zero
// so that rates and alerts work before the first one.
var snapshotReasons = []string{
	application.SnapshotReasonMissing, application.SnapshotReasonSchema, application.SnapshotReasonCorrupt,
	application.SnapshotReasonAhead, application.SnapshotReasonStale, application.SnapshotReasonReplay,
	application.SnapshotReasonError,
}

// NewSnapshotObserver registers the snapshot instruments in m.
func NewSnapshotObserver(m *Metrics) (SnapshotObserver, error) {
	o := SnapshotObserver{
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "order_service_snapshot_fallbacks_total",
			Help: "Order loads that replayed the whole history instead of starting from a snapshot, by reason " +
				"(missing, schema, corrupt, ahead, stale, replay, error). Never an error for the caller.",
		}, []string{"reason"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "order_service_snapshot_writes_total",
			Help: "Snapshot writes after a commit, by outcome (ok, failed); a failed one only means more events to replay.",
		}, []string{"outcome"}),
	}
	for _, r := range snapshotReasons {
		o.fallbacks.WithLabelValues(r)
	}
	o.writes.WithLabelValues("ok")
	o.writes.WithLabelValues("failed")
	if err := m.Register(o.fallbacks, o.writes); err != nil {
		return SnapshotObserver{}, err
	}
	return o, nil
}

// SnapshotFallback implements application.SnapshotObserver.
func (o SnapshotObserver) SnapshotFallback(ctx context.Context, reason string) {
	o.fallbacks.WithLabelValues(reason).Inc()
	trace.SpanFromContext(ctx).AddEvent("snapshot fallback", trace.WithAttributes(attribute.String("order.snapshot.reason", reason)))
}

// SnapshotSaved implements application.SnapshotObserver.
func (o SnapshotObserver) SnapshotSaved(_ context.Context, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "failed"
	}
	o.writes.WithLabelValues(outcome).Inc()
}
