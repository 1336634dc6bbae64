// Package eventlog is the one translation between the application's commits
// and histories and the rows of the order_events log, shared by every storage
// adapter: Prepare turns a commit into the rows to write, HistoryDecoder turns
// stored rows back into domain events. Adapters only move these rows in and
// out of their database.
package eventlog

import (
	"fmt"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// PreparedCommit is a commit checked against the application's contract
// (application.CommitPlan: what to write, in which order, what changed) with
// its events encoded as the log stores them. Building it needs no database,
// so adapters prepare before they take a connection or a writer lock.
type PreparedCommit struct {
	application.CommitPlan
	// Records are the event rows, in version order: Data is the payload as
	// stored and published (protomap.MarshalEvent).
	Records []application.EventRecord
	// PostalAddress is the structure of the state's address for the read
	// model's orders.postal_address (protomap.AddressColumn), nil for an
	// address given as free text.
	PostalAddress []byte
}

// Prepare checks and encodes a commit. A commit that fails the check wraps
// application.ErrInvalidCommit.
func Prepare(c application.Commit) (PreparedCommit, error) {
	plan, err := c.Plan()
	if err != nil {
		return PreparedCommit{}, err
	}
	records := make([]application.EventRecord, len(c.Events))
	for i, e := range c.Events {
		data, err := protomap.MarshalEvent(e.Event)
		if err != nil {
			return PreparedCommit{}, fmt.Errorf("commit for order %s: %w", c.OrderID, err)
		}
		h := e.Event.Header()
		records[i] = application.EventRecord{
			EventID: e.ID, OrderID: c.OrderID, Type: e.Event.EventType(), Version: h.Version,
			OccurredAt: h.OccurredAt, Data: data, Metadata: e.Metadata,
		}
	}
	postal, err := protomap.AddressColumn(c.State.ShippingAddress)
	if err != nil {
		return PreparedCommit{}, fmt.Errorf("commit for order %s: %w", c.OrderID, err)
	}
	return PreparedCommit{CommitPlan: plan, Records: records, PostalAddress: postal}, nil
}

// StoredEvent is what decoding needs of one order_events row.
type StoredEvent struct {
	Type          string
	Version       int
	SchemaVersion int
	OccurredAt    time.Time
	Data          []byte
}

// HistoryDecoder turns one order's stored events, fed in version order, back
// into domain events: the single way from a stored row to a domain event.
// A row of an older schema version is first brought to the current one by
// the upcasters, so the domain only ever sees current events; a row of a
// version this code does not know is refused. Payloads after OrderCreated
// leave the order's currency out, so it carries the one OrderCreated named.
type HistoryDecoder struct {
	orderID   order.ID
	upcasters *Upcasters
	currency  order.Currency
}

// NewHistoryDecoder starts decoding the history of one order with the
// registered upcasters.
func NewHistoryDecoder(id order.ID) *HistoryDecoder {
	return Registered().NewHistoryDecoder(id)
}

// NewHistoryDecoder starts decoding the history of one order with this chain.
func (u *Upcasters) NewHistoryDecoder(id order.ID) *HistoryDecoder {
	return &HistoryDecoder{orderID: id, upcasters: u}
}

// Decode decodes the next event of the history.
func (d *HistoryDecoder) Decode(r StoredEvent) (order.Event, error) {
	r, err := d.upcasters.Upcast(r)
	if err != nil {
		return nil, fmt.Errorf("decode order %s: %w", d.orderID, err)
	}
	h := order.EventHeader{OrderID: d.orderID, Version: r.Version, OccurredAt: r.OccurredAt.UTC()}
	e, err := protomap.UnmarshalEvent(h, r.Type, r.Data, d.currency)
	if err != nil {
		return nil, err
	}
	if created, ok := e.(order.OrderCreated); ok {
		d.currency = created.Currency
	}
	return e, nil
}

// DecodeHistory decodes a whole history, in version order.
func DecodeHistory(id order.ID, rows []StoredEvent) ([]order.Event, error) {
	d := NewHistoryDecoder(id)
	events := make([]order.Event, len(rows))
	for i, r := range rows {
		var err error
		if events[i], err = d.Decode(r); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// Stored is the decodable part of a history record.
func Stored(r application.EventRecord) StoredEvent {
	return StoredEvent{Type: r.Type, Version: r.Version, SchemaVersion: r.Metadata.SchemaVersion, OccurredAt: r.OccurredAt, Data: r.Data}
}
