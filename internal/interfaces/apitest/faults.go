package apitest

import (
	"context"
	"sync"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

// Hook runs before the store touches an order; a non-nil error is returned
// instead of the store's answer. It may also panic or inspect ctx.
type Hook func(ctx context.Context) error

// Faults is the in-memory store with per-order hooks on the calls the
// command and query paths start with (EventStore.Load, ReadModel.GetOrder).
type Faults struct {
	*memory.FakeStore

	mu    sync.Mutex
	hooks map[order.ID]Hook
}

// NewFaults returns an empty store without hooks.
func NewFaults() *Faults {
	return &Faults{FakeStore: memory.New(), hooks: make(map[order.ID]Hook)}
}

// Inject sets the hook of an order id.
func (f *Faults) Inject(id order.ID, h Hook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[id] = h
}

func (f *Faults) run(ctx context.Context, id order.ID) error {
	f.mu.Lock()
	h := f.hooks[id]
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(ctx)
}

// Load implements application.EventStore.
func (f *Faults) Load(ctx context.Context, id order.ID) ([]order.Event, error) {
	if err := f.run(ctx, id); err != nil {
		return nil, err
	}
	return f.FakeStore.Load(ctx, id)
}

// GetOrder implements application.ReadModel.
func (f *Faults) GetOrder(ctx context.Context, id order.ID) (order.State, error) {
	if err := f.run(ctx, id); err != nil {
		return order.State{}, err
	}
	return f.FakeStore.GetOrder(ctx, id)
}
