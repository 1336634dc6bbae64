package telemetry

import (
	"context"
	"errors"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// Outcomes: a bounded vocabulary for metric labels and span attributes. The
// first six are answers the service gives on purpose; the last three are
// failures worth an operator's attention.
const (
	outcomeOK          = "ok"
	outcomeInvalid     = "invalid"
	outcomeNotFound    = "not_found"
	outcomeConflict    = "conflict"
	outcomeRejected    = "rejected" // an illegal transition or a broken business rule
	outcomeForbidden   = "forbidden"
	outcomeDuplicate   = "duplicate" // a concurrent duplicate of the same request id
	outcomeUnavailable = "unavailable"
	outcomeTimeout     = "timeout"
	outcomeError       = "error"
)

// outcome classifies a handler's or a port's error.
func outcome(err error) string {
	var (
		invalid    *order.ValidationError
		reused     *application.RequestIDReusedError
		conflict   *order.ConcurrencyError
		transition *order.TransitionError
		rule       *order.RuleError
		forbidden  *application.ForbiddenError
	)
	switch {
	case err == nil:
		return outcomeOK
	case errors.As(err, &invalid), errors.As(err, &reused):
		return outcomeInvalid
	case errors.Is(err, order.ErrNotFound):
		return outcomeNotFound
	case errors.As(err, &conflict):
		return outcomeConflict
	case errors.As(err, &transition), errors.As(err, &rule):
		return outcomeRejected
	case errors.As(err, &forbidden):
		return outcomeForbidden
	case errors.Is(err, application.ErrDuplicateRequest):
		return outcomeDuplicate
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return outcomeTimeout
	case errors.Is(err, application.ErrUnavailable):
		return outcomeUnavailable
	}
	return outcomeError
}

// failed reports whether an outcome is a failure of the service rather than
// an answer it meant to give: only these mark spans as errors.
func failed(outcome string) bool {
	switch outcome {
	case outcomeUnavailable, outcomeTimeout, outcomeError:
		return true
	}
	return false
}
