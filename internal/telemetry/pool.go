package telemetry

import (
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is a point-in-time view of a database connection pool.
type PoolStats struct {
	Max, Open, InUse, Idle int64
	// Acquires counts connections handed out; -1 when the pool does not
	// count them (database/sql).
	Acquires int64
	// Waits counts acquisitions that found no idle connection and had to
	// wait; WaitTime is the time they waited in total.
	Waits    int64
	WaitTime time.Duration
	// Canceled counts acquisitions abandoned (context ended) while waiting;
	// -1 when not counted.
	Canceled int64
}

// PgxPoolStats reads a pgx pool.
func PgxPoolStats(pool *pgxpool.Pool) func() PoolStats {
	return func() PoolStats {
		s := pool.Stat()
		return PoolStats{
			Max: int64(s.MaxConns()), Open: int64(s.TotalConns()), InUse: int64(s.AcquiredConns()), Idle: int64(s.IdleConns()),
			Acquires: s.AcquireCount(), Waits: s.EmptyAcquireCount(), WaitTime: s.EmptyAcquireWaitTime(),
			Canceled: s.CanceledAcquireCount(),
		}
	}
}

// SQLPoolStats reads a database/sql pool (the embedded SQLite store's).
func SQLPoolStats(stats func() sql.DBStats) func() PoolStats {
	return func() PoolStats {
		s := stats()
		return PoolStats{
			Max: int64(s.MaxOpenConnections), Open: int64(s.OpenConnections), InUse: int64(s.InUse), Idle: int64(s.Idle),
			Acquires: -1, Waits: s.WaitCount, WaitTime: s.WaitDuration, Canceled: -1,
		}
	}
}

// poolCollector exports PoolStats as db_pool_* series, labelled with the
// database system so dashboards can tell the adapters apart.
type poolCollector struct {
	stats                                  func() PoolStats
	max, open, inUse, idle                 *prometheus.Desc
	acquires, waits, waitSeconds, canceled *prometheus.Desc
}

// NewPoolCollector exports a pool's stats, read at every scrape.
func NewPoolCollector(system string, stats func() PoolStats) prometheus.Collector {
	labels := prometheus.Labels{"db_system": system}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, nil, labels)
	}
	return &poolCollector{
		stats:       stats,
		max:         desc("db_pool_max_connections", "Most connections the pool may open."),
		open:        desc("db_pool_open_connections", "Connections open (in use, idle or being established)."),
		inUse:       desc("db_pool_acquired_connections", "Connections in use."),
		idle:        desc("db_pool_idle_connections", "Idle connections."),
		acquires:    desc("db_pool_acquires_total", "Connections handed out by the pool."),
		waits:       desc("db_pool_acquire_waits_total", "Acquisitions that had to wait for a connection (pool saturated)."),
		waitSeconds: desc("db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection."),
		canceled:    desc("db_pool_canceled_acquires_total", "Acquisitions abandoned while waiting (deadline or cancellation)."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.max, c.open, c.inUse, c.idle, c.acquires, c.waits, c.waitSeconds, c.canceled} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.max, s.Max)
	gauge(c.open, s.Open)
	gauge(c.inUse, s.InUse)
	gauge(c.idle, s.Idle)
	if s.Acquires >= 0 {
		counter(c.acquires, float64(s.Acquires))
	}
	counter(c.waits, float64(s.Waits))
	counter(c.waitSeconds, s.WaitTime.Seconds())
	if s.Canceled >= 0 {
		counter(c.canceled, float64(s.Canceled))
	}
}
