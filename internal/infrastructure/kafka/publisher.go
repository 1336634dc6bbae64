// Package kafka publishes order events to Kafka for the outbox relay: one
// record per event, keyed by order id, in the CloudEvents Kafka binding's
// binary mode, through franz-go's idempotent producer (acks=all, no Kafka
// transactions: the relay's checkpoint gives at-least-once delivery and
// consumers dedupe on ce_id). It also checks or creates the topic.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// DefaultTopic is the topic order events go to unless configured otherwise.
const DefaultTopic = "order-events"

// DefaultSource is ce_source for events that name no service.
const DefaultSource = "/order-service"

// PublisherConfig says where and how events are published.
type PublisherConfig struct {
	// Topic defaults to DefaultTopic.
	Topic string
	// FallbackSource is ce_source for events whose metadata names no
	// service (rows written before it was recorded). Default DefaultSource.
	FallbackSource string
}

// Publisher implements outbox.Publisher on a franz-go client.
type Publisher struct {
	client *kgo.Client
	cfg    PublisherConfig
}

var _ outbox.Publisher = (*Publisher)(nil)

// NewClient returns a producing client for the brokers with franz-go's
// defaults, which are what the outbox needs: acks from all in-sync
// replicas, the idempotent producer (no duplicates or reordering from the
// client's own retries), murmur2 key partitioning like the Java client. No
// transactional id: the relay does not use Kafka transactions. extra adds
// options, e.g. SASL or TLS.
func NewClient(brokers []string, extra ...kgo.Opt) (*kgo.Client, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ClientID("order-service")}, extra...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", brokers, err)
	}
	return client, nil
}

// NewPublisher returns a publisher on the client, which stays the caller's
// to close.
func NewPublisher(client *kgo.Client, cfg PublisherConfig) *Publisher {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.FallbackSource == "" {
		cfg.FallbackSource = DefaultSource
	}
	return &Publisher{client: client, cfg: cfg}
}

// Topic is the topic the publisher writes to.
func (p *Publisher) Topic() string { return p.cfg.Topic }

// Publish implements outbox.Publisher: it produces the batch and waits for
// every acknowledgement. franz-go keeps the order of records per partition,
// and an order's events share a partition (same key), so an order's events
// reach the broker in the given order. When records fail only for reasons
// tied to the records themselves (too large, invalid), it returns a
// *outbox.RejectedError naming them; any other failure is transient. An
// event this build cannot upcast fails the batch before anything is
// produced, and is retried like an outage: parking it would take it out of
// its order's stream for good, and a build that reads it may be on its way.
func (p *Publisher) Publish(ctx context.Context, events []outbox.Event) error {
	if len(events) == 0 {
		return nil
	}
	records := make([]*kgo.Record, len(events))
	index := make(map[*kgo.Record]int, len(events))
	for i, e := range events {
		r, err := Record(p.cfg.Topic, e, p.cfg.FallbackSource)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", p.cfg.Topic, err)
		}
		records[i] = r
		index[r] = i
	}
	// Results come back in completion order, hence the index.
	var failed []int
	var transient error
	for _, res := range p.client.ProduceSync(ctx, records...) {
		if res.Err == nil {
			continue
		}
		failed = append(failed, index[res.Record])
		if !Permanent(res.Err) && transient == nil {
			transient = res.Err
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if transient != nil {
		return fmt.Errorf("produce to %s: %d of %d records failed: %w", p.cfg.Topic, len(failed), len(events), transient)
	}
	return p.isolate(ctx, events, failed)
}

// isolate retries the records that failed for good one by one, in their
// original order: the broker rejects a whole batch for one bad record, so
// only a record that fails on its own is rejected.
func (p *Publisher) isolate(ctx context.Context, events []outbox.Event, failed []int) error {
	slices.Sort(failed)
	rejected := make(map[order.ID]string)
	for _, i := range failed {
		e := events[i]
		r, err := Record(p.cfg.Topic, e, p.cfg.FallbackSource)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", p.cfg.Topic, err)
		}
		err = p.client.ProduceSync(ctx, r).FirstErr()
		switch {
		case err == nil:
		case Permanent(err):
			rejected[e.EventID] = err.Error()
		default:
			return fmt.Errorf("produce event %s to %s: %w", e.EventID, p.cfg.Topic, err)
		}
	}
	if len(rejected) == 0 {
		return nil
	}
	return &outbox.RejectedError{Rejected: rejected}
}

// Permanent reports whether a produce error is about the record itself, so
// retrying the same record can never succeed. Everything else (a broker
// down, a timeout, missing authorization, an unknown topic) may heal and is
// retried: parking events for it would lose them from the stream.
func Permanent(err error) bool {
	for _, e := range []*kerr.Error{
		kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidRecord,
		kerr.CorruptMessage, kerr.InvalidTimestamp,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
