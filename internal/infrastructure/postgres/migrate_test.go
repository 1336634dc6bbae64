//go:build integration

package postgres_test

import (
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

// latestVersion is the newest file in migrations/; bump it with each new file.
const latestVersion = 4

// openDB gives a test its own *sql.DB on a fresh pool, as a separate service
// instance would have.
func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db := stdlib.OpenDBFromPool(pgtest.NewPool(t, dsn))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// appliedVersions lists goose's history rows, oldest first; a migration applied
// twice would appear twice.
func appliedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(),
		`SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id`)
	if err != nil {
		t.Fatalf("read goose history: %v", err)
	}
	defer func() { _ = rows.Close() }()
	var versions []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("scan goose history: %v", err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read goose history: %v", err)
	}
	return versions
}

func assertHistory(t *testing.T, db *sql.DB) {
	t.Helper()
	got := appliedVersions(t, db)
	var want []int64 // 0 is goose's own bootstrap row, then every migration
	for v := range int64(latestVersion + 1) {
		want = append(want, v)
	}
	if len(got) != len(want) {
		t.Fatalf("goose history = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("goose history = %v, want %v", got, want)
		}
	}
}

func assertMigrated(t *testing.T, db *sql.DB) {
	t.Helper()
	current, latest, err := postgres.MigrationStatus(t.Context(), db)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if current != latestVersion || latest != latestVersion {
		t.Fatalf("MigrationStatus = (%d, %d), want (%d, %d)", current, latest, latestVersion, latestVersion)
	}
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	db := openDB(t, pgtest.NewDatabase(t))
	for run := 1; run <= 2; run++ {
		if err := postgres.Migrate(t.Context(), db, nil); err != nil {
			t.Fatalf("Migrate run %d: %v", run, err)
		}
		assertHistory(t, db)
	}
	assertMigrated(t, db)
}

// Several instances starting at once must not apply a migration twice or trip
// over each other's DDL: goose's session advisory lock serialises them. On a
// fresh database goose's own version-table bootstrap happens to stagger the
// instances, so the upgrade case, where every instance sees the same pending
// migration and races straight into its ALTER TABLEs, is the one that would
// fail without the lock.
func TestMigrateConcurrentInstances(t *testing.T) {
	t.Parallel()
	for name, fromVersion := range map[string]int64{"fresh database": 0, "upgrade from version 1": 1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dsn := pgtest.NewDatabase(t)
			if fromVersion > 0 {
				migrateTo(t, openDB(t, dsn), fromVersion)
			}
			migrateConcurrently(t, dsn, 4)
		})
	}
}

func migrateConcurrently(t *testing.T, dsn string, instances int) {
	t.Helper()
	dbs := make([]*sql.DB, instances)
	for i := range dbs {
		dbs[i] = openDB(t, dsn)
	}
	start := make(chan struct{})
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = postgres.Migrate(t.Context(), db, nil)
		})
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Migrate: %v", i, err)
		}
	}
	assertHistory(t, dbs[0])
	assertMigrated(t, dbs[0])
}

// migrateTo applies the migrations up to version from the source files, as an
// older build of the service would have.
func migrateTo(t *testing.T, db *sql.DB, version int64) {
	t.Helper()
	if _, err := fileProvider(t, db).UpTo(t.Context(), version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
}

func fileProvider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"),
		goose.WithDisableGlobalRegistry(true), goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("goose provider: %v", err)
	}
	return provider
}

// A readiness probe must not change the database it inspects.
func TestMigrationStatusBeforeMigrateIsReadOnly(t *testing.T) {
	t.Parallel()
	db := openDB(t, pgtest.NewDatabase(t))
	current, latest, err := postgres.MigrationStatus(t.Context(), db)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if current != 0 || latest != latestVersion {
		t.Fatalf("MigrationStatus = (%d, %d), want (0, %d)", current, latest, latestVersion)
	}
	var tables int
	err = db.QueryRowContext(t.Context(),
		`SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables)
	if err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if tables != 0 {
		t.Fatalf("MigrationStatus left %d tables behind, want 0", tables)
	}
}

// A database built by hand from the README's schema is adopted, not rejected.
func TestMigrateAdoptsHandMadeSeedSchema(t *testing.T) {
	t.Parallel()
	db := openDB(t, pgtest.NewDatabase(t))
	seed, err := os.ReadFile("migrations/00001_seed_schema.sql")
	if err != nil {
		t.Fatalf("read seed migration: %v", err)
	}
	// Without goose annotations PostgreSQL sees the Up part followed by the Down
	// part's statements; run only what precedes the Down marker.
	up, _, _ := strings.Cut(string(seed), "-- +goose Down")
	if _, err := db.ExecContext(t.Context(), up); err != nil {
		t.Fatalf("apply seed by hand: %v", err)
	}
	if err := postgres.Migrate(t.Context(), db, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	assertMigrated(t, db)
}

// Down sections are only worth keeping if they work: apply all, revert all,
// apply again, reading the same files the binary embeds.
func TestMigrationsRoundTrip(t *testing.T) {
	t.Parallel()
	db := openDB(t, pgtest.NewDatabase(t))
	provider := fileProvider(t, db)
	ctx := t.Context()
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	if _, err := provider.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	var leftovers int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables
		WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'`).Scan(&leftovers)
	if err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if leftovers != 0 {
		t.Fatalf("%d tables left after down to 0, want none", leftovers)
	}
	if _, err := provider.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	assertMigrated(t, db)
}
