package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// relayStates are the states outbox_relay_state reports, one series each.
var relayStates = []outbox.RelayState{
	outbox.StateConnecting, outbox.StateWaitingForLease, outbox.StateCaughtUp, outbox.StateLagging, outbox.StateBrokerUnreachable,
}

// relayCollector exports the relay's Status at every scrape: the relay
// already measures what operators need (backlog, lag, parked), so the
// metrics read it rather than count it a second time.
type relayCollector struct {
	status                                 func() outbox.RelayStatus
	state, leader, backlog, lag, published *prometheus.Desc
	parked, lastError, measured            *prometheus.Desc
}

// NewRelayCollector exports status (Relay.Status) as outbox_relay_* series.
func NewRelayCollector(status func() outbox.RelayStatus) prometheus.Collector {
	return &relayCollector{
		status: status,
		state: prometheus.NewDesc("outbox_relay_state",
			"1 for the relay's current state (connecting, waiting-for-lease, caught-up, lagging, broker-unreachable), 0 for the others.", []string{"state"}, nil),
		leader: prometheus.NewDesc("outbox_relay_leader",
			"1 while this instance holds the relay lease and publishes; standbys report 0 (and no backlog).", nil, nil),
		backlog: prometheus.NewDesc("outbox_relay_backlog_events",
			"Committed events waiting to be published, as last measured by the leader.", nil, nil),
		lag: prometheus.NewDesc("outbox_relay_lag_seconds",
			"Age of the oldest event waiting to be published (0 when caught up).", nil, nil),
		published: prometheus.NewDesc("outbox_relay_published_events_total",
			"Events this instance had acknowledged by the broker.", nil, nil),
		parked: prometheus.NewDesc("outbox_relay_parked_events",
			"Events parked in relay_parked_events after the broker refused them for good (all instances').", nil, nil),
		lastError: prometheus.NewDesc("outbox_relay_last_error_timestamp_seconds",
			"When the relay last failed and backed off (Unix time).", nil, nil),
		measured: prometheus.NewDesc("outbox_relay_backlog_measured_timestamp_seconds",
			"When the leader last measured the backlog (Unix time).", nil, nil),
	}
}

func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.leader, c.backlog, c.lag, c.published, c.parked, c.lastError, c.measured} {
		ch <- d
	}
}

func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range relayStates {
		gauge(c.state, boolFloat(s.State == st), string(st))
	}
	gauge(c.leader, boolFloat(s.Leader()))
	gauge(c.backlog, float64(s.Backlog))
	gauge(c.lag, s.SecondsBehind)
	ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(s.Published))
	if s.Parked >= 0 {
		gauge(c.parked, float64(s.Parked))
	}
	if !s.LastErrorAt.IsZero() {
		gauge(c.lastError, float64(s.LastErrorAt.UnixNano())/1e9)
	}
	if !s.MeasuredAt.IsZero() {
		gauge(c.measured, float64(s.MeasuredAt.UnixNano())/1e9)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// RelayReport is the relay's status as /readyz and /admin/relay show it.
type RelayReport struct {
	State         outbox.RelayState `json:"state"`
	Leader        bool              `json:"leader"`
	BacklogEvents int64             `json:"backlog_events"`
	SecondsBehind float64           `json:"seconds_behind"`
	Published     int64             `json:"published_events"`
	// Parked is null until the leader has counted the parked events.
	Parked *int64 `json:"parked_events"`
	// The rest only on the admin listener: error texts name hosts.
	Position    *outbox.Position `json:"position,omitempty"`
	LastError   string           `json:"last_error,omitempty"`
	LastErrorAt *time.Time       `json:"last_error_at,omitempty"`
	MeasuredAt  *time.Time       `json:"measured_at,omitempty"`
}

// NewRelayReport summarises s; detailed adds the checkpoint position and the
// last error, for operators only.
func NewRelayReport(s outbox.RelayStatus, detailed bool) RelayReport {
	r := RelayReport{
		State: s.State, Leader: s.Leader(),
		BacklogEvents: s.Backlog, SecondsBehind: s.SecondsBehind, Published: s.Published,
	}
	if s.Parked >= 0 {
		parked := s.Parked
		r.Parked = &parked
	}
	if detailed {
		pos := s.Position
		r.Position = &pos
		r.LastError = s.LastError
		if !s.LastErrorAt.IsZero() {
			at := s.LastErrorAt.UTC()
			r.LastErrorAt = &at
		}
		if !s.MeasuredAt.IsZero() {
			at := s.MeasuredAt.UTC()
			r.MeasuredAt = &at
		}
	}
	return r
}

// Publisher decorates the relay's publisher: a producer span per batch,
// linked to the traces of the requests that caused its events, and the
// batch's duration and failures as metrics.
type Publisher struct {
	next    outbox.Publisher
	tracer  trace.Tracer
	tracing bool
	m       *Metrics
}

var _ outbox.Publisher = (*Publisher)(nil)

// NewPublisher wraps next; tp nil means no tracing.
func NewPublisher(next outbox.Publisher, tp trace.TracerProvider, m *Metrics) *Publisher {
	return &Publisher{next: next, tracer: tracerOf(tp), tracing: tp != nil, m: m}
}

// maxLinks bounds the links of one publish span (the SDK's default limit).
const maxLinks = 128

// Publish implements outbox.Publisher.
func (p *Publisher) Publish(ctx context.Context, events []outbox.Event) error {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "send"),
			attribute.Int("messaging.batch.message_count", len(events)),
		),
	}
	if p.tracing {
		opts = append(opts, trace.WithLinks(eventLinks(events)...))
	}
	ctx, span := p.tracer.Start(ctx, "outbox publish", opts...)
	defer span.End()
	began := time.Now()
	err := p.next.Publish(ctx, events)
	p.m.publishDuration.Observe(time.Since(began).Seconds())
	var rejected *outbox.RejectedError
	switch {
	case errors.As(err, &rejected):
		p.m.rejectedEvents.Add(float64(len(rejected.Rejected)))
		span.SetAttributes(attribute.Int("outbox.rejected_events", len(rejected.Rejected)))
	case err != nil:
		p.m.publishErrors.Inc()
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	return err
}

// eventLinks are the span contexts the events' traceparents name.
func eventLinks(events []outbox.Event) []trace.Link {
	var links []trace.Link
	for _, e := range events {
		if len(links) == maxLinks {
			break
		}
		if e.Metadata.TraceParent == "" {
			continue
		}
		carrier := propagation.MapCarrier{"traceparent": e.Metadata.TraceParent}
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return links
}
