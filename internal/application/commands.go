package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// Commands runs the order commands. It is safe for concurrent use.
type Commands struct {
	store           EventStore
	requests        IdempotencyStore
	clock           Clock
	ids             IDSource
	origin          Origin
	defaultCurrency order.Currency
	maxAttempts     int
	observer        Observer
	snapshots       snapshots
}

// Origin names the deployment that writes events; it goes into every event's
// metadata.
type Origin struct {
	ServiceName string
	CellID      string
}

// CommandsConfig tunes the command handlers. Zero fields take the values of
// DefaultCommandsConfig.
type CommandsConfig struct {
	Origin Origin
	// DefaultCurrency applies when CreateOrder names none.
	DefaultCurrency order.Currency
	// MaxAttempts bounds load-decide-append rounds for a command that sent no
	// expected version and lost a race; 1 means no retry.
	MaxAttempts int
	// Observer hears about replays and conflicts (metrics); nil: nobody.
	Observer Observer
	// Snapshots, when set, load orders from a snapshot and write new ones.
	Snapshots SnapshotConfig
}

// Bounds of CommandsConfig.MaxAttempts.
const maxMaxAttempts = 100

// DefaultCommandsConfig is the configuration zero fields fall back to.
func DefaultCommandsConfig() CommandsConfig {
	return CommandsConfig{DefaultCurrency: "USD", MaxAttempts: 5}
}

// Validate refuses settings no deployment means: a negative or huge number
// of attempts, a currency that is not an ISO 4217 code.
func (c CommandsConfig) Validate() error {
	var errs []error
	if c.MaxAttempts < 0 || c.MaxAttempts > maxMaxAttempts {
		errs = append(errs, fmt.Errorf("max attempts %d: want 1 to %d (0 for the default)", c.MaxAttempts, maxMaxAttempts))
	}
	if err := c.Snapshots.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DefaultCurrency != "" {
		if _, err := order.ParseCurrency(string(c.DefaultCurrency)); err != nil {
			errs = append(errs, fmt.Errorf("default currency: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commands config: %w", err)
	}
	return nil
}

func (c CommandsConfig) withDefaults() CommandsConfig {
	def := DefaultCommandsConfig()
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = def.MaxAttempts
	}
	if c.DefaultCurrency == "" {
		c.DefaultCurrency = def.DefaultCurrency
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	return c
}

// NewCommands wires the command handlers to their ports; zero fields of cfg
// take the defaults. It does not validate cfg: NewService does.
func NewCommands(store EventStore, requests IdempotencyStore, clock Clock, ids IDSource, cfg CommandsConfig) *Commands {
	cfg = cfg.withDefaults()
	return &Commands{
		store: store, requests: requests, clock: clock, ids: ids,
		origin: cfg.Origin, defaultCurrency: cfg.DefaultCurrency, maxAttempts: cfg.MaxAttempts,
		observer: cfg.Observer, snapshots: newSnapshots(cfg.Snapshots),
	}
}

// CommandMeta is what every command carries besides its payload.
type CommandMeta struct {
	Actor Actor
	// ExpectedVersion, when not 0, is the version the caller last saw; a
	// different current version fails the command with *order.ConcurrencyError.
	ExpectedVersion int
	// RequestID, when set, makes the command idempotent: a retry with the same
	// payload gets the original result and writes nothing.
	RequestID     string
	CorrelationID string
	TraceParent   string
}

// decision is the one domain call a command makes on a loaded order.
type decision func(o *order.Order, now time.Time) error

// mutate is the write path of every command on an existing order: replay a
// known request, load, authorize, check the expected version, decide, append;
// on a lost race without an expected version, do it all again.
func (c *Commands) mutate(ctx context.Context, meta CommandMeta, rawID string, action order.Action, fp Fingerprint, decide decision) (order.State, error) {
	id, err := parseOrderID(rawID)
	if err != nil {
		return order.State{}, err
	}
	if snap, replayed, err := c.replay(ctx, meta, fp); replayed || err != nil {
		return snap, err
	}
	for attempt := 1; ; attempt++ {
		o, base, err := c.load(ctx, id)
		if err != nil {
			return order.State{}, err
		}
		if err := authorizeOrder(meta.Actor, o.UserID(), action); err != nil {
			return order.State{}, err
		}
		if meta.ExpectedVersion != 0 && meta.ExpectedVersion != o.Version() {
			c.observer.Conflict(ctx, Conflict{})
			return order.State{}, &order.ConcurrencyError{OrderID: id, ExpectedVersion: meta.ExpectedVersion, CurrentVersion: o.Version()}
		}
		loaded := o.Version()
		if err := decide(o, c.now()); err != nil {
			return order.State{}, err
		}
		err = c.commit(ctx, meta, fp, o, loaded)
		var conflict *order.ConcurrencyError
		switch {
		case err == nil:
			c.snapshots.afterCommit(ctx, o.State(), base, c.now())
			return o.State(), nil
		case errors.Is(err, ErrDuplicateRequest):
			return c.replayAfterRace(ctx, meta, fp)
		case errors.As(err, &conflict) && meta.ExpectedVersion == 0 && attempt < c.maxAttempts:
			c.observer.Conflict(ctx, Conflict{Concurrent: true, Retrying: true})
			continue // safe: the domain re-checks everything on the fresh state
		case errors.As(err, &conflict):
			c.observer.Conflict(ctx, Conflict{Concurrent: true})
			return order.State{}, c.withCurrentVersion(ctx, conflict)
		default:
			return order.State{}, err
		}
	}
}

// commit appends the order's pending events; a command that changed nothing
// writes nothing.
func (c *Commands) commit(ctx context.Context, meta CommandMeta, fp Fingerprint, o *order.Order, loaded int) error {
	pending := o.PendingEvents()
	if len(pending) == 0 {
		return nil
	}
	md := c.metadata(meta)
	events := make([]RecordedEvent, len(pending))
	for i, e := range pending {
		events[i] = RecordedEvent{ID: c.ids.NewID(), Event: e, Metadata: md}
	}
	commit := Commit{OrderID: o.ID(), ExpectedVersion: loaded, Events: events, State: o.State()}
	if meta.RequestID != "" {
		commit.Idempotency = &IdempotencyRecord{
			Scope: meta.Actor.ID, RequestID: meta.RequestID, Fingerprint: fp,
			OrderID: o.ID(), Version: o.Version(), CreatedAt: pending[0].Header().OccurredAt,
		}
	}
	if err := c.store.Append(ctx, commit); err != nil {
		return fmt.Errorf("append order %s: %w", o.ID(), err)
	}
	return nil
}

func (c *Commands) metadata(meta CommandMeta) EventMetadata {
	causation := meta.RequestID
	if causation == "" {
		causation = c.ids.NewID().String()
	}
	correlation := meta.CorrelationID
	if correlation == "" {
		correlation = causation
	}
	return EventMetadata{
		ActorID: meta.Actor.ID, RequestID: meta.RequestID, CorrelationID: correlation, CausationID: causation,
		TraceParent: meta.TraceParent, ServiceName: c.origin.ServiceName, CellID: c.origin.CellID,
		SchemaVersion: CurrentEventSchemaVersion,
	}
}

// replay answers a request id seen before: with the original result when the
// payload matches, with *RequestIDReusedError when it does not.
func (c *Commands) replay(ctx context.Context, meta CommandMeta, fp Fingerprint) (order.State, bool, error) {
	if meta.RequestID == "" {
		return order.State{}, false, nil
	}
	rec, found, err := c.requests.FindRequest(ctx, meta.Actor.ID, meta.RequestID)
	if err != nil || !found {
		return order.State{}, false, err
	}
	c.observer.Replayed(ctx, rec.Fingerprint == fp)
	if rec.Fingerprint != fp {
		return order.State{}, true, &RequestIDReusedError{RequestID: meta.RequestID}
	}
	snap, err := c.stateAt(ctx, rec.OrderID, rec.Version)
	return snap, true, err
}

// replayAfterRace handles a duplicate that committed between our lookup and
// our append: its record is there now.
func (c *Commands) replayAfterRace(ctx context.Context, meta CommandMeta, fp Fingerprint) (order.State, error) {
	snap, replayed, err := c.replay(ctx, meta, fp)
	if err == nil && !replayed {
		err = fmt.Errorf("request %q: duplicate reported but no record found", meta.RequestID)
	}
	return snap, err
}

// stateAt rebuilds the order as it stood at a version: the exact response
// of the command that produced that version.
func (c *Commands) stateAt(ctx context.Context, id order.ID, version int) (order.State, error) {
	r := c.snapshots.restore(ctx, id, version)
	if r.order != nil {
		return r.order.State(), nil
	}
	if r.reason != "" {
		c.snapshots.fellBack(ctx, id, r.reason, r.err)
	}
	h, err := loadHistory(ctx, c.store, id)
	if err != nil {
		return order.State{}, err
	}
	return h.at(min(version, h.current()))
}

// load rebuilds the order from its latest usable snapshot and the events
// after it, or else from its whole history, and says which version it
// started from (0: the whole history). A snapshot that cannot be used is
// reported and replayed around, never an error.
func (c *Commands) load(ctx context.Context, id order.ID) (*order.Order, int, error) {
	r := c.snapshots.restore(ctx, id, 0)
	if r.order != nil {
		return r.order, r.from, nil
	}
	if r.reason != "" {
		c.snapshots.fellBack(ctx, id, r.reason, r.err)
	}
	history, err := c.store.Load(ctx, id)
	if err != nil {
		return nil, 0, fmt.Errorf("load order %s: %w", id, err)
	}
	o, err := order.Rehydrate(history)
	if err != nil {
		return nil, 0, fmt.Errorf("rehydrate order %s: %w", id, err)
	}
	if r.reason == "" {
		c.snapshots.missing(ctx, id, o.Version())
	}
	return o, 0, nil
}

// withCurrentVersion fills in the version the caller should re-read, so the
// error tells it where the order is now.
func (c *Commands) withCurrentVersion(ctx context.Context, conflict *order.ConcurrencyError) error {
	if conflict.CurrentVersion != 0 {
		return conflict
	}
	if history, err := c.store.Load(ctx, conflict.OrderID); err == nil {
		reported := *conflict
		reported.CurrentVersion = len(history)
		return &reported
	}
	return conflict
}

// now is the command's time, in UTC and to the microsecond: the precision the
// stores keep, so that a replayed response equals the original.
func (c *Commands) now() time.Time {
	return c.clock.Now().UTC().Truncate(time.Microsecond)
}

func parseOrderID(raw string) (order.ID, error) {
	id, err := order.ParseID(raw)
	var invalid *order.ValidationError
	if errors.As(err, &invalid) {
		return order.ID{}, &order.ValidationError{Field: "order_id", Reason: invalid.Reason}
	}
	return id, err
}
