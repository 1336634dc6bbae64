package application_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
	"github.com/acme/order-service/internal/testkit"
)

// recorder is a middleware that writes down what it sees.
type recorder struct {
	tag        string
	registered []application.Info
	calls      *[]string
	seen       []application.Call
	inHandler  []application.Info // InfoFrom the context next receives
}

func (r *recorder) middleware(info application.Info, next application.Next) application.Next {
	r.registered = append(r.registered, info)
	return func(ctx context.Context, call *application.Call) error {
		*r.calls = append(*r.calls, r.tag+" in")
		r.seen = append(r.seen, *call)
		got, _ := application.InfoFrom(ctx)
		r.inHandler = append(r.inHandler, got)
		err := next(ctx, call)
		*r.calls = append(*r.calls, r.tag+" out")
		return err
	}
}

func newService(t *testing.T, mws ...application.Middleware) *application.Service {
	t.Helper()
	mem := memory.New()
	clock := apptest.NewStepClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Millisecond)
	app, err := application.NewService(application.Ports{
		Events: mem, Requests: mem, Read: mem, Clock: clock, IDs: apptest.NewSeqIDs(0x0d),
	}, application.CommandsConfig{}, mws...)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestMiddlewaresWrapEveryHandlerOnce(t *testing.T) {
	var calls []string
	outer, inner := &recorder{tag: "outer", calls: &calls}, &recorder{tag: "inner", calls: &calls}
	app := newService(t, outer.middleware, inner.middleware)

	if len(outer.registered) != 13 || !slices.Equal(outer.registered, inner.registered) {
		t.Fatalf("registered %v and %v, want the 13 handlers in both", outer.registered, inner.registered)
	}
	kinds := map[application.Kind]int{}
	for _, info := range outer.registered {
		kinds[info.Kind]++
	}
	if kinds[application.KindCommand] != 10 || kinds[application.KindQuery] != 3 {
		t.Errorf("kinds %v, want 10 commands and 3 queries", kinds)
	}

	ctx := context.Background()
	created, err := app.CreateOrder.Handle(ctx, application.CreateOrder{
		Meta: application.CommandMeta{Actor: alice}, UserID: alice.ID, ShippingAddress: "1 Main St",
		Items: []application.NewItem{{ProductID: "sku-1", ProductName: "Widget", Quantity: 1, UnitPrice: "1.00"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID.String()
	_, err = app.ConfirmOrder.Handle(ctx, application.ConfirmOrder{Meta: application.CommandMeta{Actor: staff, ExpectedVersion: 7}, OrderID: id})
	var conflict *order.ConcurrencyError
	if !errors.As(err, &conflict) {
		t.Fatalf("stale ConfirmOrder = %v, want the handler's *order.ConcurrencyError through the middlewares", err)
	}
	if _, err := app.GetOrder.Handle(ctx, application.GetOrder{Actor: alice, OrderID: id}); err != nil {
		t.Fatal(err)
	}

	want := []string{"outer in", "inner in", "inner out", "outer out"}
	if !slices.Equal(calls, slices.Concat(want, want, want)) {
		t.Errorf("order of calls %v, want outer around inner", calls)
	}
	wantCalls := []application.Call{
		{Info: application.Info{Name: "CreateOrder", Kind: application.KindCommand}},
		{Info: application.Info{Name: "ConfirmOrder", Kind: application.KindCommand}, OrderID: id, ExpectedVersion: 7},
		{Info: application.Info{Name: "GetOrder", Kind: application.KindQuery}, OrderID: id},
	}
	for i, w := range wantCalls {
		if got := inner.seen[i]; got.Info != w.Info || got.OrderID != w.OrderID || got.ExpectedVersion != w.ExpectedVersion {
			t.Errorf("call %d = %+v, want %+v", i, got, w)
		}
		if inner.inHandler[i] != w.Info {
			t.Errorf("InfoFrom in call %d = %+v, want %+v", i, inner.inHandler[i], w.Info)
		}
	}
}

func TestMiddlewareMayRefuse(t *testing.T) {
	refused := errors.New("refused")
	app := newService(t, func(info application.Info, next application.Next) application.Next {
		return func(context.Context, *application.Call) error { return refused }
	})
	snap, err := app.GetOrder.Handle(context.Background(), application.GetOrder{Actor: alice, OrderID: "x"})
	if !errors.Is(err, refused) || snap.ID != (order.ID{}) {
		t.Errorf("GetOrder = %v, %v; want the middleware's error and no result", snap.ID, err)
	}
}

func TestNewServiceValidatesItsConfig(t *testing.T) {
	_, err := application.NewService(application.Ports{}, application.CommandsConfig{MaxAttempts: -1})
	if err == nil {
		t.Fatal("NewService accepted MaxAttempts -1")
	}
}

func TestCommandsConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  application.CommandsConfig
		want string // "" = valid; else a part of the error
	}{
		{"zero takes the defaults", application.CommandsConfig{}, ""},
		{"defaults", application.DefaultCommandsConfig(), ""},
		{"no retry", application.CommandsConfig{MaxAttempts: 1, DefaultCurrency: "EUR"}, ""},
		{"negative attempts", application.CommandsConfig{MaxAttempts: -1}, "max attempts"},
		{"endless attempts", application.CommandsConfig{MaxAttempts: 1_000_000}, "max attempts"},
		{"not a currency", application.CommandsConfig{DefaultCurrency: "usd"}, "currency"},
		{"unsupported currency", application.CommandsConfig{DefaultCurrency: "XXX"}, "currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckError(t, tc.cfg.Validate(), tc.want)
		})
	}
}
