package porttest

import (
	"context"
	"fmt"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
)

// LoadBenchLengths are the history lengths BenchmarkLoad measures.
var LoadBenchLengths = []int{10, 100, 1_000, 10_000}

// BenchmarkLoad measures loading one order of each history length the way
// the command handlers do: by full replay (Load and Rehydrate), and with
// snapshots written every `every` events, in the worst case the policy
// allows: the snapshot every-1 events before the end, or, for an order too
// short to have one, a snapshot lookup that misses and a full replay.
// Histories are built straight through the store, in commits of up to 500
// events.
func BenchmarkLoad(b *testing.B, p SnapshotPorts, every int) {
	ctx := context.Background()
	for i, n := range LoadBenchLengths {
		tail := every - 1
		if n < every {
			tail = n // no snapshot
		}
		id, _ := buildHistory(b, p, byte(0x40+i), n, tail)
		b.Run(fmt.Sprintf("events=%d/full", n), func(b *testing.B) {
			for b.Loop() {
				loadFull(ctx, b, p, id)
			}
		})
		b.Run(fmt.Sprintf("events=%d/snapshots_every=%d", n, every), func(b *testing.B) {
			for b.Loop() {
				if !loadFromSnapshot(ctx, b, p, id, n) {
					loadFull(ctx, b, p, id)
				}
			}
		})
	}
}

func loadFull(ctx context.Context, b *testing.B, p SnapshotPorts, id order.ID) {
	history, err := p.Store.Load(ctx, id)
	must(b, err)
	_, err = order.Rehydrate(history)
	must(b, err)
}

// buildHistory appends an order of n events (OrderCreated, then quantity
// changes) and, when tail < n, a snapshot tail events before its end.
func buildHistory(b *testing.B, p SnapshotPorts, prefix byte, n, tail int) (order.ID, int) {
	b.Helper()
	f := apptest.NewOrders(b, prefix)
	o := f.NewOrder("user-1")
	snapshotAt := n - tail
	from := 0
	for v := 1; v <= n; v++ {
		if v > 1 {
			must(b, o.ChangeItemQuantity("sku-1", int64(1+v%2), f.Tick()))
		}
		if v == snapshotAt || v == n || v-from == 500 {
			appendOK(b, p.Ports, f.Commit(o, from, ""))
			from = v
		}
		if v == snapshotAt {
			must(b, p.Snapshots.SaveSnapshot(context.Background(), application.Snapshot{State: o.State(), CreatedAt: f.Now()}))
		}
	}
	return o.ID(), snapshotAt
}

// BenchmarkSnapshotTail measures loading an order of n events from a
// snapshot each of tails events before its end: the cost of the events a
// snapshot interval leaves to replay.
func BenchmarkSnapshotTail(b *testing.B, p SnapshotPorts, n int, tails []int) {
	ctx := context.Background()
	for i, tail := range tails {
		id, _ := buildHistory(b, p, byte(0x60+i), n, tail)
		b.Run(fmt.Sprintf("events=%d/tail=%d", n, tail), func(b *testing.B) {
			for b.Loop() {
				if !loadFromSnapshot(ctx, b, p, id, n) {
					b.Fatal("no snapshot")
				}
			}
		})
	}
}

// loadFromSnapshot is the command handlers' load from a snapshot; false
// when there is none.
func loadFromSnapshot(ctx context.Context, b *testing.B, p SnapshotPorts, id order.ID, want int) bool {
	snap, found, err := p.Snapshots.LoadSnapshot(ctx, id)
	must(b, err)
	if !found {
		return false
	}
	after, err := p.Snapshots.LoadAfter(ctx, id, snap.State.Version-1)
	must(b, err)
	o, err := order.RehydrateFrom(snap.State, after[1:])
	must(b, err)
	if o.Version() != want {
		b.Fatalf("loaded version %d, want %d", o.Version(), want)
	}
	return true
}
