// Package memory is an in-memory implementation of the application's ports
// (event store, read model, idempotency store). It is a test double for the
// application layer's tests, held to the same contract suite as the real
// adapters; the service never stores orders in it.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// FakeStore keeps event records, projections and idempotency records in maps
// guarded by one lock, so every Append is atomic. It holds the commits to the
// same contract as the real adapters (eventlog.Prepare) and decodes its
// history through the same decoder, so a test on it exercises the encoding.
type FakeStore struct {
	mu       sync.RWMutex
	events   map[order.ID][]application.EventRecord
	orders   map[order.ID]order.State
	requests map[requestKey]application.IdempotencyRecord
	// snapshots are the encoded rows, one per order (snapshot_store.go).
	snapshots map[order.ID]eventlog.StoredSnapshot
}

type requestKey struct{ scope, requestID string }

// New returns an empty store.
func New() *FakeStore {
	return &FakeStore{
		events:    make(map[order.ID][]application.EventRecord),
		orders:    make(map[order.ID]order.State),
		requests:  make(map[requestKey]application.IdempotencyRecord),
		snapshots: make(map[order.ID]eventlog.StoredSnapshot),
	}
}

// Load implements application.EventStore.
func (s *FakeStore) Load(_ context.Context, id order.ID) ([]order.Event, error) {
	s.mu.RLock()
	records := s.events[id]
	s.mu.RUnlock()
	if len(records) == 0 {
		return nil, order.ErrNotFound
	}
	d := eventlog.NewHistoryDecoder(id)
	events := make([]order.Event, len(records))
	for i, r := range records {
		var err error
		if events[i], err = d.Decode(eventlog.Stored(r)); err != nil {
			return nil, fmt.Errorf("load order %s: %w", id, err)
		}
	}
	return events, nil
}

// Append implements application.EventStore, in the contract's order: the
// request id, then the version, then the projection.
func (s *FakeStore) Append(_ context.Context, c application.Commit) error {
	p, err := eventlog.Prepare(c)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := requestKey{}
	if r := p.Idempotency; r != nil {
		key = requestKey{r.Scope, r.RequestID}
		if _, dup := s.requests[key]; dup {
			return fmt.Errorf("append order %s: request %q: %w", c.OrderID, r.RequestID, application.ErrDuplicateRequest)
		}
	}
	if current := len(s.events[c.OrderID]); current != c.ExpectedVersion {
		return &order.ConcurrencyError{OrderID: c.OrderID, ExpectedVersion: c.ExpectedVersion, CurrentVersion: current}
	}
	if r := p.Idempotency; r != nil {
		s.requests[key] = *r
	}
	// Appending never rewrites the records a reader's slice already holds.
	s.events[c.OrderID] = append(s.events[c.OrderID], p.Records...)
	state := c.State.Clone()
	if !p.ItemsChanged {
		state.Items = slices.Clone(s.orders[c.OrderID].Items)
	}
	s.orders[c.OrderID] = state
	return nil
}

// GetOrder implements application.ReadModel.
func (s *FakeStore) GetOrder(_ context.Context, id order.ID) (order.State, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap, ok := s.orders[id]
	if !ok {
		return order.State{}, order.ErrNotFound
	}
	return snap.Clone(), nil
}

// ListOrders implements application.ReadModel.
func (s *FakeStore) ListOrders(_ context.Context, f application.OrderFilter) ([]order.State, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []order.State
	for _, snap := range s.orders {
		if snap.UserID != f.UserID || (f.Status != "" && snap.Status != f.Status) {
			continue
		}
		if f.After != nil && !olderThan(snap, *f.After) {
			continue
		}
		out = append(out, snap.Clone())
	}
	slices.SortFunc(out, func(a, b order.State) int {
		return -cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.ID[:], b.ID[:]))
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// olderThan reports whether snap sorts after the cursor in newest-first order.
func olderThan(snap order.State, c application.OrderCursor) bool {
	if !snap.CreatedAt.Equal(c.CreatedAt) {
		return snap.CreatedAt.Before(c.CreatedAt)
	}
	return bytes.Compare(snap.ID[:], c.ID[:]) < 0
}

// ListOrderEvents implements application.ReadModel.
func (s *FakeStore) ListOrderEvents(_ context.Context, id order.ID, afterVersion, limit int) ([]application.EventRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	events := s.events[id]
	if afterVersion >= len(events) {
		return nil, nil
	}
	events = events[afterVersion:]
	if len(events) > limit {
		events = events[:limit]
	}
	return slices.Clone(events), nil
}

// FindRequest implements application.IdempotencyStore.
func (s *FakeStore) FindRequest(_ context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.requests[requestKey{scope, requestID}]
	return rec, ok, nil
}

// DeleteRequestsBefore implements application.IdempotencyStore.
func (s *FakeStore) DeleteRequestsBefore(_ context.Context, cutoff time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, rec := range s.requests {
		if rec.CreatedAt.Before(cutoff) {
			delete(s.requests, k)
			n++
		}
	}
	return n, nil
}
