package sqlite

import (
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/porttest"
)

// BenchmarkLoadOrder: load time by history length, full replay against
// with snapshots at the default interval (the worst case it allows).
func BenchmarkLoadOrder(b *testing.B) {
	s, err := Open(b.Context(), b.TempDir()+"/orders.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	porttest.BenchmarkLoad(b, porttest.SnapshotPorts{
		Ports: porttest.Ports{Store: s, Read: s, Requests: s}, Snapshots: s,
	}, application.DefaultSnapshotEvery)
}

// BenchmarkSnapshotTail: the cost of the events left to replay after a
// snapshot, which SNAPSHOT_EVERY bounds.
func BenchmarkSnapshotTail(b *testing.B) {
	s, err := Open(b.Context(), b.TempDir()+"/orders.db", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	porttest.BenchmarkSnapshotTail(b, porttest.SnapshotPorts{
		Ports: porttest.Ports{Store: s, Read: s, Requests: s}, Snapshots: s,
	}, 1_000, []int{0, 10, 25, 50, 100, 200})
}
