package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrationFiles holds the goose SQL migrations, compiled into the binary so it
// always carries the schema its code was written against. Read-only; go:embed
// needs a package-level variable.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Lock acquisition is polled (pg_try_advisory_lock); goose's default of one
// attempt per 5s makes every instance but the first wait at least 5s at start-up.
// Polling each second for up to 5 minutes keeps the same total patience.
const (
	lockPollSeconds = 1
	lockPollCount   = 300
)

// Migrate brings the schema to the latest embedded migration.
//
// It takes a *sql.DB because goose runs on database/sql; a caller holding a
// *pgxpool.Pool passes stdlib.OpenDBFromPool(pool) (github.com/jackc/pgx/v5/stdlib)
// and closes that *sql.DB afterwards, which leaves the pool open.
//
// Instances starting together serialise on a PostgreSQL session advisory lock:
// one applies the pending migrations, the others wait, then find nothing to do.
// A nil logger discards goose's progress messages.
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	logger = orDiscard(logger)
	provider, err := newProvider(db, logger)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: apply: %w", err)
	}
	current, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "schema migrated",
		slog.Int("applied", len(results)), slog.Int64("version", current))
	return nil
}

// MigrationStatus reports the schema version recorded in the database and the
// latest version this build embeds; readiness is "migrated" when they are equal.
//
// Unlike Migrate it takes no lock and never writes: on a database goose has not
// touched yet it reports current 0 rather than creating the version table, so a
// readiness probe stays read-only.
func MigrationStatus(ctx context.Context, db *sql.DB) (current, latest int64, err error) {
	provider, err := newProvider(db, orDiscard(nil))
	if err != nil {
		return 0, 0, fmt.Errorf("migration status: %w", err)
	}
	latest = latestVersion(provider)
	tracked, err := versionTableExists(ctx, db)
	if err != nil {
		return 0, latest, fmt.Errorf("migration status: %w", err)
	}
	if !tracked {
		return 0, latest, nil
	}
	current, err = provider.GetDBVersion(ctx)
	if err != nil {
		return 0, latest, fmt.Errorf("migration status: read version: %w", err)
	}
	return current, latest, nil
}

// orDiscard lets callers pass a nil logger when they do not want goose's output.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

// newProvider builds a goose provider over the embedded migrations.
func newProvider(db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	if db == nil {
		return nil, errors.New("nil *sql.DB")
	}
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(lockPollSeconds, lockPollCount))
	if err != nil {
		return nil, fmt.Errorf("build advisory locker: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		// Only the embedded SQL files count; a Go migration registered elsewhere
		// in the binary must never sneak into this schema's history.
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("build goose provider: %w", err)
	}
	return provider, nil
}

// latestVersion is the highest embedded migration version. goose refuses to
// build a provider without migrations, so the list is never empty.
func latestVersion(provider *goose.Provider) int64 {
	var latest int64
	for _, source := range provider.ListSources() {
		latest = max(latest, source.Version)
	}
	return latest
}

// versionTableExists asks the catalog the same question goose asks before it
// creates its version table, in the schema goose would use.
func versionTableExists(ctx context.Context, db *sql.DB) (bool, error) {
	const query = `SELECT EXISTS (
		SELECT 1 FROM pg_tables
		WHERE schemaname = current_schema() AND tablename = $1)`
	var exists bool
	if err := db.QueryRowContext(ctx, query, goose.DefaultTablename).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up %s: %w", goose.DefaultTablename, err)
	}
	return exists, nil
}
