// Package protomap translates between the domain model and the order.v1
// protobuf schema: orders as API resources, and events as the payloads that
// are stored in order_events.data and published to Kafka.
//
// It is the one place that knows both sides, shared by the storage adapters
// (which store and decode event payloads) and the API (which returns orders
// and histories), so the wire format is defined exactly once.
package protomap
