package memory

import (
	"context"
	"errors"
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// LoadSnapshot implements application.SnapshotStore. Snapshots are kept
// encoded, as the real stores keep them, so the same decoding checks apply.
func (s *FakeStore) LoadSnapshot(_ context.Context, id order.ID) (application.Snapshot, bool, error) {
	s.mu.RLock()
	row, found := s.snapshots[id]
	s.mu.RUnlock()
	if !found {
		return application.Snapshot{}, false, nil
	}
	snap, err := eventlog.DecodeSnapshot(row)
	if err != nil {
		return application.Snapshot{}, false, fmt.Errorf("load snapshot: %w", err)
	}
	return snap, true, nil
}

// SaveSnapshot implements application.SnapshotStore.
func (s *FakeStore) SaveSnapshot(_ context.Context, snap application.Snapshot) error {
	row, err := eventlog.EncodeSnapshot(snap)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots[row.OrderID] = row
	return nil
}

// PutSnapshotRow stores a snapshot row as it is, bypassing the encoding: how
// tests plant a snapshot of another schema or a corrupt one.
func (s *FakeStore) PutSnapshotRow(row eventlog.StoredSnapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots[row.OrderID] = row
}

// LoadAfter implements application.SnapshotStore.
func (s *FakeStore) LoadAfter(ctx context.Context, id order.ID, afterVersion int) ([]order.Event, error) {
	events, err := s.Load(ctx, id)
	if err != nil && !errors.Is(err, order.ErrNotFound) {
		return nil, err
	}
	if afterVersion >= len(events) {
		return nil, nil
	}
	return events[max(afterVersion, 0):], nil
}
