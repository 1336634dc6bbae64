package kafka

import (
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/infrastructure/outbox"
	"github.com/acme/order-service/internal/protomap"
)

// Record headers: the CloudEvents Kafka protocol binding, binary content
// mode (attributes as ce_-prefixed headers, the event data as the value),
// plus W3C trace context.
const (
	HeaderSpecVersion   = "ce_specversion"
	HeaderID            = "ce_id"
	HeaderSource        = "ce_source"
	HeaderType          = "ce_type"
	HeaderSubject       = "ce_subject"
	HeaderTime          = "ce_time"
	HeaderDataSchema    = "ce_dataschema"
	HeaderContentType   = "content-type" // the binding maps datacontenttype here, without prefix
	HeaderOrderVersion  = "ce_orderversion"
	HeaderCorrelationID = "ce_correlationid"
	HeaderCausationID   = "ce_causationid"
	HeaderTraceParent   = "traceparent"
	// HeaderSchemaVersion is the schema version of the payload: always the
	// current one of the publishing build, since the relay upcasts.
	HeaderSchemaVersion = "ce_schemaversion"
)

// SpecVersion is the CloudEvents version the records follow.
const SpecVersion = "1.0"

// TypePrefix namespaces event types: ce_type is TypePrefix + the stored
// event type, which is also the full name of the payload's proto message.
const TypePrefix = "order.v1."

// dataSchemaPrefix makes ce_dataschema the payload message's type URL, the
// form protobuf's Any uses, so consumers can resolve the schema by name.
const dataSchemaPrefix = "type.googleapis.com/"

// Record builds the Kafka record of an event: key = order id, so every
// event of an order lands on one partition, in order; value = the stored
// payload brought to the current schema version (eventlog.Upcast), so
// consumers receive the current shape of the message ce_dataschema names,
// whatever version the event was stored in; attributes in headers.
// fallbackSource is ce_source for events whose metadata names no service
// (rows from before it was kept). An event that cannot be upcast (a schema
// version from a newer build, a payload an upcaster refuses) is an error.
func Record(topic string, e outbox.Event, fallbackSource string) (*kgo.Record, error) {
	stored, err := eventlog.Upcast(eventlog.StoredEvent{
		Type: e.Type, Version: e.Version, SchemaVersion: e.Metadata.SchemaVersion, OccurredAt: e.OccurredAt, Data: e.Data,
	})
	if err != nil {
		return nil, fmt.Errorf("event %s of order %s: %w", e.EventID, e.OrderID, err)
	}
	orderID := e.OrderID.String()
	headers := []kgo.RecordHeader{
		header(HeaderSpecVersion, SpecVersion),
		header(HeaderID, e.EventID.String()),
		header(HeaderSource, source(e, fallbackSource)),
		header(HeaderType, TypePrefix+stored.Type),
		header(HeaderSubject, orderID),
		header(HeaderTime, e.OccurredAt.UTC().Format(time.RFC3339Nano)),
		header(HeaderContentType, protomap.ContentType),
		header(HeaderOrderVersion, strconv.Itoa(e.Version)),
		header(HeaderSchemaVersion, strconv.Itoa(stored.SchemaVersion)),
	}
	if schema := dataSchema(stored.Type); schema != "" {
		headers = append(headers, header(HeaderDataSchema, schema))
	}
	headers = appendIfSet(headers, HeaderCorrelationID, e.Metadata.CorrelationID)
	headers = appendIfSet(headers, HeaderCausationID, e.Metadata.CausationID)
	headers = appendIfSet(headers, HeaderTraceParent, e.Metadata.TraceParent)
	// The record timestamp is left to the client (publish time): ce_time
	// carries when the event happened, and an old event's timestamp could
	// trip a broker's message.timestamp.*.max.ms limits.
	return &kgo.Record{Topic: topic, Key: []byte(orderID), Value: stored.Data, Headers: headers}, nil
}

// Source is the ce_source of a deployment: /<SERVICE_NAME>/<CELL_ID>, or
// /<SERVICE_NAME> when it has no cell.
func Source(serviceName, cellID string) string {
	if cellID == "" {
		return "/" + serviceName
	}
	return "/" + serviceName + "/" + cellID
}

func source(e outbox.Event, fallback string) string {
	if e.Metadata.ServiceName == "" {
		return fallback
	}
	return Source(e.Metadata.ServiceName, e.Metadata.CellID)
}

// dataSchema names the proto message of an event type, or "" for a type
// this build does not know (published anyway: the log is the authority).
func dataSchema(eventType string) string {
	msg, err := protomap.NewPayload(eventType)
	if err != nil {
		return ""
	}
	return dataSchemaPrefix + string(proto.MessageName(msg))
}

func header(key, value string) kgo.RecordHeader {
	return kgo.RecordHeader{Key: key, Value: []byte(value)}
}

func appendIfSet(headers []kgo.RecordHeader, key, value string) []kgo.RecordHeader {
	if value == "" {
		return headers
	}
	return append(headers, header(key, value))
}
