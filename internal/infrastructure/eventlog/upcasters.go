package eventlog

import (
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// Upcaster is one step of schema evolution: a pure function from a stored
// event whose payload has schema version n to the same event at version
// n+1. It may change the type and the payload; the chain sets the schema
// version of what it returns.
//
// The signature allows an upcaster to drop an event (return none) or split
// it (return several), but the chain refuses both for now: the order's
// version is the stored row's version everywhere — the optimistic lock
// (UNIQUE (aggregate_id, version), expected_version), the idempotency
// record's replay point, ce_orderversion on Kafka — so an upcaster must keep
// it. Dropping or splitting would renumber the events after it and detach
// the domain's version from the log's; whoever first needs it has to bring a
// stored version mapping or a rewrite of the log along with it. An upcaster
// that returns anything but exactly one event of the stored version is an
// error, reported with the event it was given.
type Upcaster func(StoredEvent) ([]StoredEvent, error)

// Upcasters is the chain of upcasters from every schema version ever
// written to the current one. Steps are keyed by the version they start
// from and the event type; an event type without a step at some version is
// unchanged by it (its payload was the same in both versions).
type Upcasters struct {
	current int
	steps   map[int]map[string]Upcaster
}

// NewUpcasters returns a chain to schema version current (at least 1) with
// the given steps, which must start from versions 1..current-1.
func NewUpcasters(current int, steps map[int]map[string]Upcaster) (*Upcasters, error) {
	if current < 1 {
		return nil, fmt.Errorf("upcasters: current schema version %d", current)
	}
	for from := range steps {
		if from < 1 || from >= current {
			return nil, fmt.Errorf("upcasters: a step from version %d, outside 1..%d", from, current-1)
		}
	}
	return &Upcasters{current: current, steps: steps}, nil
}

// Registered returns the chain this build reads stored events with, to
// application.CurrentEventSchemaVersion: the one table of upcasters. Add a
// step here when the payload of an event type changes, together with the
// golden files of the new version.
func Registered() *Upcasters {
	return &Upcasters{
		current: application.CurrentEventSchemaVersion,
		steps: map[int]map[string]Upcaster{
			// 1 → 2: the shipping address gains its structure.
			1: {order.TypeOrderCreated: structureAddress, order.TypeShippingAddressChanged: structureAddress},
		},
	}
}

// structureAddress: a version 1 payload had the address as text only;
// version 2 adds postal_address, order.AddressFromText of the text
// (protomap.StructureAddress), and keeps the text.
func structureAddress(r StoredEvent) ([]StoredEvent, error) {
	data, err := protomap.StructureAddress(r.Type, r.Data)
	if err != nil {
		return nil, err
	}
	r.Data = data
	return []StoredEvent{r}, nil
}

// Current is the schema version the chain upcasts to.
func (u *Upcasters) Current() int { return u.current }

// Upcast brings a stored event to the current schema version, one step per
// version. An event of the current version comes back as it is; one of a
// version this build does not know (before 1, or after the current one,
// written by a newer build) is an error.
func (u *Upcasters) Upcast(r StoredEvent) (StoredEvent, error) {
	if r.SchemaVersion < 1 || r.SchemaVersion > u.current {
		return StoredEvent{}, fmt.Errorf("upcast %s v%d: schema version %d, this code reads 1 to %d",
			r.Type, r.Version, r.SchemaVersion, u.current)
	}
	for r.SchemaVersion < u.current {
		next, err := u.step(r)
		if err != nil {
			return StoredEvent{}, err
		}
		r = next
	}
	return r, nil
}

// step runs the upcaster from r's schema version, if its type has one.
func (u *Upcasters) step(r StoredEvent) (StoredEvent, error) {
	from := r.SchemaVersion
	up := u.steps[from][r.Type]
	if up == nil {
		r.SchemaVersion++
		return r, nil
	}
	out, err := up(r)
	if err != nil {
		return StoredEvent{}, fmt.Errorf("upcast %s v%d from schema version %d: %w", r.Type, r.Version, from, err)
	}
	if len(out) != 1 || out[0].Version != r.Version {
		return StoredEvent{}, fmt.Errorf("upcast %s v%d from schema version %d: the upcaster returned %d events; it must return exactly one, of version %d",
			r.Type, r.Version, from, len(out), r.Version)
	}
	next := out[0]
	next.SchemaVersion = from + 1
	return next, nil
}

// Upcast brings a stored event to the current schema version with the
// registered upcasters: what the relay publishes, so that consumers always
// receive the current shape.
func Upcast(r StoredEvent) (StoredEvent, error) { return Registered().Upcast(r) }

// UpcastRecords brings history records, as a read model lists them, to the
// current schema version in place, so an API client reading an order's
// history sees the same shape as a Kafka consumer.
func UpcastRecords(records []application.EventRecord) error {
	u := Registered()
	for i := range records {
		r := &records[i]
		up, err := u.Upcast(Stored(*r))
		if err != nil {
			return fmt.Errorf("event %s of order %s: %w", r.EventID, r.OrderID, err)
		}
		r.Type, r.Data, r.Metadata.SchemaVersion = up.Type, up.Data, up.SchemaVersion
	}
	return nil
}
