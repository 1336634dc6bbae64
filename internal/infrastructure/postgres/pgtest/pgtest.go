// Package pgtest gives integration tests a PostgreSQL database of their own.
//
// Every NewDatabase call creates a fresh, uniquely named database on the server
// named by TEST_DATABASE_URL and drops it when the test ends, so test packages
// and tests can run in parallel under `go test ./...` without sharing rows.
// An unreachable server fails the test loudly: a skipped integration test
// proves nothing.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/acme/order-service/internal/infrastructure/postgres"
)

// EnvAdminURL names the variable holding the admin connection URL; the role it
// names must be allowed to CREATE and DROP databases.
const EnvAdminURL = "TEST_DATABASE_URL"

// DefaultAdminURL is used when EnvAdminURL is unset: the local trust-auth server.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// databasePrefix marks databases this package created, so a leftover from a
// killed test run is easy to recognise and drop by hand.
const databasePrefix = "ordertest_"

// setupTimeout bounds each administrative step, so a hung server fails the test
// instead of stalling it until the global go test timeout.
const setupTimeout = 30 * time.Second

// AdminURL returns the admin connection URL from the environment, or the default.
func AdminURL() string {
	if v := os.Getenv(EnvAdminURL); v != "" {
		return v
	}
	return DefaultAdminURL
}

// NewDatabase creates an empty database for the calling test, registers its
// removal (WITH (FORCE), so leaked connections cannot block it) and returns its DSN.
func NewDatabase(t testing.TB) (dsn string) {
	t.Helper()
	admin := AdminURL()
	name, err := randomName()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := execAdmin(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	dsn, err = withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// NewPool opens a pgx pool on dsn, checks it reaches the server and closes it
// when the test ends (before the database is dropped, as cleanups run LIFO).
func NewPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pgtest: ping pool: %v", err)
	}
	return pool
}

// NewMigratedPool is NewDatabase + NewPool + postgres.Migrate: a pool on a
// fresh database holding the service's latest schema.
func NewMigratedPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool := NewPool(t, NewDatabase(t))
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }() // leaves the pool open
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := postgres.Migrate(ctx, db, logger); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return pool
}

// execAdmin runs one statement on a short-lived admin connection. CREATE and
// DROP DATABASE cannot run inside a transaction, hence a plain connection.
func execAdmin(ctx context.Context, admin, statement string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL at %s (set %s, or start the server with scripts/ensure-postgres.sh): %w",
			redact(admin), EnvAdminURL, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, statement); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}

// dropDatabase runs at cleanup, when the test's own context is already
// cancelled, so it makes its own.
func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	statement := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if err := execAdmin(ctx, admin, statement); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

// randomName returns ordertest_ plus 16 hex digits: enough entropy that
// concurrent packages never collide, short enough for NAMEDATALEN (63).
func randomName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return databasePrefix + hex.EncodeToString(b[:]), nil
}

// withDatabase points the admin DSN at another database, keeping every other
// setting (host, user, password, sslmode, ...). Both libpq forms are accepted.
func withDatabase(admin, name string) (string, error) {
	if !isURL(admin) {
		// In keyword/value form a later key overrides an earlier one.
		return admin + " dbname=" + name, nil
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", EnvAdminURL, err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// redact hides a password before the URL reaches test output.
func redact(admin string) string {
	if !isURL(admin) {
		return "(" + EnvAdminURL + ")"
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "(" + EnvAdminURL + ")"
	}
	return u.Redacted()
}

func isURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
