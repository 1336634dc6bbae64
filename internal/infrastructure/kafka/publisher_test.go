package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/kafka"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

func testEvent(n byte, version int, data string) outbox.Event {
	return outbox.Event{
		Position:   outbox.Position{TxID: 7, Seq: int64(n)},
		EventID:    order.ID{0xe0, n},
		OrderID:    order.ID{0x0d, 1},
		Type:       order.TypeOrderCreated,
		Version:    version,
		OccurredAt: time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC),
		Data:       []byte(data),
		Metadata: application.EventMetadata{
			ActorID: "user-1", CorrelationID: "corr-1", CausationID: "cause-1",
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			ServiceName: "order-service", CellID: "cell-001", SchemaVersion: application.CurrentEventSchemaVersion,
		},
	}
}

func headers(r *kgo.Record) map[string]string {
	h := make(map[string]string, len(r.Headers))
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	return h
}

func TestPublishWritesCloudEventsRecords(t *testing.T) {
	cluster := kafkatest.Start(t, 3, kafka.DefaultTopic)
	client := kafkatest.NewClient(t, cluster.Brokers())
	pub := kafka.NewPublisher(client, kafka.PublisherConfig{})
	ctx := t.Context()

	events := []outbox.Event{testEvent(1, 1, `{"order_id":"x"}`), testEvent(2, 2, `{"order_id":"x","n":2}`)}
	events[1].Metadata = application.EventMetadata{SchemaVersion: application.CurrentEventSchemaVersion} // a row from before metadata was kept
	if err := pub.Publish(ctx, events); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	records, err := kafkatest.ReadAll(ctx, cluster.Brokers(), kafka.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2 {
		t.Fatalf("got %d records, want 2", len(records))
	}
	r := records[0]
	want := map[string]string{
		"ce_specversion":   "1.0",
		"ce_id":            events[0].EventID.String(),
		"ce_source":        "/order-service/cell-001",
		"ce_type":          "order.v1.OrderCreated",
		"ce_subject":       events[0].OrderID.String(),
		"ce_time":          "2026-03-04T05:06:07.891Z",
		"content-type":     "application/json",
		"ce_orderversion":  "1",
		"ce_schemaversion": strconv.Itoa(application.CurrentEventSchemaVersion),
		"ce_dataschema":    "type.googleapis.com/order.v1.OrderCreated",
		"ce_correlationid": "corr-1",
		"ce_causationid":   "cause-1",
		"traceparent":      events[0].Metadata.TraceParent,
	}
	got := headers(r)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("headers = %v, want exactly %v", got, want)
	}
	if string(r.Key) != events[0].OrderID.String() || !bytes.Equal(r.Value, events[0].Data) || !json.Valid(r.Value) {
		t.Errorf("record key %q value %q, want the order id and the stored payload", r.Key, r.Value)
	}
	if r.Partition != records[1].Partition || r.Offset > records[1].Offset {
		t.Errorf("an order's events went to partitions %d/%d offsets %d/%d: want one partition, in order",
			r.Partition, records[1].Partition, r.Offset, records[1].Offset)
	}
	second := headers(records[1])
	if second["ce_source"] != kafka.DefaultSource || second["traceparent"] != "" || second["ce_correlationid"] != "" {
		t.Errorf("headers without metadata = %v: want the fallback source and no empty optional headers", second)
	}
}

func TestPublishRejectsOnlyRecordsThatCanNeverBeWritten(t *testing.T) {
	cluster := kafkatest.Start(t, 1, kafka.DefaultTopic)
	client := kafkatest.NewClient(t, cluster.Brokers(), kgo.ProducerBatchMaxBytes(2048))
	pub := kafka.NewPublisher(client, kafka.PublisherConfig{})
	ctx := t.Context()

	huge := `{"blob":"` + strings.Repeat("x", 4096) + `"}`
	events := []outbox.Event{testEvent(1, 1, `{}`), testEvent(2, 2, huge), testEvent(3, 3, `{}`)}
	err := pub.Publish(ctx, events)
	var rej *outbox.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("Publish = %v, want a *RejectedError", err)
	}
	if len(rej.Rejected) != 1 || !strings.Contains(rej.Rejected[events[1].EventID], "MESSAGE_TOO_LARGE") {
		t.Fatalf("rejected = %v, want only %s (MESSAGE_TOO_LARGE)", rej.Rejected, events[1].EventID)
	}
	records, err := kafkatest.ReadAll(ctx, cluster.Brokers(), kafka.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, r := range records {
		versions = append(versions, headers(r)["ce_orderversion"])
	}
	if strings.Join(versions, ",") != "1,3" {
		t.Fatalf("versions on the topic = %v, want 1,3", versions)
	}
}

func TestPublishSendsEventsStoredInAnOlderVersionInTheCurrentShape(t *testing.T) {
	cluster := kafkatest.Start(t, 1, kafka.DefaultTopic)
	client := kafkatest.NewClient(t, cluster.Brokers())
	pub := kafka.NewPublisher(client, kafka.PublisherConfig{})
	ctx := t.Context()

	// An OrderCreated as schema version 1 stored it: the address as text only.
	v1 := testEvent(1, 1, `{"order_id":"00000000-0000-4000-8000-000000000001","user_id":"user-1","currency":"EUR",`+
		`"shipping_address":"1 Main St\nSpringfield","items":[{"id":"00000000-0000-4000-8000-000000001001",`+
		`"product_id":"sku-a","product_name":"Widget","quantity":1,"unit_price":"5.00","subtotal":"5.00"}],"total_amount":"5.00"}`)
	v1.Metadata.SchemaVersion = 1
	if err := pub.Publish(ctx, []outbox.Event{v1}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	records, err := kafkatest.ReadAll(ctx, cluster.Brokers(), kafka.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 {
		t.Fatalf("got %d records, want 1", len(records))
	}
	h := headers(records[0])
	if h["ce_dataschema"] != "type.googleapis.com/order.v1.OrderCreated" || h["ce_schemaversion"] != strconv.Itoa(application.CurrentEventSchemaVersion) {
		t.Errorf("headers %v: want ce_dataschema order.v1.OrderCreated at the current schema version", h)
	}
	var value struct {
		ShippingAddress string `json:"shipping_address"`
		PostalAddress   struct {
			AddressLines []string `json:"address_lines"`
		} `json:"postal_address"`
	}
	if err := json.Unmarshal(records[0].Value, &value); err != nil {
		t.Fatal(err)
	}
	if value.ShippingAddress != "1 Main St\nSpringfield" || strings.Join(value.PostalAddress.AddressLines, "|") != "1 Main St|Springfield" {
		t.Errorf("value %s: want the text kept and postal_address derived from it", records[0].Value)
	}
}

func TestPublishRefusesEventsOfAnUnknownSchemaVersion(t *testing.T) {
	cluster := kafkatest.Start(t, 1, kafka.DefaultTopic)
	client := kafkatest.NewClient(t, cluster.Brokers())
	pub := kafka.NewPublisher(client, kafka.PublisherConfig{})
	ctx := t.Context()

	newer := testEvent(2, 2, `{}`)
	newer.Metadata.SchemaVersion = application.CurrentEventSchemaVersion + 1 // written by a newer build
	err := pub.Publish(ctx, []outbox.Event{testEvent(1, 1, `{}`), newer})
	var rej *outbox.RejectedError
	if err == nil || errors.As(err, &rej) || !strings.Contains(err.Error(), "schema version") {
		t.Fatalf("Publish = %v, want a retryable error naming the schema version (never parked)", err)
	}
	records, err := kafkatest.ReadAll(ctx, cluster.Brokers(), kafka.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 0 {
		t.Fatalf("%d records produced from a batch that cannot be published", len(records))
	}
}

func TestPublishFailsTransientlyWhileBrokerIsDown(t *testing.T) {
	cluster := kafkatest.Start(t, 1, kafka.DefaultTopic)
	client := kafkatest.NewClient(t, cluster.Brokers())
	pub := kafka.NewPublisher(client, kafka.PublisherConfig{})
	cluster.Stop()

	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	err := pub.Publish(ctx, []outbox.Event{testEvent(1, 1, `{}`)})
	var rej *outbox.RejectedError
	if err == nil || errors.As(err, &rej) {
		t.Fatalf("Publish with the broker down = %v, want a transient error", err)
	}

	cluster.Restart()
	began := time.Now()
	if err := pub.Publish(t.Context(), []outbox.Event{testEvent(1, 1, `{}`)}); err != nil {
		t.Fatalf("Publish after the broker returned: %v", err)
	}
	t.Logf("first publish after the restart took %s", time.Since(began))
}

func TestEnsureTopic(t *testing.T) {
	cluster := kafkatest.Start(t, 1, "existing")
	admin := kadm.NewClient(kafkatest.NewClient(t, cluster.Brokers()))
	ctx := t.Context()

	if err := kafka.EnsureTopic(ctx, admin, "existing", 3, 1, false); err != nil {
		t.Fatalf("existing topic: %v", err)
	}
	err := kafka.EnsureTopic(ctx, admin, "missing", 3, 1, false)
	if !errors.Is(err, kafka.ErrTopicMissing) || !strings.Contains(err.Error(), `"missing"`) || !strings.Contains(err.Error(), kafka.CreateTopicSetting) {
		t.Fatalf("missing topic, creation off: %v, want ErrTopicMissing naming the topic and %s", err, kafka.CreateTopicSetting)
	}
	if err := kafka.EnsureTopic(ctx, admin, "created", 3, 1, true); err != nil {
		t.Fatalf("create: %v", err)
	}
	// A fresh client: franz-go briefly caches metadata answers per client.
	topics, err := kadm.NewClient(kafkatest.NewClient(t, cluster.Brokers())).ListTopics(ctx, "created")
	if err != nil || topics["created"].Err != nil || len(topics["created"].Partitions) != 3 {
		t.Fatalf("created topic = %+v, %v; want 3 partitions", topics["created"], err)
	}
	if err := kafka.EnsureTopic(ctx, admin, "created", 3, 1, true); err != nil {
		t.Fatalf("ensure again: %v", err)
	}
}
