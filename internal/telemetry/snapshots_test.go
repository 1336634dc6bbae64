package telemetry

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acme/order-service/internal/application"
)

func TestSnapshotObserverCountsFallbacksAndWrites(t *testing.T) {
	m := NewMetrics(ServiceInfo{ServiceName: "order-service"})
	o, err := NewSnapshotObserver(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o.SnapshotFallback(ctx, application.SnapshotReasonCorrupt)
	o.SnapshotFallback(ctx, application.SnapshotReasonCorrupt)
	o.SnapshotSaved(ctx, true)
	o.SnapshotSaved(ctx, false)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"corrupt", testutil.ToFloat64(o.fallbacks.WithLabelValues("corrupt")), 2},
		{"ahead", testutil.ToFloat64(o.fallbacks.WithLabelValues("ahead")), 0},
		{"writes ok", testutil.ToFloat64(o.writes.WithLabelValues("ok")), 1},
		{"writes failed", testutil.ToFloat64(o.writes.WithLabelValues("failed")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(o.fallbacks); n != len(snapshotReasons) {
		t.Errorf("%d fallback series, want one per reason (%d) from the start", n, len(snapshotReasons))
	}
	if _, err := NewSnapshotObserver(m); err == nil {
		t.Error("registering the snapshot instruments twice in one registry succeeded")
	}
}
