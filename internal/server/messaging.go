package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/infrastructure/embeddedkafka"
	"github.com/acme/order-service/internal/infrastructure/kafka"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/telemetry"
)

// messaging is the Kafka side of the service: the client, the relay that
// feeds it from the event log and, in the embedded mode, the broker itself.
type messaging struct {
	client *kgo.Client
	relay  *outbox.Relay
	topic  topicSetup
	broker *embeddedkafka.Broker // nil with external brokers
}

// topicSetup checks (or creates) the topic before the relay publishes.
type topicSetup struct {
	admin       *kadm.Client
	name        string
	partitions  int32
	replication int16
	create      bool
}

// topicCheckTimeout bounds one attempt to check or create the topic; the
// relay retries after it.
const topicCheckTimeout = 10 * time.Second

func (t topicSetup) ensure(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, topicCheckTimeout)
	defer cancel()
	return kafka.EnsureTopic(ctx, t.admin, t.name, t.partitions, t.replication, t.create)
}

func startMessaging(cfg config.Config, source outbox.Source, logger *slog.Logger, obs *observability) (*messaging, error) {
	m := &messaging{}
	brokers := cfg.KafkaBrokers
	if cfg.EmbeddedKafka() {
		broker, err := embeddedkafka.Start(cfg.EmbeddedKafkaAddr, cfg.DataDir, logger)
		if err != nil {
			return nil, err
		}
		m.broker, brokers = broker, []string{broker.Addr()}
		logger.Info("kafka: embedded broker (set KAFKA_BROKERS=host:9092,… to publish to Kafka)", "addr", broker.Addr())
	} else {
		logger.Info("kafka: external brokers", "brokers", brokers)
	}
	client, err := kafka.NewClient(brokers)
	if err != nil {
		m.close()
		return nil, err
	}
	m.client = client
	partitions, replication := cfg.TopicPartitions, cfg.TopicReplication
	if cfg.EmbeddedKafka() {
		partitions, replication = 1, 1 // one node: one copy; one partition keeps kcat output in order
	}
	m.topic = topicSetup{admin: kadm.NewClient(client), name: cfg.KafkaTopic, partitions: partitions, replication: replication, create: cfg.CreateTopic}
	pub := kafka.NewPublisher(client, kafka.PublisherConfig{Topic: cfg.KafkaTopic, FallbackSource: kafka.Source(cfg.ServiceName, cfg.CellID)})
	m.relay, err = outbox.NewRelay(source, telemetry.NewPublisher(pub, obs.tracerProvider(), obs.metrics), outbox.RelayConfig{
		BatchSize: cfg.RelayBatchSize, PollInterval: cfg.RelayPollInterval, ShutdownTimeout: cfg.ShutdownTimeout / 2,
	}, logger)
	if err != nil {
		m.close()
		return nil, err
	}
	if err := obs.metrics.Register(telemetry.NewRelayCollector(m.relay.Status)); err != nil {
		m.close()
		return nil, fmt.Errorf("relay metrics: %w", err)
	}
	return m, nil
}

// runRelay sets the topic up, then relays until ctx ends. The set-up runs
// here, beside the API rather than before it, so that no command waits for
// Kafka: while the broker is unreachable the relay retries with its backoff
// (its status says connecting, with the last error) and the events wait in
// the log. Only a misconfiguration the broker reports on the very first
// attempt — the topic does not exist and may not be created — is an error,
// which stops the service moments after its start; found later (the broker
// was down at start), it is retried like an outage, so that a service that
// took orders never exits over Kafka.
func (m *messaging) runRelay(ctx context.Context) error {
	first := true
	err := m.relay.Prepare(ctx, fmt.Sprintf("kafka topic %q", m.topic.name), func(ctx context.Context) error {
		err := m.topic.ensure(ctx)
		if first && errors.Is(err, kafka.ErrTopicMissing) {
			err = outbox.Final(err)
		}
		first = false
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("relay start: %w", err)
	}
	if err := m.relay.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("relay: %w", err)
	}
	return nil
}

func (m *messaging) close() {
	if m.client != nil {
		m.client.Close()
	}
	if m.broker != nil {
		m.broker.Close()
	}
}
