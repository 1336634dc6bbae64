package memory_test

import (
	"testing"

	"github.com/acme/order-service/internal/application/porttest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

func TestSnapshotContract(t *testing.T) {
	porttest.RunSnapshots(t, func(*testing.T) porttest.SnapshotPorts {
		s := memory.New()
		return porttest.SnapshotPorts{
			Ports: porttest.Ports{Store: s, Read: s, Requests: s}, Snapshots: s,
			PutRow: func(_ *testing.T, id order.ID, version, schema int, data []byte) {
				s.PutSnapshotRow(eventlog.StoredSnapshot{OrderID: id, Version: version, SchemaVersion: schema, Data: data})
			},
			Schema: eventlog.CurrentSnapshotVersion,
		}
	})
}
