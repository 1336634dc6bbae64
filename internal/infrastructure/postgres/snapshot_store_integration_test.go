//go:build integration

package postgres_test

import (
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

func TestSnapshotContract(t *testing.T) {
	t.Parallel()
	porttest.RunSnapshots(t, func(t *testing.T) porttest.SnapshotPorts {
		store, pool := newTestStore(t)
		putRow := func(t *testing.T, id order.ID, version, schema int, data []byte) {
			t.Helper()
			_, err := pool.Exec(t.Context(), `
				INSERT INTO order_snapshots (order_id, version, snapshot_version, data) VALUES ($1, $2, $3, $4)
				ON CONFLICT (order_id) DO UPDATE SET version = excluded.version,
				  snapshot_version = excluded.snapshot_version, data = excluded.data`,
				id, max(version, 1), schema, data)
			if err != nil {
				t.Fatalf("plant snapshot row: %v", err)
			}
		}
		return porttest.SnapshotPorts{
			Ports:     porttest.Ports{Store: store, Read: store, Requests: store},
			Snapshots: store, PutRow: putRow, Schema: eventlog.CurrentSnapshotVersion,
		}
	})
}

// BenchmarkLoadOrder: load time by history length, full replay against
// with snapshots at the default interval (the worst case it allows).
func BenchmarkLoadOrder(b *testing.B) {
	store := postgres.NewOrderStore(pgtest.NewMigratedPool(b))
	porttest.BenchmarkLoad(b, porttest.SnapshotPorts{
		Ports: porttest.Ports{Store: store, Read: store, Requests: store}, Snapshots: store,
	}, application.DefaultSnapshotEvery)
}
