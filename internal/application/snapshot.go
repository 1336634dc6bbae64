package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// SnapshotConfig turns snapshots on: loading starts from an order's latest
// usable snapshot, and a command that has taken the order Every events past
// the snapshot it loaded from writes a new one after its commit.
type SnapshotConfig struct {
	// Store keeps the snapshots; nil turns snapshots off.
	Store SnapshotStore
	// Every is the number of events between snapshots; 0 turns them off.
	Every int
	// Observer hears about fallbacks and writes (metrics); nil: nobody.
	Observer SnapshotObserver
	// Logger gets a warning for every fallback and failed write; nil: none.
	Logger *slog.Logger
}

// SnapshotObserver hears what operators count about snapshots. Like
// Observer, implementations must be quick and safe for concurrent use.
type SnapshotObserver interface {
	// SnapshotFallback reports a load that replayed the whole history
	// instead of starting from a snapshot, and why (a SnapshotReason…).
	SnapshotFallback(ctx context.Context, reason string)
	// SnapshotSaved reports a snapshot write after a commit; ok=false when
	// it failed (the order is unharmed: its next load replays more events).
	SnapshotSaved(ctx context.Context, ok bool)
}

// snapshotWriteTimeout bounds the snapshot write a command makes after its
// commit, on the caller's time: the write is best-effort and never worth a
// slow reply.
const snapshotWriteTimeout = time.Second

// snapshots applies the snapshot policy of one Commands.
type snapshots struct {
	store    SnapshotStore
	every    int
	observer SnapshotObserver
	logger   *slog.Logger
}

func newSnapshots(cfg SnapshotConfig) snapshots {
	s := snapshots{store: cfg.Store, every: cfg.Every, observer: cfg.Observer, logger: cfg.Logger}
	if s.observer == nil {
		s.observer = noSnapshotObserver{}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Validate refuses a negative interval.
func (c SnapshotConfig) Validate() error {
	if c.Every < 0 {
		return fmt.Errorf("snapshot every %d events: want 0 (off) or more", c.Every)
	}
	return nil
}

func (s snapshots) enabled() bool { return s.store != nil && s.every > 0 }

// restored is what restore found: the order from a snapshot, or why not.
type restored struct {
	order  *order.Order // nil: no usable snapshot; replay the whole history
	from   int          // the version of the snapshot the order started from
	reason string       // a SnapshotReason… when the fallback is worth reporting
	err    error        // what made the snapshot unusable
}

func unusable(reason string, err error) restored { return restored{reason: reason, err: err} }

// restore rebuilds the order from its snapshot and the events after it, up
// to version upTo (0: all of them).
func (s snapshots) restore(ctx context.Context, id order.ID, upTo int) restored {
	if !s.enabled() {
		return restored{}
	}
	snap, found, err := s.store.LoadSnapshot(ctx, id)
	var bad *SnapshotUnusableError
	switch {
	case errors.As(err, &bad):
		return unusable(bad.Reason, err)
	case err != nil:
		return unusable(SnapshotReasonError, err)
	case !found:
		return restored{}
	}
	v := snap.State.Version
	if upTo != 0 && v > upTo {
		return restored{} // later than the version asked for: of no use here, but fine
	}
	// The events from the snapshot's own version on: the event at that
	// version proves the snapshot is neither ahead of the log nor taken
	// after an event that is not the log's.
	events, err := s.store.LoadAfter(ctx, id, v-1)
	switch {
	case err != nil:
		return unusable(SnapshotReasonError, err)
	case len(events) == 0 || events[0].Header().Version != v:
		return unusable(SnapshotReasonAhead, fmt.Errorf("snapshot at version %d; the log has no event there", v))
	case !events[0].Header().OccurredAt.Equal(snap.State.UpdatedAt):
		return unusable(SnapshotReasonStale, fmt.Errorf("snapshot at version %d taken after an event of %s; the log's is of %s",
			v, snap.State.UpdatedAt, events[0].Header().OccurredAt))
	}
	events = events[1:]
	if upTo != 0 {
		events = events[:min(len(events), upTo-v)]
	}
	o, err := order.RehydrateFrom(snap.State, events)
	if err != nil {
		return unusable(SnapshotReasonReplay, err)
	}
	return restored{order: o, from: v}
}

// fellBack reports a load that could not use a snapshot.
func (s snapshots) fellBack(ctx context.Context, id order.ID, reason string, err error) {
	s.observer.SnapshotFallback(ctx, reason)
	s.logger.WarnContext(ctx, "snapshot not used, replaying the whole history",
		"order_id", id.String(), "reason", reason, "error", err)
}

// missing reports an order long enough that it should have had a
// snapshot: past Every, any successful command wrote one (CreateOrder, at
// version 1, writes none).
func (s snapshots) missing(ctx context.Context, id order.ID, version int) {
	if s.enabled() && version > s.every {
		s.fellBack(ctx, id, SnapshotReasonMissing, errors.New("no snapshot stored"))
	}
}

// afterCommit writes a snapshot of state when the order has moved Every
// events past base, the version of the snapshot it was loaded from (0 for
// none). It runs after the commit, so a crash or a failure here leaves at
// worst an older snapshot or none: more events to replay, never a wrong
// order. Failures are logged, never returned.
func (s snapshots) afterCommit(ctx context.Context, state order.State, base int, now time.Time) {
	if !s.enabled() || state.Version-base < s.every {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), snapshotWriteTimeout)
	defer cancel()
	err := s.store.SaveSnapshot(ctx, Snapshot{State: state, CreatedAt: now})
	s.observer.SnapshotSaved(ctx, err == nil)
	if err != nil {
		s.logger.WarnContext(ctx, "snapshot write failed; the order loads from an older point",
			"order_id", state.ID.String(), "version", state.Version, "error", err)
	}
}

// noSnapshotObserver is the SnapshotObserver of a config without one.
type noSnapshotObserver struct{}

func (noSnapshotObserver) SnapshotFallback(context.Context, string) {}
func (noSnapshotObserver) SnapshotSaved(context.Context, bool)      {}

// DefaultSnapshotEvery is SNAPSHOT_EVERY's default: the interval at which a
// replay of the events since the last snapshot stays a small part of a
// load's cost (see docs/BENCHMARKS.md, "Snapshots").
const DefaultSnapshotEvery = 25
