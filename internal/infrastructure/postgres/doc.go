// Package postgres owns the service's PostgreSQL schema and the adapters that
// implement the application's ports on top of it.
//
// The schema is a sequence of goose SQL migrations embedded in the binary
// (migrations/); Migrate applies them under an advisory lock so instances
// starting together do not race, and MigrationStatus lets readiness report
// whether this build's schema is in place. Migration 00001 is the README's
// schema verbatim; everything since is additive.
package postgres
