//go:build integration

package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/postgres"
)

// The checker finds each kind of damage, on the order that has it, and only
// there.
func TestCheckConsistencyFindsCorruption(t *testing.T) {
	t.Parallel()
	store, pool := newTestStore(t)
	ctx := t.Context()
	var ids []order.ID
	for range 6 {
		o := storeOrder(t, "user-1")
		storeMust(t, store.Append(ctx, storeCommit(o, 0, "")))
		storeMust(t, o.Confirm(time.Now()))
		storeMust(t, o.Pay(o.State().Total, "ref", time.Now()))
		storeMust(t, store.Append(ctx, storeCommit(o, 1, "")))
		ids = append(ids, o.ID())
	}
	storeConsistent(t, pool)

	corruptions := []struct {
		sql  string
		want string // in the problem reported for that order
	}{
		{`UPDATE orders SET total_amount = total_amount + 1 WHERE id = $1`, "total"},
		{`UPDATE orders SET version = 2 WHERE id = $1`, "orders.version 2, last event version 3"},
		{`DELETE FROM order_events WHERE aggregate_id = $1 AND version = 2`, "are not 1..2"},
		{`UPDATE order_items SET subtotal = 0 WHERE order_id = $1 AND line_no = 1`, "items[0].subtotal"},
		{`UPDATE orders SET status = 'SHIPPED' WHERE id = $1`, "status"},
	}
	for i, c := range corruptions {
		_, err := pool.Exec(ctx, c.sql, ids[i])
		storeMust(t, err)
	}
	report, err := postgres.CheckConsistency(ctx, pool)
	storeMust(t, err)
	if report.Orders != len(ids) || report.Histories != len(ids) || report.Events != 3*len(ids)-1 {
		t.Errorf("checked %d orders, %d histories, %d events; want %d, %d, %d",
			report.Orders, report.Histories, report.Events, len(ids), len(ids), 3*len(ids)-1)
	}
	found := map[order.ID]string{}
	for _, p := range report.Problems {
		found[p.OrderID] += p.String() + "\n"
	}
	for i, c := range corruptions {
		if !strings.Contains(found[ids[i]], c.want) {
			t.Errorf("corruption %q: problems for order %d = %q, want one mentioning %q", c.sql, i, found[ids[i]], c.want)
		}
	}
	if p := found[ids[len(ids)-1]]; p != "" {
		t.Errorf("the untouched order is reported: %s", p)
	}
	if report.ProblemCount != len(report.Problems) || report.Clean() {
		t.Errorf("ProblemCount = %d for %d listed problems", report.ProblemCount, len(report.Problems))
	}
}
