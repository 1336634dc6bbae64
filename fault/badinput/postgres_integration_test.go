//go:build integration

package badinput

import (
	"context"
	"maps"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

// TestBadInputPostgres repeats the suite with PostgreSQL as the store: a
// database of its own on the server pgtest names (TEST_DATABASE_URL). Some
// inputs only hurt there (PostgreSQL text cannot hold a NUL byte).
func TestBadInputPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	pool := pgtest.NewPool(t, dsn)
	env := listenEnv(t)
	maps.Copy(env, map[string]string{"DATABASE_URL": dsn, "AUTH_MODE": "off", "DATA_DIR": t.TempDir()})
	s := start(t, env)
	s.state = pgCounter{pool: pool}
	runSuite(t, s)
}

type pgCounter struct{ pool *pgxpool.Pool }

func (c pgCounter) Counts(ctx context.Context) (map[string]int64, error) {
	return countAll(ctx, func(ctx context.Context, q string) (int64, error) {
		var n int64
		err := c.pool.QueryRow(ctx, q).Scan(&n)
		return n, err
	})
}
