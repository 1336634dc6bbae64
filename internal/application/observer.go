package application

import "context"

// Observer hears about the moments of the command path that operators count:
// idempotent replays and version conflicts. It exists so that metrics and
// traces can see inside a handler without the handler knowing about either.
// Implementations must be quick and safe for concurrent use; they cannot
// fail a command. A nil CommandsConfig.Observer means nobody listens.
type Observer interface {
	// Replayed reports a request id seen before: matched when the payload
	// was the same (the original result is returned, nothing is written),
	// not matched when it differed (the command fails with
	// *RequestIDReusedError).
	Replayed(ctx context.Context, matched bool)
	// Conflict reports that the order had moved past the version the
	// command was decided on.
	Conflict(ctx context.Context, c Conflict)
}

// Conflict describes one version conflict.
type Conflict struct {
	// Concurrent: another writer appended between this command's load and
	// its append (a lost race). Otherwise the caller's expected version was
	// stale.
	Concurrent bool
	// Retrying: the command loads the order again and re-decides; otherwise
	// it fails with *order.ConcurrencyError.
	Retrying bool
}

// noObserver is the Observer of a Commands built without one.
type noObserver struct{}

func (noObserver) Replayed(context.Context, bool)     {}
func (noObserver) Conflict(context.Context, Conflict) {}
