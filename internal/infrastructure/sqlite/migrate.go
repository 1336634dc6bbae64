package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
)

// migrationFiles holds the goose SQL migrations, compiled into the binary so
// it always carries the schema its code was written against. It is read-only
// and package-level because go:embed requires that.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate brings the schema to the latest embedded migration. It takes no
// goose lock: the lock file already makes this the only process on the file.
func migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: open embedded migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		// Only the embedded SQL files count; a Go migration registered
		// elsewhere in the binary must never sneak into this schema's history.
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	)
	if err != nil {
		return fmt.Errorf("migrate: build goose provider: %w", err)
	}
	// provider.Close is not called: it would close db, which the Store keeps.
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: apply: %w", err)
	}
	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "sqlite schema migrated",
		slog.Int("applied", len(results)), slog.Int64("version", version))
	return nil
}
