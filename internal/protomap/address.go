package protomap

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	orderv1 "github.com/acme/order-service/gen/order/v1"
	"github.com/acme/order-service/internal/domain/order"
)

// PostalAddress returns the wire form of an address. A free-text address has
// only address_lines.
func PostalAddress(a order.PostalAddress) *orderv1.PostalAddress {
	f := a.Fields()
	return &orderv1.PostalAddress{
		Recipient: f.Recipient, AddressLines: f.Lines, PostalCode: f.PostalCode, Locality: f.Locality,
		AdministrativeArea: f.AdministrativeArea, RegionCode: f.RegionCode,
	}
}

// PostalAddressFields returns the parts of a structured address a client
// sent, nil when it sent none.
func PostalAddressFields(m *orderv1.PostalAddress) *order.PostalAddressFields {
	if m == nil {
		return nil
	}
	f := fields(m)
	return &f
}

func fields(m *orderv1.PostalAddress) order.PostalAddressFields {
	return order.PostalAddressFields{
		Recipient: m.GetRecipient(), Lines: m.GetAddressLines(), PostalCode: m.GetPostalCode(), Locality: m.GetLocality(),
		AdministrativeArea: m.GetAdministrativeArea(), RegionCode: m.GetRegionCode(),
	}
}

// AddressOf is the address of an event payload. Since schema version 2
// the payload carries postal_address, structured, or, for an address given
// as free text, with address_lines only (its text is their lines); a
// version 1 payload has only the text, read as order.AddressFromText — the
// rule of the version 1→2 upcaster (StructureAddress), so a payload read
// before and after upcasting gives the same address.
func AddressOf(postal *orderv1.PostalAddress, text string) (order.PostalAddress, error) {
	switch {
	case postal == nil:
		return order.AddressFromText(text)
	case postal.GetRegionCode() == "" && postal.GetLocality() == "" && postal.GetRecipient() == "" &&
		postal.GetPostalCode() == "" && postal.GetAdministrativeArea() == "":
		return order.AddressFromText(strings.Join(postal.GetAddressLines(), "\n"))
	}
	return order.NewPostalAddress(fields(postal))
}

// StructureAddress is the payload change from schema version 1 to 2 of the
// events that carry an address (OrderCreated, ShippingAddressChanged): the
// text shipping_address gains the postal_address it stands for,
// order.AddressFromText of it; the text stays, now the formatted address.
func StructureAddress(eventType string, data []byte) ([]byte, error) {
	msg, err := NewPayload(eventType)
	if err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(data, msg); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	var text *string
	var postal **orderv1.PostalAddress
	switch m := msg.(type) {
	case *orderv1.OrderCreated:
		text, postal = &m.ShippingAddress, &m.PostalAddress
	case *orderv1.ShippingAddressChanged:
		text, postal = &m.ShippingAddress, &m.PostalAddress
	default:
		return nil, fmt.Errorf("%s carries no address", eventType)
	}
	a, err := AddressOf(nil, *text)
	if err != nil {
		return nil, fmt.Errorf("%s: shipping_address: %w", eventType, err)
	}
	*postal = PostalAddress(a)
	b, err := payloadJSON.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", eventType, err)
	}
	return b, nil
}

// AddressColumn is how the read model keeps an address's structure beside
// its formatted text (orders.postal_address): protobuf JSON of
// order.v1.PostalAddress, or nil for an address given as free text, which
// the text column holds exactly.
func AddressColumn(a order.PostalAddress) ([]byte, error) {
	if a.IsFreeText() || a.IsZero() {
		return nil, nil
	}
	b, err := payloadJSON.Marshal(PostalAddress(a))
	if err != nil {
		return nil, fmt.Errorf("encode postal address: %w", err)
	}
	return b, nil
}

// AddressFromColumns rebuilds an address from the read model's columns:
// the structure when there is one (AddressColumn), else the text.
func AddressFromColumns(text string, structure []byte) (order.PostalAddress, error) {
	if len(structure) == 0 {
		return order.AddressFromText(text)
	}
	m := &orderv1.PostalAddress{}
	if err := protojson.Unmarshal(structure, m); err != nil {
		return order.PostalAddress{}, fmt.Errorf("decode postal address: %w", err)
	}
	return AddressOf(m, text)
}
