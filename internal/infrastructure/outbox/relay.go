package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/settings"
)

// RelayConfig tunes a Relay. Zero fields take the values of
// DefaultRelayConfig.
type RelayConfig struct {
	// Name identifies the relay's checkpoint and lease; relays that share a
	// name share one stream.
	Name string
	// BatchSize bounds the events read and published at once.
	BatchSize int
	// PollInterval is how often the relay looks for events when no
	// notification woke it: the fallback for lost notifications.
	PollInterval time.Duration
	// StatusInterval is how often the backlog behind Status is measured.
	StatusInterval time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failure; the
	// delay doubles per consecutive failure, with full jitter.
	MinBackoff, MaxBackoff time.Duration
	// PublishTimeout bounds one publish attempt; a publish running longer
	// also shows as broker-unreachable in Status.
	PublishTimeout time.Duration
	// ShutdownTimeout is how long a stopping relay waits for its in-flight
	// publish and checkpoint.
	ShutdownTimeout time.Duration
}

// MaxRelayBatchSize bounds RelayConfig.BatchSize.
const MaxRelayBatchSize = 10_000

// DefaultRelayConfig is the configuration zero fields fall back to.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{
		Name: "kafka", BatchSize: 500, PollInterval: time.Second, StatusInterval: 5 * time.Second,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second,
		PublishTimeout: 30 * time.Second, ShutdownTimeout: 10 * time.Second,
	}
}

// Validate refuses settings no deployment means: negative sizes or
// durations, a batch above MaxRelayBatchSize, a MinBackoff above the
// MaxBackoff (zero fields count as their defaults).
func (c RelayConfig) Validate() error {
	var errs []error
	if c.BatchSize < 0 || c.BatchSize > MaxRelayBatchSize {
		errs = append(errs, fmt.Errorf("batch size %d: want 1 to %d (0 for the default)", c.BatchSize, MaxRelayBatchSize))
	}
	errs = append(errs, settings.NegativeDurations(
		settings.Duration{Name: "poll interval", Value: c.PollInterval}, settings.Duration{Name: "status interval", Value: c.StatusInterval},
		settings.Duration{Name: "min backoff", Value: c.MinBackoff}, settings.Duration{Name: "max backoff", Value: c.MaxBackoff},
		settings.Duration{Name: "publish timeout", Value: c.PublishTimeout}, settings.Duration{Name: "shutdown timeout", Value: c.ShutdownTimeout},
	)...)
	if d := c.withDefaults(); d.MinBackoff > d.MaxBackoff {
		errs = append(errs, fmt.Errorf("min backoff %s is above max backoff %s", d.MinBackoff, d.MaxBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("relay config: %w", err)
	}
	return nil
}

func (c RelayConfig) withDefaults() RelayConfig {
	d := DefaultRelayConfig()
	def := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	if c.Name == "" {
		c.Name = d.Name
	}
	if c.BatchSize <= 0 {
		c.BatchSize = d.BatchSize
	}
	def(&c.PollInterval, d.PollInterval)
	def(&c.StatusInterval, d.StatusInterval)
	def(&c.MinBackoff, d.MinBackoff)
	def(&c.MaxBackoff, d.MaxBackoff)
	def(&c.PublishTimeout, d.PublishTimeout)
	def(&c.ShutdownTimeout, d.ShutdownTimeout)
	return c
}

// Relay moves committed events from a Source to a Publisher, in publish
// order, at least once. Only the instance holding the lease publishes.
type Relay struct {
	src    Source
	pub    Publisher
	cfg    RelayConfig
	logger *slog.Logger
	status statusBoard
}

// NewRelay returns a relay; Run starts it. It fails when cfg does not
// validate.
func NewRelay(src Source, pub Publisher, cfg RelayConfig, logger *slog.Logger) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Relay{src: src, pub: pub, cfg: cfg, logger: logger.With("relay", cfg.Name)}, nil
}

// Status reports how the relay is doing; it is safe for concurrent use.
func (r *Relay) Status() RelayStatus {
	return r.status.snapshot(time.Now(), r.cfg.PublishTimeout)
}

// Run relays until ctx ends: it waits for the lease, publishes while it
// holds it, and waits again if it loses it. On ctx's end it lets the
// in-flight publish finish (within ShutdownTimeout), saves the checkpoint
// and releases the lease. It returns nil after a clean stop, and an error
// when the final checkpoint could not be saved (the next run republishes
// those events: duplicates, never a loss).
func (r *Relay) Run(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		r.status.setLeading(false)
		held, release, err := r.src.AcquireLease(ctx, r.cfg.Name)
		if ctx.Err() != nil {
			if err == nil {
				release()
			}
			return nil
		}
		if err != nil {
			r.fail("acquire lease", err)
			if !r.backoff(ctx, attempt) {
				return nil
			}
			continue
		}
		attempt = 0
		err = r.lead(ctx, held)
		release()
		if ctx.Err() != nil {
			return err
		}
		r.logger.Warn("outbox relay lost its lease; waiting to acquire it again", "err", err)
	}
}

// lead publishes while the lease is held. It returns when the lease is
// lost (nil) or ctx ends (the error of the final checkpoint, if any).
func (r *Relay) lead(ctx, held context.Context) error {
	r.status.setLeading(true)
	defer r.status.setLeading(false)
	pos, ok := r.loadCheckpoint(ctx, held)
	if !ok {
		return nil
	}
	r.logger.Info("outbox relay leading", "checkpoint", pos)
	r.status.resetPosition(pos)
	// Both helpers end with the lease, or with the stop.
	scope, endScope := context.WithCancel(held)
	defer endScope()
	stopAfter := context.AfterFunc(ctx, endScope)
	defer stopAfter()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { r.watchBacklog(scope) })
	wake := r.src.Notifications(scope)
	return r.loop(ctx, held, scope, pos, wake)
}

// loop reads, publishes and checkpoints until the lease is lost or ctx ends
// (scope ends on either).
func (r *Relay) loop(ctx, held, scope context.Context, pos Position, wake <-chan struct{}) error {
	poll := time.NewTicker(r.cfg.PollInterval)
	defer poll.Stop()
	for failures := 0; scope.Err() == nil; {
		next, full, err := r.step(ctx, held, scope, pos)
		switch {
		case errors.Is(err, errStopped):
			return err
		case err != nil && scope.Err() != nil:
			return nil // stopped or lost the lease mid-step: nothing acknowledged is left unsaved
		case err != nil:
			r.fail("relay", err)
			if !r.backoff(scope, failures) {
				return nil
			}
			failures++
			continue // from pos: the last saved checkpoint
		}
		failures, pos = 0, next
		if full {
			continue // more is waiting: no need to sleep
		}
		select {
		case <-scope.Done():
		case _, open := <-wake:
			if !open {
				wake = nil // listener ended with the lease; polling carries on
			}
		case <-poll.C:
		}
	}
	return nil
}

// errStopped marks a step that ctx's end interrupted after publishing: its
// checkpoint could not be saved.
var errStopped = errors.New("outbox relay stopped before its checkpoint was saved")

// step relays one batch after pos and returns the new position and whether
// the batch was full (more may be waiting).
func (r *Relay) step(ctx, held, scope context.Context, pos Position) (Position, bool, error) {
	events, err := r.src.ReadAfter(scope, pos, r.cfg.BatchSize)
	if err != nil {
		return pos, false, fmt.Errorf("read events after %v: %w", pos, err)
	}
	if len(events) == 0 {
		return pos, false, nil
	}
	rejected, err := r.publish(ctx, held, events)
	if err != nil {
		return pos, false, err
	}
	if err := r.park(held, events, rejected); err != nil {
		return pos, false, err
	}
	last := events[len(events)-1].Position
	if err := r.saveCheckpoint(held, last); err != nil {
		if ctx.Err() != nil {
			return pos, false, fmt.Errorf("%w: %w", errStopped, err)
		}
		return pos, false, err
	}
	r.status.advanced(last, len(events), len(rejected))
	return last, len(events) == r.cfg.BatchSize, nil
}

// publish hands the batch to the publisher and returns the events it
// rejected for good. Losing the lease cancels the publish at once (another
// instance may start publishing); a stop lets it finish within
// ShutdownTimeout, so acknowledged events get checkpointed.
//
// Should the old holder's publish still land while the new holder starts,
// per-order order survives: both publish a contiguous, ordered run of the
// log starting at the same saved checkpoint (or the new one starts after
// the old one's batch), so the first delivery of each event still comes in
// order and the rest are duplicates with the same ce_id.
func (r *Relay) publish(ctx, held context.Context, events []Event) (map[order.ID]string, error) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(held), r.cfg.PublishTimeout)
	defer cancel()
	lost := context.AfterFunc(held, func() {
		if ctx.Err() == nil {
			cancel()
		}
	})
	defer lost()
	r.status.publishing(time.Now())
	done := make(chan error, 1)
	go func() { done <- r.pub.Publish(pctx, events) }()
	err := r.awaitPublish(ctx, done)
	r.status.publishing(time.Time{})
	var rej *RejectedError
	switch {
	case errors.As(err, &rej):
		r.status.brokerOK()
		return rej.Rejected, nil
	case err != nil:
		if held.Err() == nil { // a publish cancelled with the lease says nothing of the broker
			r.status.brokerFailed()
		}
		return nil, fmt.Errorf("publish %d events from %v: %w", len(events), events[0].Position, err)
	}
	r.status.brokerOK()
	return nil, nil
}

// awaitPublish waits for the publish; after a stop it waits at most
// ShutdownTimeout more, then gives up on it (its events are published again
// by the next run).
func (r *Relay) awaitPublish(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	grace := time.NewTimer(r.cfg.ShutdownTimeout)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		return fmt.Errorf("%w: publish still running %s after the stop", errStopped, r.cfg.ShutdownTimeout)
	}
}

// park sets aside the events the broker refused for good, so that they
// neither block the events behind them nor vanish silently.
func (r *Relay) park(held context.Context, events []Event, rejected map[order.ID]string) error {
	if len(rejected) == 0 {
		return nil
	}
	ctx, cancel := r.finishing(held)
	defer cancel()
	for _, e := range events {
		reason, ok := rejected[e.EventID]
		if !ok {
			continue
		}
		if err := r.src.Park(ctx, e, reason); err != nil {
			return fmt.Errorf("park event %s: %w", e.EventID, err)
		}
		r.logger.Error("outbox event rejected by the broker for good; parked",
			"event_id", e.EventID, "order_id", e.OrderID, "type", e.Type, "version", e.Version,
			"position", e.Position, "reason", reason)
	}
	return nil
}

// saveCheckpoint records the position even when the lease ended meanwhile:
// the events were acknowledged, and the store never moves a checkpoint back.
func (r *Relay) saveCheckpoint(held context.Context, p Position) error {
	ctx, cancel := r.finishing(held)
	defer cancel()
	if err := r.src.SaveCheckpoint(ctx, r.cfg.Name, p); err != nil {
		return fmt.Errorf("save checkpoint %v: %w", p, err)
	}
	return nil
}

// finishing is the context for bookkeeping after a publish: it survives the
// end of the lease and of the run, bounded by ShutdownTimeout.
func (r *Relay) finishing(held context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(held), r.cfg.ShutdownTimeout)
}

// loadCheckpoint retries until the checkpoint loads or the lease or the run
// ends (ok false).
func (r *Relay) loadCheckpoint(ctx, held context.Context) (Position, bool) {
	for attempt := 0; ; attempt++ {
		pos, err := r.src.Checkpoint(held, r.cfg.Name)
		if err == nil {
			return pos, true
		}
		r.fail("load checkpoint", err)
		if !r.backoff(held, attempt) || ctx.Err() != nil {
			return Position{}, false
		}
	}
}

// watchBacklog measures the backlog every StatusInterval until ctx ends, so
// Status shows the lag even while a publish hangs on an unreachable broker.
func (r *Relay) watchBacklog(ctx context.Context) {
	t := time.NewTicker(r.cfg.StatusInterval)
	defer t.Stop()
	for {
		r.measureBacklog(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measureBacklog counts what lies after the position; events relayed while
// it counted are subtracted, so a busy relay still gets a fair figure.
func (r *Relay) measureBacklog(ctx context.Context) {
	pos, relayed := r.status.progress()
	n, oldest, err := r.src.Backlog(ctx, pos)
	if err != nil {
		if ctx.Err() == nil {
			r.logger.Warn("outbox backlog unknown", "err", err)
		}
		return
	}
	parked, err := r.src.ParkedCount(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.logger.Warn("outbox parked count unknown", "err", err)
		}
		parked = -1
	}
	r.status.setBacklog(relayed, n, oldest, parked)
}

// fail records and logs a failure the relay will retry.
func (r *Relay) fail(what string, err error) {
	r.status.failed(err)
	r.logger.Warn("outbox relay: "+what+" failed; backing off", "err", err)
}

// backoff sleeps before retry number attempt (0-based): exponential with
// full jitter, so instances retrying together spread out. It reports false
// when ctx ended first.
func (r *Relay) backoff(ctx context.Context, attempt int) bool {
	ceiling := r.cfg.MinBackoff << min(attempt, 30)
	if ceiling <= 0 || ceiling > r.cfg.MaxBackoff {
		ceiling = r.cfg.MaxBackoff
	}
	return Sleep(ctx, rand.N(ceiling)+1)
}

// RelayState summarises a relay for readiness checks and dashboards.
type RelayState string

// The states of a relay.
const (
	// StateWaitingForLease: another instance relays (or none can reach the
	// store); this one stands by.
	StateWaitingForLease RelayState = "waiting-for-lease"
	// StateCaughtUp: nothing committed is waiting to be published.
	StateCaughtUp RelayState = "caught-up"
	// StateLagging: events are waiting and the relay is working on them.
	StateLagging RelayState = "lagging"
	// StateBrokerUnreachable: the last publish failed, or the current one
	// has run longer than PublishTimeout.
	StateBrokerUnreachable RelayState = "broker-unreachable"
	// StateConnecting: the relay is still preparing to publish (Prepare:
	// checking or creating its topic); LastError says why it is retrying,
	// e.g. an unreachable broker.
	StateConnecting RelayState = "connecting"
)

// RelayStatus is a point-in-time view of a relay.
type RelayStatus struct {
	State RelayState
	// Position is the last checkpoint this instance loaded or saved.
	Position Position
	// Backlog is how many committed events wait behind Position, as last
	// measured (every StatusInterval) less those relayed since.
	Backlog int64
	// SecondsBehind is the age of the oldest waiting event (0 when none).
	SecondsBehind float64
	// Published counts events this instance had acknowledged by the broker.
	Published int64
	// Parked counts parked events in the store (every relay's), -1 when not
	// yet measured.
	Parked int64
	// LastError is the last failure the relay retried, LastErrorAt its time.
	LastError   string
	LastErrorAt time.Time
	// MeasuredAt is when the backlog was last measured.
	MeasuredAt time.Time
}

// Leader reports whether this instance holds the lease and publishes.
func (s RelayStatus) Leader() bool {
	return s.State != StateWaitingForLease && s.State != StateConnecting
}

// statusBoard is the relay's shared state behind Status: the relay loop and
// the backlog watcher write it, any goroutine reads it.
type statusBoard struct {
	mu             sync.Mutex
	connecting     bool
	leading        bool
	pos            Position
	relayed        int64 // events past the checkpoint: published or parked
	published      int64
	backlog        int64
	oldest         time.Time
	measuredAt     time.Time
	parked         int64
	measured       bool
	brokerDown     bool
	publishingFrom time.Time
	lastErr        string
	lastErrAt      time.Time
}

func (b *statusBoard) setConnecting(connecting bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connecting = connecting
}

func (b *statusBoard) setLeading(leading bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.leading = leading
	b.publishingFrom = time.Time{}
}

func (b *statusBoard) resetPosition(p Position) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pos = p
}

func (b *statusBoard) progress() (Position, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pos, b.relayed
}

// advanced records a checkpointed batch of n events, of which rejected were
// parked rather than published.
func (b *statusBoard) advanced(p Position, n, rejected int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pos = p
	b.relayed += int64(n)
	b.published += int64(n - rejected)
	b.parked += int64(rejected)
	b.backlog = max(0, b.backlog-int64(n))
	if b.backlog == 0 {
		b.oldest = time.Time{}
	}
}

// setBacklog stores a measurement taken when relayedThen events had been
// relayed.
func (b *statusBoard) setBacklog(relayedThen, n int64, oldest time.Time, parked int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backlog = max(0, n-(b.relayed-relayedThen))
	b.oldest = oldest
	if b.backlog == 0 {
		b.oldest = time.Time{}
	}
	if parked >= 0 {
		b.parked, b.measured = parked, true
	}
	b.measuredAt = time.Now()
}

func (b *statusBoard) publishing(since time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishingFrom = since
}

func (b *statusBoard) brokerOK() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.brokerDown = false
}

func (b *statusBoard) brokerFailed() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.brokerDown = true
}

func (b *statusBoard) failed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastErr, b.lastErrAt = err.Error(), time.Now()
}

func (b *statusBoard) snapshot(now time.Time, stallAfter time.Duration) RelayStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := RelayStatus{
		State: b.state(now, stallAfter), Position: b.pos, Backlog: b.backlog, Published: b.published,
		Parked: -1, LastError: b.lastErr, LastErrorAt: b.lastErrAt, MeasuredAt: b.measuredAt,
	}
	if b.measured {
		s.Parked = b.parked
	}
	if b.backlog > 0 && !b.oldest.IsZero() {
		s.SecondsBehind = max(0, now.Sub(b.oldest).Seconds())
	}
	return s
}

func (b *statusBoard) state(now time.Time, stallAfter time.Duration) RelayState {
	stalled := !b.publishingFrom.IsZero() && now.Sub(b.publishingFrom) > stallAfter
	switch {
	case b.connecting:
		return StateConnecting
	case !b.leading:
		return StateWaitingForLease
	case b.brokerDown || stalled:
		return StateBrokerUnreachable
	case b.backlog == 0:
		return StateCaughtUp
	}
	return StateLagging
}
