package outbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// fakeSource is an in-memory Source: events in publish order, a
// checkpoint, parked events and a lease the test can break.
type fakeSource struct {
	mu         sync.Mutex
	events     []outbox.Event
	checkpoint outbox.Position
	saves      int
	parked     map[order.ID]string
	failSave   error // returned by the next SaveCheckpoint, then cleared
	leaseFree  chan struct{}
	lose       context.CancelFunc
	wake       chan struct{}
}

func newFakeSource(n int) *fakeSource {
	s := &fakeSource{parked: map[order.ID]string{}, leaseFree: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	s.leaseFree <- struct{}{}
	s.add(n)
	return s
}

// add appends n events of one order, continuing its versions.
func (s *fakeSource) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		seq := int64(len(s.events) + 1)
		s.events = append(s.events, outbox.Event{
			Position: outbox.Position{TxID: uint64(seq), Seq: seq}, EventID: idOf(seq), OrderID: idOf(0),
			Type: order.TypeShippingAddressChanged, Version: int(seq), OccurredAt: time.Now().Add(-time.Minute),
		})
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func idOf(n int64) order.ID {
	var id order.ID
	id[15], id[14] = byte(n), byte(n>>8)
	id[0] = 0xee
	return id
}

func (s *fakeSource) ReadAfter(ctx context.Context, after outbox.Position, limit int) ([]outbox.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []outbox.Event
	for _, e := range s.events {
		if after.Less(e.Position) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, ctx.Err()
}

func (s *fakeSource) Checkpoint(context.Context, string) (outbox.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint, nil
}

func (s *fakeSource) SaveCheckpoint(_ context.Context, _ string, p outbox.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failSave; err != nil {
		s.failSave = nil
		return err
	}
	s.checkpoint, s.saves = p, s.saves+1
	return nil
}

func (s *fakeSource) Park(_ context.Context, e outbox.Event, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parked[e.EventID] = reason
	return nil
}

func (s *fakeSource) ParkedCount(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.parked)), nil
}

func (s *fakeSource) Backlog(_ context.Context, after outbox.Position) (int64, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	var oldest time.Time
	for _, e := range s.events {
		if after.Less(e.Position) {
			if n == 0 {
				oldest = e.OccurredAt
			}
			n++
		}
	}
	return n, oldest, nil
}

func (s *fakeSource) Notifications(ctx context.Context) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// AcquireLease hands out one lease at a time; breakLease ends it as a
// broken connection would.
func (s *fakeSource) AcquireLease(ctx context.Context, _ string) (context.Context, func(), error) {
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-s.leaseFree:
	}
	held, lose := context.WithCancel(context.Background())
	s.mu.Lock()
	s.lose = lose
	s.mu.Unlock()
	var once sync.Once
	return held, func() { once.Do(func() { lose(); s.leaseFree <- struct{}{} }) }, nil
}

func (s *fakeSource) breakLease() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose()
}

func (s *fakeSource) state() (outbox.Position, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint, s.saves, len(s.parked)
}

// fakePublisher records what it published; fail decides each call's error.
type fakePublisher struct {
	mu        sync.Mutex
	published []outbox.Event
	calls     int
	fail      func(call int, events []outbox.Event) error
	block     chan struct{} // when set, Publish waits on it (or ctx) first
	started   chan struct{} // when set, signalled as a Publish starts
}

func (p *fakePublisher) Publish(ctx context.Context, events []outbox.Event) error {
	p.mu.Lock()
	p.calls++
	call, fail, block, started := p.calls, p.fail, p.block, p.started
	p.mu.Unlock()
	if started != nil {
		select {
		case started <- struct{}{}:
		default:
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var err error
	if fail != nil {
		err = fail(call, events)
	}
	var rej *outbox.RejectedError
	if err != nil && !errors.As(err, &rej) {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range events {
		if rej == nil || rej.Rejected[e.EventID] == "" {
			p.published = append(p.published, e)
		}
	}
	return err
}

func (p *fakePublisher) versions() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := make([]int, len(p.published))
	for i, e := range p.published {
		v[i] = e.Version
	}
	return v
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func fastConfig() outbox.RelayConfig {
	return outbox.RelayConfig{
		BatchSize: 10, PollInterval: 20 * time.Millisecond, StatusInterval: 10 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		PublishTimeout: time.Second, ShutdownTimeout: time.Second,
	}
}

// start runs the relay until the test ends and returns its stop function,
// which cancels Run's context, waits for Run and returns its error.
func start(t *testing.T, r *outbox.Relay) func() error {
	t.Helper()
	cancel, wait := startCancellable(t, r)
	return func() error { cancel(); return wait() }
}

// startCancellable runs the relay and returns the cancel of its context
// and a wait for its return, separately.
func startCancellable(t *testing.T, r *outbox.Relay) (context.CancelFunc, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var err error
	wait := func() error {
		once.Do(func() {
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("Run did not return within 10s of the stop")
			}
		})
		return err
	}
	t.Cleanup(func() { cancel(); _ = wait() })
	return cancel, wait
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

func seq(from, to int) []int {
	var s []int
	for v := from; v <= to; v++ {
		s = append(s, v)
	}
	return s
}

func TestRelayPublishesInOrderAndCheckpoints(t *testing.T) {
	src := newFakeSource(25)
	pub := &fakePublisher{}
	start(t, newRelay(t, src, pub, fastConfig(), quietLogger()))

	eventually(t, 5*time.Second, "25 events published", func() bool { return len(pub.versions()) == 25 })
	src.add(5) // woken by the notification
	eventually(t, 5*time.Second, "30 events checkpointed", func() bool {
		cp, _, _ := src.state()
		return cp.Seq == 30
	})
	if got := pub.versions(); !slices.Equal(got, seq(1, 30)) {
		t.Fatalf("published versions = %v, want 1..30 in order", got)
	}
}

func TestRelayRetriesTransientFailuresFromCheckpoint(t *testing.T) {
	src := newFakeSource(10)
	pub := &fakePublisher{fail: func(call int, _ []outbox.Event) error {
		if call <= 3 {
			return errors.New("broker unreachable")
		}
		return nil
	}}
	r := newRelay(t, src, pub, fastConfig(), quietLogger())
	start(t, r)

	eventually(t, 5*time.Second, "checkpoint at 10", func() bool { cp, _, _ := src.state(); return cp.Seq == 10 })
	if got := pub.versions(); !slices.Equal(got, seq(1, 10)) {
		t.Fatalf("published versions = %v, want 1..10 once", got)
	}
	if st := r.Status(); st.LastError == "" || st.Published != 10 {
		t.Fatalf("status = %+v, want the last error kept and 10 published", st)
	}
}

func TestRelayParksRejectedEventsAndCarriesOn(t *testing.T) {
	src := newFakeSource(10)
	bad := idOf(4)
	pub := &fakePublisher{fail: func(_ int, events []outbox.Event) error {
		for _, e := range events {
			if e.EventID == bad {
				return &outbox.RejectedError{Rejected: map[order.ID]string{bad: "MESSAGE_TOO_LARGE"}}
			}
		}
		return nil
	}}
	r := newRelay(t, src, pub, fastConfig(), quietLogger())
	start(t, r)

	eventually(t, 5*time.Second, "checkpoint at 10", func() bool { cp, _, _ := src.state(); return cp.Seq == 10 })
	if _, _, parked := src.state(); parked != 1 {
		t.Fatalf("parked = %d, want 1", parked)
	}
	want := slices.DeleteFunc(seq(1, 10), func(v int) bool { return v == 4 })
	if got := pub.versions(); !slices.Equal(got, want) {
		t.Fatalf("published versions = %v, want %v", got, want)
	}
	eventually(t, 5*time.Second, "status parked 1", func() bool { return r.Status().Parked == 1 })
}

func TestRelayRepublishesWhenCheckpointFails(t *testing.T) {
	src := newFakeSource(5)
	src.failSave = errors.New("database gone")
	pub := &fakePublisher{}
	start(t, newRelay(t, src, pub, fastConfig(), quietLogger()))

	eventually(t, 5*time.Second, "checkpoint at 5", func() bool { cp, _, _ := src.state(); return cp.Seq == 5 })
	// The first batch went out, its checkpoint failed, so it went out again:
	// duplicates of the same events, in the same order, nothing missing.
	if got, want := pub.versions(), append(seq(1, 5), seq(1, 5)...); !slices.Equal(got, want) {
		t.Fatalf("published versions = %v, want %v", got, want)
	}
}

func TestRelayStopFinishesInFlightPublishAndCheckpoints(t *testing.T) {
	src := newFakeSource(5)
	pub := &fakePublisher{block: make(chan struct{}), started: make(chan struct{}, 1)}
	cancel, wait := startCancellable(t, newRelay(t, src, pub, fastConfig(), quietLogger()))
	<-pub.started

	// The stop comes first, the broker's acknowledgement after it: a relay
	// that abandoned the publish on the stop would not checkpoint it.
	cancel()
	close(pub.block)
	if err := wait(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cp, _, _ := src.state(); cp.Seq != 5 {
		t.Fatalf("checkpoint = %v after a graceful stop, want 5", cp)
	}
}

func TestRelayStopGivesUpOnHungPublishAfterShutdownTimeout(t *testing.T) {
	src := newFakeSource(5)
	pub := &fakePublisher{block: make(chan struct{}), started: make(chan struct{}, 1)}
	cfg := fastConfig()
	cfg.ShutdownTimeout, cfg.PublishTimeout = 50*time.Millisecond, time.Minute
	r := newRelay(t, src, pub, cfg, quietLogger())
	stop := start(t, r)
	<-pub.started
	defer close(pub.block)

	err := stop()
	if err == nil {
		t.Fatal("Run returned nil although the final publish never finished")
	}
	if cp, saves, _ := src.state(); saves != 0 {
		t.Fatalf("checkpoint saved (%v) for an unacknowledged publish", cp)
	}
}

func TestRelayStopsPublishingWhenLeaseIsLost(t *testing.T) {
	src := newFakeSource(3)
	pub := &fakePublisher{}
	r := newRelay(t, src, pub, fastConfig(), quietLogger())
	start(t, r)
	eventually(t, 5*time.Second, "first events", func() bool { return len(pub.versions()) == 3 })

	// The lease breaks while the publisher hangs: the publish is cancelled,
	// and the relay waits for the lease again, then resumes.
	pub.mu.Lock()
	pub.block = make(chan struct{})
	pub.mu.Unlock()
	src.add(2)
	eventually(t, 5*time.Second, "a publish in flight", func() bool { pub.mu.Lock(); defer pub.mu.Unlock(); return pub.calls >= 2 })
	src.breakLease()
	pub.mu.Lock()
	pub.block = nil
	pub.mu.Unlock()
	eventually(t, 5*time.Second, "relay resumed under a new lease", func() bool { cp, _, _ := src.state(); return cp.Seq == 5 })
	if got := pub.versions(); !slices.Equal(got, seq(1, 5)) {
		t.Fatalf("published versions = %v, want 1..5", got)
	}
}

func TestRelayStatusShowsLagWhileBrokerIsDown(t *testing.T) {
	src := newFakeSource(7)
	pub := &fakePublisher{fail: func(int, []outbox.Event) error { return errors.New("connection refused") }}
	r := newRelay(t, src, pub, fastConfig(), quietLogger())
	stop := start(t, r)

	eventually(t, 5*time.Second, "broker-unreachable with the backlog", func() bool {
		st := r.Status()
		return st.State == outbox.StateBrokerUnreachable && st.Backlog == 7 && st.SecondsBehind >= 59
	})
	pub.mu.Lock()
	pub.fail = nil
	pub.mu.Unlock()
	eventually(t, 5*time.Second, "caught-up", func() bool {
		st := r.Status()
		return st.State == outbox.StateCaughtUp && st.Backlog == 0 && st.SecondsBehind == 0 && st.Published == 7
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.State != outbox.StateWaitingForLease {
		t.Fatalf("state after stop = %s, want %s", st.State, outbox.StateWaitingForLease)
	}
}

func TestRelayWaitsForLease(t *testing.T) {
	src := newFakeSource(1)
	<-src.leaseFree // another instance holds it
	pub := &fakePublisher{}
	r := newRelay(t, src, pub, fastConfig(), quietLogger())
	stop := start(t, r)
	eventually(t, time.Second, "waiting-for-lease", func() bool { return r.Status().State == outbox.StateWaitingForLease })
	if err := stop(); err != nil {
		t.Fatalf("Run while waiting for the lease: %v", err)
	}
	if n := len(pub.versions()); n != 0 {
		t.Fatalf("published %d events without the lease", n)
	}
}

// Compile-time check that the fakes satisfy the contracts they stand for.
var (
	_ outbox.Source    = (*fakeSource)(nil)
	_ outbox.Publisher = (*fakePublisher)(nil)
)

// newRelay is outbox.NewRelay for a configuration the test knows is valid.
func newRelay(t *testing.T, src outbox.Source, pub outbox.Publisher, cfg outbox.RelayConfig, logger *slog.Logger) *outbox.Relay {
	t.Helper()
	r, err := outbox.NewRelay(src, pub, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
