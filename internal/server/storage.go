package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/config"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/sqlite"
)

// orderStore is what both storage adapters provide to the application.
type orderStore interface {
	application.EventStore
	application.ReadModel
	application.IdempotencyStore
}

// storage is the system of record the service runs on, whichever it is.
type storage struct {
	orders orderStore
	source outbox.Source
	ready  func(ctx context.Context) error
	close  func()
}

// openStorage connects to PostgreSQL and migrates it, or opens the embedded
// SQLite database when no DATABASE_URL is configured.
func openStorage(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage, error) {
	if cfg.Embedded() {
		return openSQLite(ctx, cfg, logger)
	}
	return openPostgres(ctx, cfg, logger)
}

func openSQLite(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage, error) {
	path := filepath.Join(cfg.DataDir, "orders.db")
	st, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		return nil, fmt.Errorf("open embedded database: %w", err)
	}
	logger.Info("storage: embedded SQLite (set DATABASE_URL=postgres://… to use PostgreSQL)", "path", path)
	return &storage{orders: st, source: st, ready: st.Ping, close: func() { _ = st.Close() }}, nil
}

func openPostgres(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage, error) {
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := migratePostgres(ctx, pool, logger); err != nil {
		pool.Close()
		return nil, err
	}
	logger.Info("storage: PostgreSQL", "database", config.Redact(cfg.DatabaseURL), "max_conns", cfg.DBMaxConns)
	ready := func(ctx context.Context) error { return postgresReady(ctx, pool) }
	return &storage{
		orders: postgres.NewStore(pool), source: postgres.NewOutboxSource(pool, logger),
		ready: ready, close: pool.Close,
	}, nil
}

func connectPostgres(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// pgx's parse errors can quote the URL; never echo it.
		return nil, fmt.Errorf("DATABASE_URL %s: cannot be parsed as a PostgreSQL connection string", config.Redact(cfg.DatabaseURL))
	}
	pc.MaxConns = cfg.DBMaxConns
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
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migratePostgres(ctx, pool, logger)
}
