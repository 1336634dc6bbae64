package apptest

import (
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

// Fingerprint is the payload fingerprint Orders puts in every idempotency
// record it builds.
var Fingerprint = application.Fingerprint{1, 2, 3}

// Orders builds orders and the commits that store them, below the command
// handlers: for the storage adapters' tests and contract suites. Ids come
// from a SeqIDs and times from a StepClock, so every run builds the same
// orders. It is not safe for concurrent use.
type Orders struct {
	t     testing.TB
	ids   *SeqIDs
	clock *StepClock
	now   time.Time
}

// NewOrders returns a builder whose ids start with prefix: builders with
// different prefixes never collide on one store.
func NewOrders(t testing.TB, prefix byte) *Orders {
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	return &Orders{t: t, ids: NewSeqIDs(prefix), clock: NewStepClock(start, 1500*time.Microsecond), now: start}
}

// ID is a new id.
func (f *Orders) ID() order.ID { return f.ids.NewID() }

// Tick advances the builder's time and returns it.
func (f *Orders) Tick() time.Time {
	f.now = f.clock.Now()
	return f.now
}

// Now is the builder's time, as Tick last returned it.
func (f *Orders) Now() time.Time { return f.now }

// Item is a new line of the product, priced in EUR.
func (f *Orders) Item(product string, qty int64, price string) order.LineItem {
	f.t.Helper()
	p, err := order.ParseMoney("unit_price", price, "EUR")
	must(f.t, err)
	it, err := order.NewLineItem(f.ID(), product, "Product "+product, qty, p)
	must(f.t, err)
	return it
}

// NewOrder creates an order of the user in EUR with the given lines, or with
// two (sku-1 2 × 19.99, sku-2 1 × 5.00) when none are given. It is in memory
// only: its OrderCreated is pending.
func (f *Orders) NewOrder(user string, items ...order.LineItem) *order.Order {
	f.t.Helper()
	if len(items) == 0 {
		items = []order.LineItem{f.Item("sku-1", 2, "19.99"), f.Item("sku-2", 1, "5.00")}
	}
	o, err := order.Create(f.ID(), order.UserID(user), "EUR", Address(f.t, "1 Main St\nSpringfield"), items, f.Tick())
	must(f.t, err)
	return o
}

// Metadata is the event metadata of the commits Orders builds.
func Metadata(actor, requestID string) application.EventMetadata {
	return application.EventMetadata{
		ActorID: actor, RequestID: requestID, CorrelationID: "corr-1", CausationID: "cause-1",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ServiceName: "order-service",
		CellID: "cell-test", SchemaVersion: application.CurrentEventSchemaVersion,
	}
}

// Commit packs the order's pending events after version from into a commit
// decided at that version, as the command handlers do (see NewCommit); an
// idempotency record is created at Now.
func (f *Orders) Commit(o *order.Order, from int, requestID string) application.Commit {
	return NewCommit(o, from, requestID, f.ids, f.now)
}

// NewCommit packs the order's pending events after version from into a
// commit decided at that version, with event ids from ids and Metadata.
// With a request id it carries an idempotency record: scope the order's
// user, Fingerprint, created at createdAt.
func NewCommit(o *order.Order, from int, requestID string, ids application.IDSource, createdAt time.Time) application.Commit {
	pending := o.PendingEvents()
	first := o.Version() - len(pending) // the version the order was loaded at
	md := Metadata(string(o.UserID()), requestID)
	events := make([]application.RecordedEvent, 0, len(pending))
	for _, e := range pending[from-first:] {
		events = append(events, application.RecordedEvent{ID: ids.NewID(), Event: e, Metadata: md})
	}
	c := application.Commit{OrderID: o.ID(), ExpectedVersion: from, Events: events, State: o.State()}
	if requestID != "" {
		c.Idempotency = &application.IdempotencyRecord{
			Scope: string(o.UserID()), RequestID: requestID, Fingerprint: Fingerprint,
			OrderID: o.ID(), Version: o.Version(), CreatedAt: createdAt,
		}
	}
	return c
}

// Rehydrate rebuilds an order from its history, failing the test on error.
func (f *Orders) Rehydrate(history []order.Event) *order.Order {
	f.t.Helper()
	o, err := order.Rehydrate(history)
	must(f.t, err)
	return o
}

// Address is the PostalAddress of a free-text address, as the API makes it
// of a plain shipping_address string.
func Address(t testing.TB, text string) order.PostalAddress {
	t.Helper()
	a, err := order.AddressFromText(text)
	must(t, err)
	return a
}

// StructuredAddress is a structured PostalAddress, with every part set.
func StructuredAddress(t testing.TB) order.PostalAddress {
	t.Helper()
	a, err := order.NewPostalAddress(order.PostalAddressFields{
		Recipient: "Erika Mustermann", Lines: []string{"Unter den Linden 1", "3. OG"}, PostalCode: "10117",
		Locality: "Berlin", AdministrativeArea: "Berlin", RegionCode: "DE",
	})
	must(t, err)
	return a
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
