//go:build integration

package postgres_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/infrastructure/postgres"
)

// Append writes a whole commit in two round trips (the batch that begins the
// transaction and runs every statement, then COMMIT), and a read that needs
// an order row and its lines takes one. Counted on the wire, once the
// connection has prepared its statements.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	_, pool := newTestStore(t)
	counting, turns := turnCountingPool(t, pool)
	store := postgres.NewOrderStore(counting)
	ctx := t.Context()

	warm := storeOrder(t, "user-1")
	storeMust(t, store.Append(ctx, storeCommit(warm, 0, "req-warm")))
	storeMust(t, warm.Confirm(time.Now()))
	storeMust(t, store.Append(ctx, storeCommit(warm, 1, "")))
	_, err := store.GetOrder(ctx, warm.ID())
	storeMust(t, err)
	_, err = store.ListOrders(ctx, application.OrderFilter{UserID: "user-1", Limit: 10})
	storeMust(t, err)

	o := storeOrder(t, "user-1")
	steps := []struct {
		name string
		want int
		run  func() error
	}{
		{"Append create with request id", 2, func() error { return store.Append(ctx, storeCommit(o, 0, "req-1")) }},
		{"Append confirm", 2, func() error {
			storeMust(t, o.Confirm(time.Now()))
			return store.Append(ctx, storeCommit(o, 1, ""))
		}},
		{"GetOrder", 1, func() error { _, err := store.GetOrder(ctx, o.ID()); return err }},
		{"ListOrders", 1, func() error {
			_, err := store.ListOrders(ctx, application.OrderFilter{UserID: "user-1", Limit: 10})
			return err
		}},
	}
	for _, step := range steps {
		before := turns()
		storeMust(t, step.run())
		if got := turns() - before; got != step.want {
			t.Errorf("%s took %d round trips, want %d", step.name, got, step.want)
		}
	}
}

// turnCountingPool opens a one-connection pool on like's database whose
// connection counts round trips: a write that follows a read starts one.
func turnCountingPool(t *testing.T, like *pgxpool.Pool) (*pgxpool.Pool, func() int) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(like.Config().ConnString())
	storeMust(t, err)
	cfg.MaxConns = 1
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	counter := &turnCounter{}
	dialer := &net.Dialer{}
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, counter: counter}, nil
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	storeMust(t, err)
	t.Cleanup(pool.Close)
	return pool, counter.count
}

type turnCounter struct {
	mu      sync.Mutex
	turns   int
	reading bool
}

func (c *turnCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.turns
}

func (c *turnCounter) wrote() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reading || c.turns == 0 {
		c.turns++
	}
	c.reading = false
}

func (c *turnCounter) read() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reading = true
}

type countingConn struct {
	net.Conn
	counter *turnCounter
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.counter.wrote()
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.counter.read()
	}
	return n, err
}
