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
	"github.com/acme/order-service/internal/protomap"
)

// Store keeps events, projections and idempotency records in maps guarded by
// one lock, so every Append is atomic.
type Store struct {
	mu       sync.RWMutex
	events   map[order.ID][]application.EventRecord
	decoded  map[order.ID][]order.Event
	orders   map[order.ID]order.Snapshot
	requests map[requestKey]application.IdempotencyRecord
}

type requestKey struct{ scope, requestID string }

// New returns an empty store.
func New() *Store {
	return &Store{
		events:   make(map[order.ID][]application.EventRecord),
		decoded:  make(map[order.ID][]order.Event),
		orders:   make(map[order.ID]order.Snapshot),
		requests: make(map[requestKey]application.IdempotencyRecord),
	}
}

// Load implements application.EventStore.
func (s *Store) Load(_ context.Context, id order.ID) ([]order.Event, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	events, ok := s.decoded[id]
	if !ok {
		return nil, order.ErrNotFound
	}
	return slices.Clone(events), nil
}

// Append implements application.EventStore.
func (s *Store) Append(_ context.Context, c application.Commit) error {
	records, err := encode(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if current := len(s.decoded[c.OrderID]); current != c.ExpectedVersion {
		return &order.ConcurrencyError{OrderID: c.OrderID, ExpectedVersion: c.ExpectedVersion, CurrentVersion: current}
	}
	if r := c.Idempotency; r != nil {
		if _, dup := s.requests[requestKey{r.Scope, r.RequestID}]; dup {
			return application.ErrDuplicateRequest
		}
		s.requests[requestKey{r.Scope, r.RequestID}] = *r
	}
	for _, e := range c.Events {
		s.decoded[c.OrderID] = append(s.decoded[c.OrderID], e.Event)
	}
	s.events[c.OrderID] = append(s.events[c.OrderID], records...)
	s.orders[c.OrderID] = c.State.Clone()
	return nil
}

// encode checks the commit's versions and turns its events into history
// records, as a real store would serialise them.
func encode(c application.Commit) ([]application.EventRecord, error) {
	records := make([]application.EventRecord, len(c.Events))
	for i, e := range c.Events {
		h := e.Event.Header()
		if h.OrderID != c.OrderID || h.Version != c.ExpectedVersion+i+1 {
			return nil, fmt.Errorf("append order %s: event %d has order %s version %d", c.OrderID, i, h.OrderID, h.Version)
		}
		data, err := protomap.MarshalEvent(e.Event)
		if err != nil {
			return nil, fmt.Errorf("append order %s: %w", c.OrderID, err)
		}
		records[i] = application.EventRecord{
			EventID: e.ID, OrderID: c.OrderID, Type: e.Event.EventType(), Version: h.Version,
			OccurredAt: h.OccurredAt, Data: data, Metadata: e.Metadata,
		}
	}
	return records, nil
}

// GetOrder implements application.ReadModel.
func (s *Store) GetOrder(_ context.Context, id order.ID) (order.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap, ok := s.orders[id]
	if !ok {
		return order.Snapshot{}, order.ErrNotFound
	}
	return snap.Clone(), nil
}

// ListOrders implements application.ReadModel.
func (s *Store) ListOrders(_ context.Context, f application.OrderFilter) ([]order.Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []order.Snapshot
	for _, snap := range s.orders {
		if snap.UserID != f.UserID || (f.Status != "" && snap.Status != f.Status) {
			continue
		}
		if f.After != nil && !olderThan(snap, *f.After) {
			continue
		}
		out = append(out, snap.Clone())
	}
	slices.SortFunc(out, func(a, b order.Snapshot) int {
		return -cmp.Or(a.CreatedAt.Compare(b.CreatedAt), bytes.Compare(a.ID[:], b.ID[:]))
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// olderThan reports whether snap sorts after the cursor in newest-first order.
func olderThan(snap order.Snapshot, c application.OrderCursor) bool {
	if !snap.CreatedAt.Equal(c.CreatedAt) {
		return snap.CreatedAt.Before(c.CreatedAt)
	}
	return bytes.Compare(snap.ID[:], c.ID[:]) < 0
}

// ListOrderEvents implements application.ReadModel.
func (s *Store) ListOrderEvents(_ context.Context, id order.ID, afterVersion, limit int) ([]application.EventRecord, error) {
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
func (s *Store) FindRequest(_ context.Context, scope, requestID string) (application.IdempotencyRecord, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rec, ok := s.requests[requestKey{scope, requestID}]
	return rec, ok, nil
}

// DeleteRequestsBefore implements application.IdempotencyStore.
func (s *Store) DeleteRequestsBefore(_ context.Context, cutoff time.Time) (int64, error) {
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
