package postgres_test

import (
	"testing"
	"time"

	"github.com/acme/order-service/internal/infrastructure/postgres"
	"github.com/acme/order-service/internal/testkit"
)

// validator is a config with Validate.
type validator interface{ Validate() error }

func TestGroupConfigsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  validator
		want string // "" = valid; else a part of the error
	}{
		{"commit: zero takes the defaults", postgres.GroupCommitConfig{}, ""},
		{"commit: defaults", postgres.DefaultGroupCommitConfig(), ""},
		{"commit: off", postgres.GroupCommitConfig{MaxBatch: 1}, ""},
		{"commit: largest batch", postgres.GroupCommitConfig{MaxBatch: postgres.MaxGroupCommit}, ""},
		{"commit: batch above 64", postgres.GroupCommitConfig{MaxBatch: postgres.MaxGroupCommit + 1}, "max batch"},
		{"commit: negative batch", postgres.GroupCommitConfig{MaxBatch: -1}, "max batch"},
		{"commit: negative flushers", postgres.GroupCommitConfig{Flushers: -2}, "flushers"},
		{"commit: negative window", postgres.GroupCommitConfig{Window: -time.Millisecond}, "window"},
		{"read: zero takes the defaults", postgres.GroupReadConfig{}, ""},
		{"read: defaults", postgres.DefaultGroupReadConfig(), ""},
		{"read: largest batch", postgres.GroupReadConfig{MaxBatch: postgres.MaxGroupRead}, ""},
		{"read: huge batch", postgres.GroupReadConfig{MaxBatch: postgres.MaxGroupRead + 1}, "max batch"},
		{"read: negative batch", postgres.GroupReadConfig{MaxBatch: -1}, "max batch"},
		{"read: negative flushers", postgres.GroupReadConfig{Flushers: -1}, "flushers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckError(t, tc.cfg.Validate(), tc.want)
		})
	}
}
