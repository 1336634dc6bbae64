//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
	"github.com/acme/order-service/internal/testkit"
)

// A restart during a Kafka outage: the service starts while nothing listens
// on its broker address, is ready, takes commands over gRPC and REST, and
// shows its relay connecting; once a broker starts on that address the relay
// creates the topic and publishes exactly the committed events, once each,
// in per-order order.
func TestStartsDuringKafkaOutage(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	addrs := testkit.MustFreeAddrs(t, 2) // both closed again: nothing listens on the broker's
	brokerAddr, adminAddr := addrs[0], addrs[1]
	env := postgresEnv(t, dsn, []string{brokerAddr})
	env["ADMIN_ADDR"] = adminAddr
	env["KAFKA_TOPIC_PARTITIONS"] = "3"
	svc := startService(t, "kafka-down-at-start", env, "")
	ctx := testContext(t, 3*time.Minute)

	// The first attempt's error shows once that attempt has failed.
	testkit.Eventually(t, 30*time.Second, "/admin/relay connecting with the dial error", func() error {
		relay, err := adminRelay(ctx, adminAddr)
		if err != nil {
			return err
		}
		if relay.State != "connecting" || relay.Leader || !strings.Contains(relay.LastError, "dial") {
			return fmt.Errorf("relay %+v, want connecting, not leading, with the dial error", relay)
		}
		return nil
	})

	var ids []string
	for _, tr := range transports(svc) {
		for n := range 3 {
			ids = append(ids, changeOrder(t, ctx, tr.client, fmt.Sprintf("%s-%d", tr.name, n), n == 2))
		}
	}
	history := historyOf(t, ctx, svc.GRPC, ids)
	sameEventIDs(t, eventsInDatabase(t, ctx, pgtest.NewPool(t, dsn)), history)
	code, body, err := svc.REST.Raw(ctx, http.MethodGet, "/readyz", nil)
	if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"connecting"`) {
		t.Errorf("/readyz with the broker down: %d %s %v, want 200 showing the relay connecting", code, body, err)
	}
	t.Logf("%d orders, %d events committed with the broker down", len(ids), countEvents(history))

	_, portText, _ := net.SplitHostPort(brokerAddr)
	port, _ := strconv.Atoi(portText)
	brokerUp := time.Now()
	cluster := kafkatest.StartAt(t, port, 1) // no topic: the service creates it (KAFKA_CREATE_TOPIC defaults to true)
	read := func(ctx context.Context) ([]*kgo.Record, error) {
		return kafkatest.ReadAll(ctx, cluster.Brokers(), topic)
	}
	records := awaitRecords(t, read, history, 90*time.Second)
	t.Logf("every event on Kafka %s after the broker started", time.Since(brokerUp).Round(time.Millisecond))
	checkRecords(t, records, history, cellSource)
	checkPartitions(t, ctx, cluster.Brokers(), 3)

	testkit.Eventually(t, 30*time.Second, "/admin/relay caught up", func() error {
		relay, err := adminRelay(ctx, adminAddr)
		if err != nil {
			return err
		}
		if relay.State != "caught-up" || relay.Published != int64(countEvents(history)) {
			return fmt.Errorf("relay %+v", relay)
		}
		return nil
	})
	svc.Stop()
}

// changeOrder creates an order and changes it: address, quantity, confirm
// and, when cancel is set, a cancel. It returns the order's id.
func changeOrder(t *testing.T, ctx context.Context, c orderv1.OrderServiceClient, label string, cancel bool) string {
	t.Helper()
	r, err := c.CreateOrder(ctx, seedCreate("user-kafka-down-"+label, label+"-create"))
	requireOK(t, label+" CreateOrder", err)
	id := r.GetOrder().GetId()
	_, err = c.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{
		OrderId: id, ShippingAddress: "2 Side St, Shelbyville", ExpectedVersion: 1, RequestId: label + "-address"})
	requireOK(t, label+" ChangeShippingAddress", err)
	_, err = c.ChangeOrderItemQuantity(ctx, &orderv1.ChangeOrderItemQuantityRequest{
		OrderId: id, ProductId: "sku-1", Quantity: 3, ExpectedVersion: 2, RequestId: label + "-quantity"})
	requireOK(t, label+" ChangeOrderItemQuantity", err)
	_, err = c.ConfirmOrder(ctx, &orderv1.ConfirmOrderRequest{OrderId: id, ExpectedVersion: 3, RequestId: label + "-confirm"})
	requireOK(t, label+" ConfirmOrder", err)
	if cancel {
		_, err = c.CancelOrder(ctx, &orderv1.CancelOrderRequest{OrderId: id, Reason: "changed my mind", ExpectedVersion: 4, RequestId: label + "-cancel"})
		requireOK(t, label+" CancelOrder", err)
	}
	return id
}

// sameEventIDs asserts the database holds exactly the events of history:
// what checkRecords then finds on Kafka is exactly what was committed.
func sameEventIDs(t *testing.T, committed, history map[string][]*orderv1.OrderEvent) {
	t.Helper()
	ids := func(m map[string][]*orderv1.OrderEvent) map[string]bool {
		out := make(map[string]bool)
		for _, evs := range m {
			for _, e := range evs {
				out[e.GetEventId()] = true
			}
		}
		return out
	}
	db, hist := ids(committed), ids(history)
	if len(db) != len(hist) {
		t.Fatalf("%d events in the database, %d in the orders' histories", len(db), len(hist))
	}
	for id := range hist {
		if !db[id] {
			t.Fatalf("event %s of the history is not in the database", id)
		}
	}
}

// checkPartitions asserts the topic the service created has KAFKA_TOPIC_PARTITIONS.
func checkPartitions(t *testing.T, ctx context.Context, brokers []string, want int) {
	t.Helper()
	topics, err := kadm.NewClient(kafkatest.NewClient(t, brokers)).ListTopics(ctx, topic)
	if err != nil || topics[topic].Err != nil {
		t.Fatalf("list %s: %v %v", topic, err, topics[topic].Err)
	}
	if got := len(topics[topic].Partitions); got != want {
		t.Errorf("topic %s has %d partitions, want %d (KAFKA_TOPIC_PARTITIONS)", topic, got, want)
	}
}

// relayStatus is the part of /admin/relay the test reads.
type relayStatus struct {
	State     string `json:"state"`
	Leader    bool   `json:"leader"`
	Published int64  `json:"published_events"`
	LastError string `json:"last_error"`
}

func adminRelay(ctx context.Context, addr string) (relayStatus, error) {
	var s relayStatus
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/admin/relay", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/admin/relay: %d %s %v", resp.StatusCode, body, err)
	}
	return s, json.Unmarshal(body, &s)
}
