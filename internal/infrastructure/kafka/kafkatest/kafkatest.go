// Package kafkatest runs an in-process Kafka broker (franz-go's kfake) for
// tests, and reads topics back.
//
// The broker keeps its log in a temporary directory and listens on a fixed
// port, so Stop and Start simulate an outage: clients keep their broker
// address, records produced before the outage survive it, and so does the
// idempotent producer's state (kfake persists producer ids and sequences).
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restartWait bounds how long Start retries binding the port it used before
// (the kernel may hold it briefly after the listener closed).
const restartWait = 10 * time.Second

// Cluster is a one-broker kfake cluster that can be stopped and started.
type Cluster struct {
	t    testing.TB
	dir  string
	opts []kfake.Opt

	mu   sync.Mutex
	port int
	c    *kfake.Cluster
}

// Start starts a broker with the topics (partitions each) already created,
// and stops it when the test ends.
func Start(t testing.TB, partitions int32, topics ...string) *Cluster {
	t.Helper()
	return StartAt(t, 0, partitions, topics...)
}

// StartAt is Start on a given port (0: any free one), e.g. one a service
// under test was told to use while no broker listened there. It retries
// binding a given port for a few seconds.
func StartAt(t testing.TB, port int, partitions int32, topics ...string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, dir: t.TempDir(), opts: []kfake.Opt{kfake.SeedTopics(partitions, topics...)}}
	if err := c.start(port); err != nil {
		t.Fatalf("kafkatest: start broker on port %d: %v", port, err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Brokers returns the seed broker addresses; they stay valid across Stop
// and Start.
func (c *Cluster) Brokers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []string{fmt.Sprintf("127.0.0.1:%d", c.port)}
}

// Stop shuts the broker down and drops every client connection. Stopping a
// stopped broker does nothing.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		c.c.Close() // persists the log and producer state to the data dir
		c.c = nil
	}
}

// Restart starts the broker again on the same port with the same data.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.mu.Lock()
	port := c.port
	c.mu.Unlock()
	if err := c.start(port); err != nil {
		c.t.Fatalf("kafkatest: restart broker on port %d: %v", port, err)
	}
}

func (c *Cluster) start(port int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		return errors.New("broker already running")
	}
	deadline := time.Now().Add(restartWait)
	retry := time.NewTicker(50 * time.Millisecond) // the kernel has no event for "port free"
	defer retry.Stop()
	for {
		opts := append([]kfake.Opt{kfake.Ports(port), kfake.DataDir(c.dir)}, c.opts...)
		cluster, err := kfake.NewCluster(opts...)
		if err == nil {
			c.c, c.port = cluster, listenPort(cluster)
			return nil
		}
		if port == 0 || time.Now().After(deadline) {
			return err
		}
		<-retry.C
	}
}

func listenPort(c *kfake.Cluster) int {
	var port int
	_, _ = fmt.Sscanf(c.ListenAddrs()[0], "127.0.0.1:%d", &port)
	return port
}

// NewClient returns a client on the cluster, closed when the test ends.
func NewClient(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// ReadAll returns every record of the topic, partition by partition, up to
// the end offsets as they stand when it is called.
func ReadAll(ctx context.Context, brokers []string, topic string) ([]*kgo.Record, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	defer client.Close()
	remaining, err := endOffsets(ctx, kadm.NewClient(client), topic)
	if err != nil {
		return nil, err
	}
	var records []*kgo.Record
	for len(remaining) > 0 {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %d partitions unfinished: %w", topic, len(remaining), err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			records = append(records, r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return records, nil
}

// endOffsets returns the end offset of each non-empty partition.
func endOffsets(ctx context.Context, admin *kadm.Client, topic string) (map[int32]int64, error) {
	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	remaining := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	return remaining, nil
}
