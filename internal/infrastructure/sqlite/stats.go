package sqlite

import "database/sql"

// DBStats reports the connection pool's statistics, for metrics.
func (s *EmbeddedStore) DBStats() sql.DBStats { return s.db.Stats() }
