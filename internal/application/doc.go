// Package application holds the use cases of the order service: one handler
// per command (create, item changes, address change, confirm, pay, ship,
// deliver, cancel) and per query (get, list, history), and the ports they need
// from the outside world (event store, read model, idempotency store, clock,
// id source).
//
// A command handler reads like its use case: load the order's events,
// rehydrate, call one domain method, append the new events together with the
// projection and the idempotency record in one commit. A query handler reads
// the read model and never replays events. Who may do what is decided here,
// in authorize, and nowhere else.
package application
