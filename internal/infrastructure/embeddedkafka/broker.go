// Package embeddedkafka runs an in-process Kafka-protocol broker (franz-go's
// kfake) for the zero-setup default: with KAFKA_BROKERS unset, the service
// publishes to this broker, and any Kafka client — kcat, a consumer in
// another language — can read from it. Production points KAFKA_BROKERS at a
// real Kafka cluster instead.
package embeddedkafka

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running single-node broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start listens on addr (host:port) and keeps the log under dataDir/kafka,
// so topics, records and consumer offsets survive a restart. Every produce
// is fsynced before it is acknowledged: the relay moves its checkpoint on the
// acknowledgement, so an acknowledged record must not vanish in a crash.
func Start(addr, dataDir string, logger *slog.Logger) (*Broker, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka address %q: %w", addr, err)
	}
	var portNum int
	if _, err := fmt.Sscan(port, &portNum); err != nil {
		return nil, fmt.Errorf("embedded kafka port %q: %w", port, err)
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(portNum),
		// kfake listens on 127.0.0.1 by default; honour the configured host.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.ClusterID("order-service-embedded"),
		kfake.DataDir(filepath.Join(dataDir, "kafka")),
		kfake.SyncWrites(),
		kfake.WithLogger(slogAdapter{logger.With("component", "embedded-kafka")}),
	)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", addr, err)
	}
	return &Broker{cluster: cluster, addr: cluster.ListenAddrs()[0]}, nil
}

// Addr is the address clients bootstrap from.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and flushes its log to disk.
func (b *Broker) Close() { b.cluster.Close() }

// slogAdapter forwards the broker's own warnings and errors to the service
// log; its debug chatter stays out.
type slogAdapter struct{ logger *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		a.logger.Error(fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		a.logger.Warn(fmt.Sprintf(format, args...))
	}
}
