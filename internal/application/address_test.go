package application_test

import (
	"context"
	"errors"
	"testing"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
)

func TestAnAddressIsGivenAsTextOrStructuredButNotBoth(t *testing.T) {
	h := newMemoryHarness(t)
	ctx := context.Background()
	berlin := &order.PostalAddressFields{Recipient: "Erika", Lines: []string{"Unter den Linden 1"}, PostalCode: "10117", Locality: "Berlin", RegionCode: "de"}
	create := func(text string, structured *order.PostalAddressFields) (order.State, error) {
		return h.commands.CreateOrder(ctx, application.CreateOrder{
			Meta: application.CommandMeta{Actor: alice}, UserID: alice.ID, ShippingAddress: text, PostalAddress: structured,
			Items: []application.NewItem{{ProductID: "sku-1", ProductName: "Widget", Quantity: 1, UnitPrice: "1"}},
		})
	}

	s, err := create("", berlin)
	if err != nil || s.ShippingAddress.RegionCode() != "DE" || s.ShippingAddress.Format() != "Erika\nUnter den Linden 1\n10117 Berlin\nDE" {
		t.Fatalf("structured: %q, %v", s.ShippingAddress.Format(), err)
	}
	text, err := create("1 Main St\nSpringfield", nil)
	if err != nil || !text.ShippingAddress.IsFreeText() || text.ShippingAddress.Format() != "1 Main St\nSpringfield" {
		t.Fatalf("free text: %q, %v", text.ShippingAddress.Format(), err)
	}
	for name, tc := range map[string]struct {
		text       string
		structured *order.PostalAddressFields
		field      string
	}{
		"neither":          {"", nil, "shipping_address"},
		"both":             {"1 Main St", berlin, "postal_address"},
		"no country":       {"", &order.PostalAddressFields{Lines: []string{"1 Main St"}, Locality: "Berlin"}, "region_code"},
		"structured blank": {"", &order.PostalAddressFields{}, "address_lines"},
	} {
		_, err := create(tc.text, tc.structured)
		var invalid *order.ValidationError
		if !errors.As(err, &invalid) || invalid.Field != tc.field {
			t.Errorf("%s: error %v, want invalid %s", name, err, tc.field)
		}
	}

	changed, err := h.commands.ChangeShippingAddress(ctx, application.ChangeShippingAddress{
		Meta: application.CommandMeta{Actor: alice}, OrderID: text.ID.String(), PostalAddress: berlin,
	})
	if err != nil || changed.ShippingAddress != s.ShippingAddress || changed.Version != 2 {
		t.Fatalf("change to structured: %q v%d, %v", changed.ShippingAddress.Format(), changed.Version, err)
	}
}
