//go:build integration

package postgres_test

import (
	"fmt"
	"testing"

	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

// BenchmarkAppendCreate measures concurrent CreateOrder-shaped Appends
// (32 writers on 2 cores) with group commit off and in a few shapes, and
// reports the commits per transaction it reached. A benchmark, not a test:
// the numbers go to docs/BENCHMARKS.md, nothing asserts them.
//
//	go test -tags integration -run '^$' -bench AppendCreate -benchtime 5s ./internal/infrastructure/postgres/
func BenchmarkAppendCreate(b *testing.B) {
	configs := []struct {
		name string
		opt  postgres.Option
	}{
		{"alone", postgres.WithoutGroupCommit()},
		{"batch32x1", postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 32, Flushers: 1})},
		{"batch32x2", postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 32, Flushers: 2})},
		{"batch32x4", postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 32, Flushers: 4})},
		{"batch64x2", postgres.WithGroupCommit(postgres.GroupCommitConfig{MaxBatch: 64, Flushers: 2})},
	}
	for _, cfg := range configs {
		b.Run(cfg.name, func(b *testing.B) {
			pool := pgtest.NewMigratedPool(b)
			store := postgres.NewOrderStore(pool, cfg.opt)
			t := &testing.T{}
			b.SetParallelism(16) // 32 writers with GOMAXPROCS=2
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					o := storeOrder(t, "user-1")
					if err := store.Append(b.Context(), storeCommit(o, 0, fmt.Sprintf("req-%p-%d", pb, i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			st := store.GroupCommitStats()
			if st.Batches > 0 {
				b.ReportMetric(float64(st.Commits)/float64(st.Batches), "commits/tx")
			}
		})
	}
}
