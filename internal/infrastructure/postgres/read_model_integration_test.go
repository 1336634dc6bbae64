//go:build integration

package postgres_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// An order's row and its lines are read from one snapshot: while a writer
// keeps adding and removing lines, every GetOrder and ListOrders answer has
// lines that add up to its total.
func TestReadsSeeOneVersionOfAnOrder(t *testing.T) {
	t.Parallel()
	const changes = 150
	cmds, queries, _ := newStoreCommands(t, 1)
	ctx := t.Context()
	created, err := cmds.CreateOrder(ctx, storeCreateFor("user-1", ""))
	storeMust(t, err)
	meta := application.CommandMeta{Actor: storeCustomer("user-1")}

	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait() // a failed check must not leave the writer running past the test
	wg.Go(func() {
		defer close(done)
		for i := range changes {
			product := fmt.Sprintf("sku-flip-%d", i%2)
			var err error
			if i%4 < 2 {
				_, err = cmds.AddOrderItem(ctx, application.AddOrderItem{Meta: meta, OrderID: created.ID.String(),
					Item: application.NewItem{ProductID: product, ProductName: "Flip", Quantity: 3, UnitPrice: "2.25"}})
			} else {
				_, err = cmds.RemoveOrderItem(ctx, application.RemoveOrderItem{Meta: meta, OrderID: created.ID.String(), ProductID: product})
			}
			if err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
		}
	})
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		got, err := queries.GetOrder(ctx, meta.Actor, created.ID.String())
		storeMust(t, err)
		storeCheckTotal(t, got)
		page, err := queries.ListOrders(ctx, application.ListOrders{Actor: meta.Actor})
		storeMust(t, err)
		for _, snap := range page.Orders {
			storeCheckTotal(t, snap)
		}
	}
	t.Logf("%d reads during %d changes", reads, changes)
}

func storeCheckTotal(t *testing.T, s order.State) {
	t.Helper()
	var sum int64
	for _, it := range s.Items {
		sum += it.Subtotal().Minor()
	}
	if sum != s.Total.Minor() {
		t.Fatalf("order %s at version %d: lines add up to %d, total is %d (%d lines)", s.ID, s.Version, sum, s.Total.Minor(), len(s.Items))
	}
}
