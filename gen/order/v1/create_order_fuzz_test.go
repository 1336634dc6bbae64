package orderv1_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/application/apptest"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/memory"
)

// FuzzCreateOrderRequestValidation decodes arbitrary JSON as a
// CreateOrderRequest, as the HTTP gateway does, and validates it against the
// protovalidate rules of order.proto. A request the rules accept must also be
// one the domain can judge: run as application.CreateOrder (mapped field by
// field as grpcapi does) it succeeds or fails with *order.ValidationError or
// *order.RuleError, never an internal error or a panic. The rules compiling
// is checked too: a failure to validate must be a *protovalidate.ValidationError.
func FuzzCreateOrderRequestValidation(f *testing.F) {
	for _, seed := range []string{
		`{"user_id":"user-123","items":[{"product_id":"p-1","product_name":"Widget","quantity":2,"unit_price":"19.99"}],"shipping_address":"1 Main St"}`,
		`{"userId":"u","items":[{"productId":"a","productName":"A","quantity":10000,"unitPrice":"99999999.99"},{"productId":"b","productName":"B","quantity":1,"unitPrice":"0"}],"shippingAddress":"x\ny","currency":"EUR","requestId":"req-1"}`,
		`{"user_id":"u","items":[{"product_id":"p","product_name":"n","quantity":1,"unit_price":"1"}],"shipping_address":"a","currency":"XYZ"}`,
		`{"user_id":" ","items":[{"product_id":"\u0001","product_name":"n","quantity":1,"unit_price":"0.5"}],"shipping_address":"\u00a0"}`,
		`{"user_id":"u","items":[{"product_id":"p","product_name":"n","quantity":1,"unit_price":"1"},{"product_id":"p","product_name":"n","quantity":1,"unit_price":"1"}],"shipping_address":"a"}`,
		`{"user_id":"u","items":[],"shipping_address":"a","request_id":"\u007f"}`,
		`{}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	validator, err := protovalidate.New()
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, data []byte) {
		var req orderv1.CreateOrderRequest
		if err := protojson.Unmarshal(data, &req); err != nil {
			return
		}
		if err := validator.Validate(&req); err != nil {
			var verr *protovalidate.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("validate %s: %T %v; want a *protovalidate.ValidationError", data, err, err)
			}
			return
		}

		// The proto rules passed: now the domain decides.
		mem := memory.New()
		cmds := application.NewCommands(mem, mem, apptest.NewStepClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), time.Microsecond), apptest.NewSeqIDs(0xc0), application.CommandsConfig{})
		cmd := application.CreateOrder{
			Meta:   application.CommandMeta{Actor: application.Actor{ID: req.GetUserId(), Role: application.RoleCustomer}, RequestID: req.GetRequestId()},
			UserID: req.GetUserId(), ShippingAddress: req.GetShippingAddress(), Currency: req.GetCurrency(),
		}
		for _, it := range req.GetItems() {
			cmd.Items = append(cmd.Items, application.NewItem{
				ProductID: it.GetProductId(), ProductName: it.GetProductName(),
				Quantity: int64(it.GetQuantity()), UnitPrice: it.GetUnitPrice(),
			})
		}
		snap, err := cmds.CreateOrder(ctx, cmd)
		if err != nil {
			var invalid *order.ValidationError
			var rule *order.RuleError
			if !errors.As(err, &invalid) && !errors.As(err, &rule) {
				t.Fatalf("valid request %s: the domain failed with %T %v; want success, a validation or a rule error", data, err, err)
			}
			return
		}

		// Accepted: the order is the request.
		wantCurrency := order.Currency(req.GetCurrency())
		if wantCurrency == "" {
			wantCurrency = "USD"
		}
		if string(snap.UserID) != req.GetUserId() || snap.ShippingAddress.Format() != req.GetShippingAddress() ||
			snap.Currency != wantCurrency || snap.Status != order.StatusPending || snap.Version != 1 ||
			len(snap.Items) != len(req.GetItems()) {
			t.Fatalf("request %s created %+v", data, snap)
		}
		total, _ := order.NewMoney(0, snap.Currency)
		for i, l := range snap.Items {
			in := req.GetItems()[i]
			if l.ProductID() != in.GetProductId() || l.ProductName() != in.GetProductName() || l.Quantity().Int() != in.GetQuantity() {
				t.Fatalf("item %d of %s became %s × %d", i, data, l.ProductID(), l.Quantity().Int())
			}
			if price, err := order.ParseMoney("unit_price", in.GetUnitPrice(), snap.Currency); err != nil || price != l.UnitPrice() {
				t.Fatalf("item %d price %q became %s (%v)", i, in.GetUnitPrice(), l.UnitPrice(), err)
			}
			if total, err = total.Add(l.Subtotal()); err != nil {
				t.Fatalf("accepted an order whose total overflows: %v", err)
			}
		}
		if total != snap.Total {
			t.Fatalf("total %s; the lines add up to %s", snap.Total, total)
		}

		// A retry with the same request id is answered with the same order.
		if req.GetRequestId() != "" {
			again, err := cmds.CreateOrder(ctx, cmd)
			if err != nil {
				t.Fatalf("retry of %s: %v", data, err)
			}
			if d := again.Diff(snap); len(d) > 0 {
				t.Fatalf("retry of %s answered differently: %v", data, d)
			}
		}
	})
}
