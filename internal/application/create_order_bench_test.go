package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

// discardStore accepts every commit and keeps nothing: with it the
// benchmark measures request mapping, validation and the domain decision
// alone, without the store's encoding and bookkeeping.
type discardStore struct{}

func (discardStore) Load(context.Context, order.ID) ([]order.Event, error) {
	return nil, order.ErrNotFound
}

func (discardStore) Append(context.Context, application.Commit) error { return nil }

var createSink order.State

func BenchmarkCreateOrder(b *testing.B) {
	cmd := application.CreateOrder{
		Meta:   application.CommandMeta{Actor: application.Actor{ID: "user-1", Role: application.RoleCustomer}},
		UserID: "user-1", ShippingAddress: "1 Main St\nSpringfield", Currency: "EUR",
		Items: []application.NewItem{
			{ProductID: "sku-1", ProductName: "Widget", Quantity: 2, UnitPrice: "19.99"},
			{ProductID: "sku-2", ProductName: "Gadget", Quantity: 1, UnitPrice: "5"},
			{ProductID: "sku-3", ProductName: "Gizmo", Quantity: 3, UnitPrice: "2.50"},
		},
	}
	stores := []struct {
		name  string
		store func() application.EventStore
	}{
		// The whole write path on the in-memory adapter, which also encodes
		// each event with protomap.MarshalEvent as a real store would.
		{"store=memory", func() application.EventStore { return memory.New() }},
		{"store=discard", func() application.EventStore { return discardStore{} }},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			cmds := application.NewCommands(s.store(), memory.New(), apptest.NewStepClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), 0), apptest.NewSeqIDs(0xbe), application.CommandsConfig{})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				snap, err := cmds.CreateOrder(ctx, cmd)
				if err != nil {
					b.Fatal(err)
				}
				createSink = snap
			}
		})
	}
}
