package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/order-service/internal/testkit"
)

// lagMeter consumes the service's topic while the load runs and measures,
// for every event whose ce_time falls in the measured window:
//
//   - receive lag: the time this consumer received the record minus ce_time;
//   - produce lag: the record's timestamp minus ce_time. The service leaves
//     the timestamp to its producer (franz-go stamps time.Now() when the
//     relay hands the record over, truncated to the millisecond), so this is
//     how long after ce_time the relay started publishing the event.
//
// ce_time is the event's OccurredAt: the command's clock reading when it
// decided, just before its commit. Receive lag is therefore an upper bound
// of commit → Kafka acknowledgement: it also holds the rest of the command's
// own commit, and the fetch that brings the acknowledged record to the
// consumer (a long poll the broker answers as soon as the record is
// appended). Consumer, service and broker share this machine's clock.
//
// For OrderCreated events it also measures receive time minus the time the
// CreateOrder answer reached orderbench: the commit happened before the
// answer was sent, so this is a lower bound of commit → receive (negative
// when the event beat the answer; counted as 0 and reported as "early").
type lagMeter struct {
	client *kgo.Client
	done   chan struct{}

	mu       sync.Mutex
	from     time.Time // zero: not measuring yet
	receive  *histogram
	produce  *histogram
	last     time.Time // when the last measured record arrived
	bad      int       // records without a parsable ce_time
	received int
	// order id → when its OrderCreated arrived / when its answer did
	createdEvent  map[string]time.Time
	createdAnswer map[string]time.Time
}

func startLagMeter(ctx context.Context, brokers, topic string) (*lagMeter, error) {
	client, err := kgo.NewClient(
		kgo.SeedBrokers(brokers),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.ClientID("orderbench"),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer for %s: %w", brokers, err)
	}
	m := &lagMeter{
		client: client, done: make(chan struct{}), receive: newHistogram(), produce: newHistogram(),
		createdEvent: map[string]time.Time{}, createdAnswer: map[string]time.Time{},
	}
	// Wait until the consumer knows where the end of the topic is, so the
	// first measured events are not missed.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka %s: %w", brokers, err)
	}
	go m.consume()
	return m, nil
}

func (m *lagMeter) consume() {
	defer close(m.done)
	for {
		fetches := m.client.PollFetches(context.Background())
		now := time.Now()
		if fetches.IsClientClosed() {
			return
		}
		m.mu.Lock()
		fetches.EachRecord(func(r *kgo.Record) {
			m.received++
			if m.from.IsZero() {
				return
			}
			ceTime, ok := headerTime(r, "ce_time")
			if !ok {
				m.bad++
				return
			}
			if ceTime.Before(m.from) {
				return
			}
			m.receive.record(now.Sub(ceTime))
			m.produce.record(max(r.Timestamp.Sub(ceTime), 0))
			m.last = now
			if headerValue(r, "ce_orderversion") == "1" {
				m.createdEvent[string(r.Key)] = now
			}
		})
		m.mu.Unlock()
	}
}

// answered records when a CreateOrder answer arrived (measured window only).
func (m *lagMeter) answered(orderID string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.from.IsZero() {
		m.createdAnswer[orderID] = at
	}
}

func headerValue(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func headerTime(r *kgo.Record, key string) (time.Time, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			t, err := time.Parse(time.RFC3339Nano, string(h.Value))
			return t, err == nil
		}
	}
	return time.Time{}, false
}

func (m *lagMeter) measureFrom(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.from = t
}

// finish waits until the events of the measured window have arrived (no
// new one for a second, or drain passed), then reports.
func (m *lagMeter) finish(ctx context.Context, loadEnd time.Time, drain time.Duration) *lagReport {
	drainCtx, cancel := context.WithTimeout(ctx, drain)
	defer cancel()
	_ = testkit.Poll(drainCtx, 100*time.Millisecond, func() error { // past drain, report what arrived
		m.mu.Lock()
		defer m.mu.Unlock()
		if time.Since(maxTime(m.last, loadEnd)) <= time.Second {
			return errors.New("events still arriving")
		}
		return nil
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	afterAnswer := newHistogram()
	early := 0
	for id, answer := range m.createdAnswer {
		if event, ok := m.createdEvent[id]; ok {
			if event.Before(answer) {
				early++
			}
			afterAnswer.record(max(event.Sub(answer), 0))
		}
	}
	return &lagReport{
		What: "receive = consumer receive time - ce_time (upper bound of commit -> Kafka ack); " +
			"produce = record timestamp (relay's produce call, ms) - ce_time; " +
			"after_answer = OrderCreated receive time - CreateOrder answer time (lower bound of commit -> receive)",
		Events:        m.receive.n,
		Unparsable:    m.bad,
		ReceiveMS:     percentiles(m.receive),
		ProduceMS:     percentiles(m.produce),
		AfterAnswerMS: percentiles(afterAnswer),
		Matched:       afterAnswer.n,
		Early:         early,
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (m *lagMeter) close() {
	m.client.Close()
	<-m.done
}
