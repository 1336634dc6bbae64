// Package order is the heart of the service: the Order aggregate, its value
// objects, the lifecycle state machine and the domain events that record every
// change.
//
// State changes only by applying events. A command method (Confirm, Pay, …)
// checks the invariants, and when they hold it raises one event, which is
// applied to the aggregate and kept as pending until the application layer
// appends it to the event store. Rehydrate rebuilds an order from its history.
//
// The package imports the standard library only: no SQL, protobuf, Kafka or
// transport types leak in. Time and identifiers are passed in by the caller so
// that every decision is deterministic and testable.
package order
