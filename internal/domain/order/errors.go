package order

import (
	"errors"
	"fmt"
)

// ErrNotFound reports that an order does not exist (or, at the edge, that the
// caller may not see it: both answer the same).
var ErrNotFound = errors.New("order not found")

// ValidationError reports an input that breaks a rule of a value object or a
// limit of the aggregate. Field names the offending input in the API's terms.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// TransitionError reports an action the lifecycle does not allow in the
// order's current status.
type TransitionError struct {
	Status Status
	Action Action
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s an order that is %s", e.Action.Phrase(), e.Status)
}

// Rule names a business rule that a command can break although its input is
// well-formed. The values are stable: they reach API clients as error reasons.
type Rule string

// The business rules enforced by the aggregate.
const (
	RuleProductAlreadyInOrder Rule = "PRODUCT_ALREADY_IN_ORDER"
	RuleProductNotInOrder     Rule = "PRODUCT_NOT_IN_ORDER"
	RuleLastItem              Rule = "LAST_ITEM"
	RulePaymentMismatch       Rule = "PAYMENT_AMOUNT_MISMATCH"
	RuleTooManyEvents         Rule = "TOO_MANY_EVENTS"
)

// RuleError reports a broken business rule.
type RuleError struct {
	Rule   Rule
	Detail string
}

func (e *RuleError) Error() string { return e.Detail }

func broken(rule Rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

// ConcurrencyError reports that the order changed since the caller read it:
// the expected version is not the current one, or another writer appended the
// same version first.
type ConcurrencyError struct {
	OrderID         ID
	ExpectedVersion int
	CurrentVersion  int // 0 when unknown (the race was lost at the store)
}

func (e *ConcurrencyError) Error() string {
	if e.CurrentVersion == 0 {
		return fmt.Sprintf("order %s was changed concurrently (expected version %d)", e.OrderID, e.ExpectedVersion)
	}
	return fmt.Sprintf("order %s is at version %d, not the expected %d", e.OrderID, e.CurrentVersion, e.ExpectedVersion)
}
