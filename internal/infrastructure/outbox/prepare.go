package outbox

import (
	"context"
	"errors"
	"time"
)

// Prepare runs setup — what the relay needs before it may publish, such as
// checking that its topic exists — until it succeeds, backing off between
// attempts as Run does after a failure. Meanwhile Status reports
// StateConnecting with the last error. It logs a failure when one first
// happens and whenever its message changes, and the success, so an outage
// of any length logs a few lines rather than one per retry.
//
// It returns nil once setup succeeded, ctx's error when ctx ended first, and
// setup's error, without retrying, when setup marked it Final.
func (r *Relay) Prepare(ctx context.Context, what string, setup func(context.Context) error) error {
	r.status.setConnecting(true)
	defer r.status.setConnecting(false)
	began := time.Now()
	var logged string
	for attempt := 0; ; attempt++ {
		err := setup(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			r.logger.Info("outbox relay: "+what+" ready", "attempts", attempt+1, "after", time.Since(began).Round(time.Millisecond))
			return nil
		}
		r.status.failed(err)
		var final *finalError
		if errors.As(err, &final) {
			return final.err
		}
		if msg := err.Error(); msg != logged {
			r.logger.Warn("outbox relay: "+what+" not ready; events wait in the log, retrying with backoff",
				"err", err, "attempt", attempt+1)
			logged = msg
		}
		if !r.backoff(ctx, attempt) {
			return ctx.Err()
		}
	}
}

// Final marks an error of Prepare's setup that no retry can cure, such as a
// misconfiguration: Prepare returns it at once.
func Final(err error) error { return &finalError{err: err} }

type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }
