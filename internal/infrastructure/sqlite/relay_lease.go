package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// leases holds one slot per relay name. The lease is in-process: the lock
// file already makes this process the only one using the database, so
// relays of other processes cannot exist.
type leases struct {
	mu    sync.Mutex
	slots map[string]chan struct{}
}

func (l *leases) slot(relay string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.slots == nil {
		l.slots = make(map[string]chan struct{})
	}
	slot, ok := l.slots[relay]
	if !ok {
		slot = make(chan struct{}, 1)
		l.slots[relay] = slot
	}
	return slot
}

// AcquireLease implements outbox.Source. It blocks while another relay of
// the same name holds the lease. The held context ends when ctx ends, when
// release is called or when the store closes; the lease is freed then.
func (s *EmbeddedStore) AcquireLease(ctx context.Context, relay string) (context.Context, func(), error) {
	if s.alive.Err() != nil {
		return nil, nil, fmt.Errorf("acquire lease of relay %q: %w", relay, errClosed)
	}
	slot := s.leases.slot(relay)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("acquire lease of relay %q: %w", relay, ctx.Err())
	case <-s.alive.Done():
		return nil, nil, fmt.Errorf("acquire lease of relay %q: %w", relay, errClosed)
	}
	held, cancel := context.WithCancel(ctx)
	stopWatch := context.AfterFunc(s.alive, cancel)
	var once sync.Once
	free := func() {
		once.Do(func() {
			stopWatch()
			<-slot
		})
	}
	// Freed however the lease ends, so a relay that only sees its context end
	// never strands the lease.
	context.AfterFunc(held, free)
	release := func() {
		cancel()
		free() // at once, so an immediate re-acquire does not wait
	}
	return held, release, nil
}

// errClosed reports use of a closed store.
var errClosed = errors.New("sqlite store is closed")
