package sqlite

import (
	"context"
	"fmt"
)

// Ping reports whether the database answers: the embedded mode's readiness.
// Migrations ran in Open, so an open store is a migrated one.
func (s *EmbeddedStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}
