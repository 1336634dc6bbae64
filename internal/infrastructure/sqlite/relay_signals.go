package sqlite

import (
	"context"
	"sync"
)

// signals fans "events were committed" out to the relay's subscriptions.
type signals struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// Notifications implements outbox.Source: the channel receives a signal after
// each successful Append commit and closes when ctx ends. It buffers one
// signal and sends never block, so a busy relay sees one pending wake-up for
// any number of commits and Append never waits on a reader; the relay also
// polls, so nothing depends on a signal arriving.
func (s *EmbeddedStore) Notifications(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.signals.add(ch)
	context.AfterFunc(ctx, func() { s.signals.remove(ch) })
	return ch
}

func (g *signals) add(ch chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.subs == nil {
		g.subs = make(map[chan struct{}]struct{})
	}
	g.subs[ch] = struct{}{}
}

// remove closes the channel under the lock notify sends under, so a send
// never hits a closed channel.
func (g *signals) remove(ch chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.subs, ch)
	close(ch)
}

func (g *signals) notify() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for ch := range g.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}
