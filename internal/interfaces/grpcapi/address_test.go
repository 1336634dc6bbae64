package grpcapi_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/interfaces/apitest"
)

func TestAStructuredAddressTravelsOverBothTransports(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx := testContext(t)
	berlin := &orderv1.PostalAddress{
		Recipient: "Erika Mustermann", AddressLines: []string{"Unter den Linden 1"}, PostalCode: "10117",
		Locality: "Berlin", RegionCode: "DE",
	}
	for name, client := range map[string]orderv1.OrderServiceClient{"grpc": env.GRPC, "rest": env.REST} {
		req := newOrder("u1")
		req.ShippingAddress, req.PostalAddress = "", berlin
		created, err := client.CreateOrder(ctx, req)
		if err != nil {
			t.Fatalf("%s CreateOrder: %v", name, err)
		}
		o := created.GetOrder()
		if !proto.Equal(o.GetPostalAddress(), berlin) || o.GetShippingAddress() != "Erika Mustermann\nUnter den Linden 1\n10117 Berlin\nDE" {
			t.Errorf("%s: created at %v / %q", name, o.GetPostalAddress(), o.GetShippingAddress())
		}
		moved, err := client.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{OrderId: o.GetId(), ShippingAddress: "1 Main St"})
		if err != nil {
			t.Fatalf("%s ChangeShippingAddress: %v", name, err)
		}
		if got := moved.GetOrder().GetPostalAddress(); got.GetRegionCode() != "" || len(got.GetAddressLines()) != 1 {
			t.Errorf("%s: a text address shows as %v, want its lines only", name, got)
		}
		_, err = client.ChangeShippingAddress(ctx, &orderv1.ChangeShippingAddressRequest{OrderId: o.GetId(), ShippingAddress: "2 Elm St", PostalAddress: berlin})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: both forms at once = %v, want INVALID_ARGUMENT", name, err)
		}
	}
}
