package eventlog_test

import (
	"errors"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

func TestPrepareThenDecodeRebuildsTheOrder(t *testing.T) {
	f := apptest.NewOrders(t, 1)
	o := f.NewOrder("user-1")
	must(t, o.Confirm(f.Tick()))
	must(t, o.Pay(o.State().Total, "pay-1", f.Tick())) // OrderPaid needs the currency of OrderCreated
	p, err := eventlog.Prepare(f.Commit(o, 0, "req-1"))
	must(t, err)
	if !p.NewOrder || !p.ItemsChanged || len(p.Records) != 3 || p.Idempotency == nil {
		t.Fatalf("prepared = new %v, items changed %v, %d records, request %v", p.NewOrder, p.ItemsChanged, len(p.Records), p.Idempotency)
	}
	rows := make([]eventlog.StoredEvent, len(p.Records))
	for i, r := range p.Records {
		rows[i] = eventlog.Stored(r)
	}
	history, err := eventlog.DecodeHistory(o.ID(), rows)
	must(t, err)
	if diff := f.Rehydrate(history).State().Diff(o.State()); len(diff) > 0 {
		t.Fatalf("decoded history rebuilds a different order: %v", diff)
	}

	rows[1].SchemaVersion = application.CurrentEventSchemaVersion + 1
	if _, err := eventlog.DecodeHistory(o.ID(), rows); err == nil {
		t.Fatal("a row of an unknown schema version was decoded")
	}
}

func TestPrepareReportsWhatChanged(t *testing.T) {
	f := apptest.NewOrders(t, 1)
	o := f.NewOrder("user-1")
	must(t, o.Confirm(f.Tick()))
	p, err := eventlog.Prepare(f.Commit(o, 1, ""))
	must(t, err)
	if p.NewOrder || p.ItemsChanged {
		t.Fatalf("confirm: new order %v, items changed %v; want neither", p.NewOrder, p.ItemsChanged)
	}
	broken := f.Commit(o, 1, "")
	broken.ExpectedVersion = 0
	if _, err := eventlog.Prepare(broken); !errors.Is(err, application.ErrInvalidCommit) {
		t.Fatalf("Prepare(version gap) error = %v, want ErrInvalidCommit", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
