package sqlite

import (
	"testing"

	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

func TestSnapshotContract(t *testing.T) {
	porttest.RunSnapshots(t, func(t *testing.T) porttest.SnapshotPorts {
		s, _ := openTestStore(t)
		putRow := func(t *testing.T, id order.ID, version, schema int, data []byte) {
			t.Helper()
			_, err := s.db.ExecContext(t.Context(), `
				INSERT INTO order_snapshots (order_id, version, snapshot_version, data, created_at) VALUES (?, ?, ?, ?, 0)
				ON CONFLICT (order_id) DO UPDATE SET version = excluded.version,
				  snapshot_version = excluded.snapshot_version, data = excluded.data`,
				idBytes(id), max(version, 1), schema, data)
			if err != nil {
				t.Fatalf("plant snapshot row: %v", err)
			}
		}
		return porttest.SnapshotPorts{
			Ports:     porttest.Ports{Store: s, Read: s, Requests: s},
			Snapshots: s, PutRow: putRow, Schema: eventlog.CurrentSnapshotVersion,
		}
	})
}
