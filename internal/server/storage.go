package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/sqlite"
	"github.com/acme/order-service/internal/telemetry"
)

// orderStore is what both storage adapters provide to the application.
type orderStore = telemetry.OrderStore

// storage is the system of record the service runs on, whichever it is.
type storage struct {
	// orders is the adapter wrapped in the store's metrics and spans.
	orders orderStore
	// snapshots is the same adapter's snapshot store (not instrumented: it
	// is best-effort and counted by the snapshot observer).
	snapshots application.SnapshotStore
	source    outbox.Source
	ready     func(ctx context.Context) error
	close     func()
	// consistency replays every order and compares it with the read model
	// (an operator's check, on the admin listener); nil for SQLite.
	consistency func(ctx context.Context) (consistencyReport, error)
}

// consistencyReport is postgres.ConsistencyReport as /admin/consistency
// shows it.
type consistencyReport struct {
	Clean        bool     `json:"clean"`
	Histories    int      `json:"histories"`
	Events       int      `json:"events"`
	Orders       int      `json:"orders"`
	ProblemCount int      `json:"problem_count"`
	Problems     []string `json:"problems"`
}

func checkConsistency(ctx context.Context, pool *pgxpool.Pool) (consistencyReport, error) {
	r, err := postgres.CheckConsistency(ctx, pool)
	if err != nil {
		return consistencyReport{}, err
	}
	out := consistencyReport{Clean: r.Clean(), Histories: r.Histories, Events: r.Events, Orders: r.Orders,
		ProblemCount: r.ProblemCount, Problems: make([]string, len(r.Problems))}
	for i, p := range r.Problems {
		out.Problems[i] = p.String()
	}
	return out, nil
}

// openStorage connects to PostgreSQL and migrates it, or opens the embedded
// SQLite database when no DATABASE_URL is configured. Either way the
// adapter is instrumented: the port decorator's spans and metrics, the
// pool's statistics and, for PostgreSQL, a span per statement.
func openStorage(ctx context.Context, cfg config.Config, logger *slog.Logger, obs *observability) (*storage, error) {
	if cfg.Embedded() {
		return openSQLite(ctx, cfg, logger, obs)
	}
	return openPostgres(ctx, cfg, logger, obs)
}

func openSQLite(ctx context.Context, cfg config.Config, logger *slog.Logger, obs *observability) (*storage, error) {
	path := filepath.Join(cfg.DataDir, "orders.db")
	st, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		return nil, fmt.Errorf("open embedded database: %w", err)
	}
	if err := obs.metrics.Register(telemetry.NewPoolCollector("sqlite", telemetry.SQLPoolStats(st.DBStats))); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("pool metrics: %w", err)
	}
	logger.Info("storage: embedded SQLite (set DATABASE_URL=postgres://… to use PostgreSQL)", "path", path)
	return &storage{
		orders:    telemetry.NewObservedStore(st, "sqlite", obs.tracerProvider(), obs.metrics),
		snapshots: st,
		source:    st, ready: st.Ping, close: func() { _ = st.Close() },
	}, nil
}

func openPostgres(ctx context.Context, cfg config.Config, logger *slog.Logger, obs *observability) (*storage, error) {
	var tracer pgx.QueryTracer
	if tp := obs.tracerProvider(); tp != nil {
		tracer = telemetry.NewPgxTracer(tp)
	}
	pool, err := connectPostgres(ctx, cfg, tracer)
	if err != nil {
		return nil, err
	}
	if err := migratePostgres(ctx, pool, logger); err != nil {
		pool.Close()
		return nil, err
	}
	if err := obs.metrics.Register(telemetry.NewPoolCollector("postgresql", telemetry.PgxPoolStats(pool))); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pool metrics: %w", err)
	}
	logger.Info("storage: PostgreSQL", "database", config.Redact(cfg.DatabaseURL), "max_conns", cfg.DBMaxConns)
	ready := func(ctx context.Context) error { return postgresReady(ctx, pool) }
	orders := postgres.NewOrderStore(pool)
	return &storage{
		orders:    telemetry.NewObservedStore(orders, "postgresql", obs.tracerProvider(), obs.metrics),
		snapshots: orders,
		source:    postgres.NewOutboxSource(pool, logger),
		ready:     ready, close: pool.Close,
		consistency: func(ctx context.Context) (consistencyReport, error) { return checkConsistency(ctx, pool) },
	}, nil
}

// connectPostgres opens the pool; tracer, when not nil, sees every
// statement (pgx also uses it for batches when it implements
// pgx.BatchTracer).
func connectPostgres(ctx context.Context, cfg config.Config, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// pgx's parse errors can quote the URL; never echo it.
		return nil, fmt.Errorf("DATABASE_URL %s: cannot be parsed as a PostgreSQL connection string", config.Redact(cfg.DatabaseURL))
	}
	pc.MaxConns = cfg.DBMaxConns
	pc.ConnConfig.Tracer = tracer
	pc.ConnConfig.RuntimeParams["application_name"] = cfg.ServiceName
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL %s: %w", config.Redact(cfg.DatabaseURL), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL %s: %w", config.Redact(cfg.DatabaseURL), err)
	}
	return pool, nil
}

// migratePostgres brings the schema up to date; instances starting together
// serialise on goose's advisory lock.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	if err := postgres.Migrate(ctx, db, logger); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// postgresReady is the readiness check: the database answers and its schema
// is the one this binary expects.
func postgresReady(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	current, latest, err := postgres.MigrationStatus(ctx, db)
	if err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if current < latest {
		return fmt.Errorf("database schema at version %d, want %d", current, latest)
	}
	return nil
}

// Migrate runs the PostgreSQL migrations and exits: the `migrate` command.
func Migrate(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.Embedded() {
		return fmt.Errorf("migrate: DATABASE_URL is not set (the embedded database migrates itself at start-up)")
	}
	pool, err := connectPostgres(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migratePostgres(ctx, pool, logger)
}
