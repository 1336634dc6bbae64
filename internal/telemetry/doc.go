// Package telemetry is how the order service is observed: Prometheus
// metrics on a registry of its own (RPCs, REST routes, the command path, the
// event store, the outbox relay, the database pool, the Go runtime),
// OpenTelemetry traces (RPC → command → store → SQL, and on into the Kafka
// records' traceparent), and log lines that carry the request and trace ids.
//
// Everything here wraps the service from the outside — one middleware
// around every application handler (Handlers), decorators around the ports, collectors that read status the
// adapters already keep, hooks the drivers offer — so that the domain and
// the adapters stay unaware of it. With tracing off (the default) the
// tracer is a no-op and only the metrics cost anything.
package telemetry
