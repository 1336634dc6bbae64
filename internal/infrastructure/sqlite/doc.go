// Package sqlite is the embedded, zero-setup storage of the service: one SQLite
// file (pure Go, modernc.org/sqlite, so CGO_ENABLED=0 builds work) holding the
// event log, the inline read model, the idempotency records and the outbox
// relay's checkpoints and parked events.
//
// A *Store implements the application's EventStore, ReadModel and
// IdempotencyStore ports and the outbox relay's Source. Its schema mirrors the
// PostgreSQL migrations table for table (migrations/, applied by goose on Open).
//
// SQLite has one writer at a time. The store embraces that: every write runs in
// a BEGIN IMMEDIATE transaction behind an in-process writer slot, which both
// avoids SQLITE_BUSY storms and makes the global event position follow commit
// order, so the outbox needs no PostgreSQL-style transaction-id fencing. One
// process owns a database file at a time, enforced with a lock file.
package sqlite
