package eventlog_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// storedHistory is a lifecycle's rows as the log stores them, at the
// current schema version, and the order they replay to.
func storedHistory(t *testing.T) ([]eventlog.StoredEvent, *order.Order) {
	t.Helper()
	f := apptest.NewOrders(t, 1)
	o := f.NewOrder("user-1")
	must(t, o.Confirm(f.Tick()))
	must(t, o.Pay(o.State().Total, "pay-1", f.Tick()))
	must(t, o.Ship("UPS", "1Z1", f.Tick()))
	p, err := eventlog.Prepare(f.Commit(o, 0, ""))
	must(t, err)
	rows := make([]eventlog.StoredEvent, len(p.Records))
	for i, r := range p.Records {
		rows[i] = eventlog.Stored(r)
	}
	return rows, o
}

// renameField is a test upcaster: a payload whose field was called from is
// rewritten with the field called to.
func renameField(from, to string, trace *[]string) eventlog.Upcaster {
	return func(r eventlog.StoredEvent) ([]eventlog.StoredEvent, error) {
		*trace = append(*trace, r.Type+" "+from+"->"+to)
		r.Data = bytes.Replace(r.Data, []byte(`"`+from+`"`), []byte(`"`+to+`"`), 1)
		return []eventlog.StoredEvent{r}, nil
	}
}

// A test-only chain of three schema versions: OrderShipped's carrier was
// "shipper" in version 1 and "courier" in version 2; every other type kept
// its payload.
func threeVersions(t *testing.T, trace *[]string) *eventlog.Upcasters {
	t.Helper()
	u, err := eventlog.NewUpcasters(3, map[int]map[string]eventlog.Upcaster{
		1: {order.TypeOrderShipped: renameField("shipper", "courier", trace)},
		2: {order.TypeOrderShipped: renameField("courier", "carrier", trace)},
	})
	must(t, err)
	return u
}

func TestOlderVersionsAreUpcastStepByStepBeforeTheDomainSeesThem(t *testing.T) {
	rows, o := storedHistory(t)
	for i := range rows { // the history as a build at schema version 1 wrote it
		rows[i].SchemaVersion = 1
		rows[i].Data = bytes.Replace(rows[i].Data, []byte(`"carrier"`), []byte(`"shipper"`), 1)
	}
	var trace []string
	d := threeVersions(t, &trace).NewHistoryDecoder(o.ID())
	history := make([]order.Event, len(rows))
	for i, r := range rows {
		var err error
		if history[i], err = d.Decode(r); err != nil {
			t.Fatalf("decode %s: %v", r.Type, err)
		}
	}
	rebuilt, err := order.Rehydrate(history)
	must(t, err)
	if diff := rebuilt.State().Diff(o.State()); len(diff) > 0 {
		t.Fatalf("upcast history rebuilds a different order: %v", diff)
	}
	if got := strings.Join(trace, ", "); got != "OrderShipped shipper->courier, OrderShipped courier->carrier" {
		t.Fatalf("upcasters ran: %s; want each step once, in version order", got)
	}
}

func TestUpcastStartsAtTheStoredVersionAndStopsAtTheCurrentOne(t *testing.T) {
	rows, _ := storedHistory(t)
	shipped := rows[len(rows)-1]
	var trace []string
	u := threeVersions(t, &trace)

	fromTwo := shipped
	fromTwo.SchemaVersion = 2
	fromTwo.Data = bytes.Replace(fromTwo.Data, []byte(`"carrier"`), []byte(`"courier"`), 1)
	got, err := u.Upcast(fromTwo)
	must(t, err)
	if got.SchemaVersion != 3 || !bytes.Equal(got.Data, shipped.Data) || got.Version != shipped.Version || got.Type != shipped.Type {
		t.Fatalf("upcast from version 2 = %+v, want the current payload %s at schema version 3", got, shipped.Data)
	}
	current := shipped
	current.SchemaVersion = 3
	if got, err := u.Upcast(current); err != nil || !bytes.Equal(got.Data, current.Data) {
		t.Fatalf("upcast of a current event = %s, %v; want it unchanged", got.Data, err)
	}
	if len(trace) != 1 {
		t.Fatalf("upcasters ran: %v; want only the step from version 2", trace)
	}
}

func TestUnknownSchemaVersionsAreRefused(t *testing.T) {
	rows, o := storedHistory(t)
	var trace []string
	u := threeVersions(t, &trace)
	for _, v := range []int{0, 4} {
		r := rows[0]
		r.SchemaVersion = v
		if _, err := u.NewHistoryDecoder(o.ID()).Decode(r); err == nil || !strings.Contains(err.Error(), "schema version") {
			t.Errorf("decode of schema version %d: error %v, want one naming the schema version", v, err)
		}
	}
	r := rows[0]
	r.SchemaVersion = application.CurrentEventSchemaVersion + 1
	if _, err := eventlog.Upcast(r); err == nil {
		t.Error("the registered chain upcast an event from a newer build")
	}
}

func TestUpcastersMustKeepOneEventOfTheStoredVersion(t *testing.T) {
	rows, _ := storedHistory(t)
	shipped := rows[len(rows)-1]
	shipped.SchemaVersion = 1
	for name, up := range map[string]eventlog.Upcaster{
		"drop":  func(eventlog.StoredEvent) ([]eventlog.StoredEvent, error) { return nil, nil },
		"split": func(r eventlog.StoredEvent) ([]eventlog.StoredEvent, error) { return []eventlog.StoredEvent{r, r}, nil },
		"renumber": func(r eventlog.StoredEvent) ([]eventlog.StoredEvent, error) {
			r.Version++
			return []eventlog.StoredEvent{r}, nil
		},
	} {
		u, err := eventlog.NewUpcasters(2, map[int]map[string]eventlog.Upcaster{1: {order.TypeOrderShipped: up}})
		must(t, err)
		if _, err := u.Upcast(shipped); err == nil || !strings.Contains(err.Error(), "exactly one") {
			t.Errorf("%s: error %v, want the one-event rule", name, err)
		}
	}
}

func TestTheChainCoversExactlyTheVersionsBelowTheCurrentOne(t *testing.T) {
	if got := eventlog.Registered().Current(); got != application.CurrentEventSchemaVersion {
		t.Fatalf("registered chain reads to version %d, the code writes %d", got, application.CurrentEventSchemaVersion)
	}
	for _, from := range []int{0, 3} {
		if _, err := eventlog.NewUpcasters(3, map[int]map[string]eventlog.Upcaster{from: {}}); err == nil {
			t.Errorf("a chain to version 3 accepted a step from version %d", from)
		}
	}
	if _, err := eventlog.NewUpcasters(0, nil); err == nil {
		t.Error("a chain to version 0 was accepted")
	}
}
