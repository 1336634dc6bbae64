package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/acme/order-service/internal/testkit"
)

// brokerRestartWait bounds how long Restart retries binding the port it
// used before.
const brokerRestartWait = 15 * time.Second

// broker is a one-node Kafka-protocol broker (franz-go's kfake) that
// faultcheck controls: Stop and Restart simulate a Kafka outage. Its log and
// producer state live in a directory, so they survive the outage, and it
// keeps its port, so the service's clients keep their seed address.
type broker struct {
	dir string

	mu   sync.Mutex
	port int
	c    *kfake.Cluster
}

func startBroker(dir string) (*broker, error) {
	b := &broker{dir: dir}
	if err := b.start(0); err != nil {
		return nil, err
	}
	return b, nil
}

// Addr is the seed address; it stays valid across Stop and Restart.
func (b *broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
}

// Stop shuts the broker down, dropping every connection.
func (b *broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// Restart starts it again on the same port with the same data.
func (b *broker) Restart() error {
	b.mu.Lock()
	port := b.port
	b.mu.Unlock()
	return b.start(port)
}

func (b *broker) start(port int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil {
		return errors.New("broker already running")
	}
	// Restart wants the port it had, which may not be free again at once:
	// the kernel has no event for "port free again".
	ctx, cancel := context.WithTimeout(context.Background(), brokerRestartWait)
	defer cancel()
	err := testkit.Poll(ctx, 50*time.Millisecond, func() error {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(b.dir),
			kfake.ClusterID("faultcheck"), kfake.SyncWrites())
		if err != nil {
			return err
		}
		b.c = c
		_, p, _ := net.SplitHostPort(c.ListenAddrs()[0])
		b.port, _ = strconv.Atoi(p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("start kafka broker on port %d: %w", port, err)
	}
	return nil
}
