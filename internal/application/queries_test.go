package application_test

import (
	"context"
	"errors"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

func TestListOrdersPagesEachOrderOnce(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	created := map[order.ID]bool{}
	for range 23 {
		created[createFor(t, h, alice, "").ID] = true
	}
	createFor(t, h, bob, "")

	seen := map[order.ID]bool{}
	var last order.State
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := h.queries.ListOrders(ctx, application.ListOrders{Actor: alice, PageSize: 5, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Orders {
			if seen[o.ID] || !created[o.ID] {
				t.Fatalf("order %s listed twice or not alice's", o.ID)
			}
			if !last.CreatedAt.IsZero() && o.CreatedAt.After(last.CreatedAt) {
				t.Fatalf("order %s is newer than the one before it", o.ID)
			}
			seen[o.ID], last = true, o
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != len(created) {
		t.Fatalf("listed %d orders, want %d", len(seen), len(created))
	}
}

func TestPageTokensAreCheckedAgainstTheQuery(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	for range 3 {
		createFor(t, h, alice, "")
	}
	page, err := h.queries.ListOrders(ctx, application.ListOrders{Actor: alice, PageSize: 1})
	if err != nil || page.NextPageToken == "" {
		t.Fatalf("first page: %v, token %q", err, page.NextPageToken)
	}
	tests := []struct {
		name string
		in   application.ListOrders
	}{
		{"garbage", application.ListOrders{Actor: alice, PageToken: "not a token!"}},
		{"truncated", application.ListOrders{Actor: alice, PageToken: page.NextPageToken[:len(page.NextPageToken)/2]}},
		{"other status filter", application.ListOrders{Actor: alice, Status: "PAID", PageToken: page.NextPageToken}},
		{"another user's query", application.ListOrders{Actor: staff, UserID: "bob", PageToken: page.NextPageToken}},
		{"negative page size", application.ListOrders{Actor: alice, PageSize: -1}},
		{"unknown status", application.ListOrders{Actor: alice, Status: "LOST"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.queries.ListOrders(ctx, tc.in)
			var invalid *order.ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("error = %v, want a validation error", err)
			}
		})
	}
}

func TestListOrderEventsPagesTheHistory(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	snap := createFor(t, h, alice, "")
	for _, addr := range []string{"a", "b", "c", "d"} {
		if _, err := h.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{
			Meta: application.CommandMeta{Actor: alice}, OrderID: snap.ID.String(), ShippingAddress: addr,
		}); err != nil {
			t.Fatal(err)
		}
	}
	var versions []int
	token := ""
	for {
		page, err := h.queries.ListOrderEvents(ctx, application.ListOrderEvents{Actor: alice, OrderID: snap.ID.String(), PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			versions = append(versions, e.Version)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(versions) != 5 || versions[0] != 1 || versions[4] != 5 {
		t.Fatalf("paged versions %v, want 1..5", versions)
	}
	if _, err := h.queries.ListOrderEvents(ctx, application.ListOrderEvents{Actor: bob, OrderID: snap.ID.String()}); !errors.Is(err, order.ErrNotFound) {
		t.Fatalf("bob reads alice's history: %v, want not found", err)
	}
}
