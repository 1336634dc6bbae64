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

func (t topicSetup) ensure(ctx context.Context) error {
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

// checkTopic runs at start-up: a missing topic that may not be created is a
// configuration error worth failing for, but an unreachable broker is not —
// commands never depend on Kafka, and the relay catches up once it is back.
func (m *messaging) checkTopic(ctx context.Context, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := m.topic.ensure(ctx)
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("kafka: brokers unreachable at start-up; commands are accepted and events wait in the log", "error", err)
		return nil
	}
	return err
}

// runRelay sets the topic up (retrying while the broker is unreachable) and
// then relays until ctx ends.
func (m *messaging) runRelay(ctx context.Context, logger *slog.Logger) error {
	for attempt := 0; ; attempt++ {
		err := m.topic.ensure(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		logger.Warn("kafka: topic not ready; retrying", "topic", m.topic.name, "error", err)
		if !outbox.Sleep(ctx, min(time.Duration(1<<min(attempt, 5))*time.Second, 30*time.Second)) {
			return nil
		}
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
