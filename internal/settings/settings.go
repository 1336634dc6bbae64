// Package settings holds the checks that components' configurations share,
// so that each component's Validate states only its own rules.
package settings

import (
	"fmt"
	"time"
)

// Duration is a named duration setting of a component.
type Duration struct {
	Name  string
	Value time.Duration
}

// NegativeDurations returns one error for each setting that is negative; 0
// stays allowed, since components read it as "the default".
func NegativeDurations(ds ...Duration) []error {
	var errs []error
	for _, d := range ds {
		if d.Value < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", d.Name, d.Value))
		}
	}
	return errs
}
