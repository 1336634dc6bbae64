package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/infrastructure/kafka"
	"github.com/acme/order-service/internal/infrastructure/kafka/kafkatest"
	"github.com/acme/order-service/internal/server"
	"github.com/acme/order-service/internal/testkit"
)

// relayView is the relay section of /readyz and /admin/relay.
type relayView struct {
	State     string `json:"state"`
	Leader    bool   `json:"leader"`
	Published int64  `json:"published_events"`
	LastError string `json:"last_error"`
}

// relayState reads the relay's state from /readyz (which must say ready)
// and from /admin/relay.
func (s *service) relayState(ctx context.Context) (public, admin relayView, err error) {
	code, body, err := get(ctx, s.HTTP+"/readyz")
	if err != nil || code != http.StatusOK {
		return public, admin, fmt.Errorf("/readyz: %d %s %v", code, body, err)
	}
	var ready struct {
		Relay relayView `json:"relay"`
	}
	if err := json.Unmarshal(body, &ready); err != nil {
		return public, admin, fmt.Errorf("/readyz: %w: %s", err, body)
	}
	code, body, err = get(ctx, s.Admin+"/admin/relay")
	if err != nil || code != http.StatusOK {
		return public, admin, fmt.Errorf("/admin/relay: %d %s %v", code, body, err)
	}
	if err := json.Unmarshal(body, &admin); err != nil {
		return public, admin, fmt.Errorf("/admin/relay: %w: %s", err, body)
	}
	return ready.Relay, admin, nil
}

// A broker that is down at start-up does not hold the service: it is ready,
// takes commands, shows the relay connecting with the dial error, and the
// relay creates the topic and publishes once the broker is up.
func TestStartsWhileBrokerUnreachable(t *testing.T) {
	t.Parallel()
	brokerAddr := testkit.MustFreeAddrs(t, 1)[0] // closed again: nothing listens there
	svc := startService(t, map[string]string{"KAFKA_BROKERS": brokerAddr, "KAFKA_TOPIC_PARTITIONS": "2"}, server.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := svc.GRPC.CreateOrder(ctx, newOrder("user-1", "unreachable-1")); err != nil {
		t.Fatalf("CreateOrder while the broker is down: %v", err)
	}
	// The first attempt's error shows once that attempt has failed.
	testkit.Eventually(t, 30*time.Second, "the relay connecting with the dial error", func() error {
		public, admin, err := svc.relayState(ctx)
		switch {
		case err != nil:
			return err
		case public.State != "connecting" || public.Leader || public.LastError != "":
			return fmt.Errorf("/readyz relay %+v, want connecting, no leader, no error text", public)
		case admin.State != "connecting" || !strings.Contains(admin.LastError, "dial"):
			return fmt.Errorf("/admin/relay %+v, want connecting with the dial error", admin)
		}
		return nil
	})

	_, portText, _ := net.SplitHostPort(brokerAddr)
	port, _ := strconv.Atoi(portText)
	cluster := kafkatest.StartAt(t, port, 1) // no topic: the relay creates it
	testkit.Eventually(t, 60*time.Second, "the relay caught up after the broker started", func() error {
		public, _, err := svc.relayState(ctx)
		if err != nil {
			return err
		}
		if public.State != "caught-up" || public.Published != 1 {
			return fmt.Errorf("relay %+v", public)
		}
		return nil
	})
	records, err := kafkatest.ReadAll(ctx, cluster.Brokers(), kafka.DefaultTopic)
	if err != nil || len(records) != 1 {
		t.Fatalf("topic after the broker started: %d records, %v; want the one event", len(records), err)
	}
}

// A broker that answers at start-up that the topic does not exist, with
// creation off, is a misconfiguration: the service stops with an error that
// names the topic and the setting.
func TestMissingTopicStopsTheServiceAtStart(t *testing.T) {
	t.Parallel()
	cluster := kafkatest.Start(t, 1, "some-other-topic")
	addrs := testkit.MustFreeAddrs(t, 2)
	vars := map[string]string{
		"DATA_DIR": t.TempDir(), "GRPC_ADDR": addrs[0], "HTTP_ADDR": addrs[1], "LOG_FORMAT": "json",
		"KAFKA_BROKERS": cluster.Brokers()[0], "KAFKA_CREATE_TOPIC": "false", "SHUTDOWN_TIMEOUT": "5s",
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &testkit.Buffer{}
	done := make(chan error, 1)
	go func() { done <- server.RunWith(t.Context(), cfg, server.NewLogger(logs, cfg), server.Options{}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `"order-events"`) || !strings.Contains(err.Error(), kafka.CreateTopicSetting) {
			t.Fatalf("RunWith = %v, want an error naming the topic and %s", err, kafka.CreateTopicSetting)
		}
		t.Logf("RunWith: %v", err)
	case <-time.After(stopTimeout):
		t.Fatalf("the service still runs %s after start with a missing topic\nlog:\n%s", stopTimeout, logs)
	}
}
