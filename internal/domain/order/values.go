package order

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits that protect the service and match the seed schema's column sizes.
const (
	MaxItems           = 100
	MinQuantity        = 1
	MaxQuantity        = 10_000
	MaxIdentifierLen   = 255 // VARCHAR(255): user_id, product_id, product_name
	MaxAddressLen      = 1_000
	MaxCarrierLen      = 100
	MaxTrackingLen     = 100
	MaxReasonLen       = 500
	MaxPaymentRefLen   = 255
	addressMayHaveLine = true
)

// UserID identifies the customer who owns an order.
type UserID string

// NewUserID validates a user id: 1..255 characters of printable UTF-8.
func NewUserID(s string) (UserID, error) {
	if err := checkText("user_id", s, MaxIdentifierLen, false); err != nil {
		return "", err
	}
	return UserID(s), nil
}

// ShippingAddress is where an order goes: free text, possibly several lines.
type ShippingAddress string

// NewShippingAddress validates an address: not blank, at most 1,000
// characters of valid UTF-8, no control characters other than line breaks.
func NewShippingAddress(s string) (ShippingAddress, error) {
	if err := checkText("shipping_address", s, MaxAddressLen, addressMayHaveLine); err != nil {
		return "", err
	}
	return ShippingAddress(s), nil
}

// Quantity is how many units of a product a line holds: 1..10,000.
type Quantity struct{ n int32 }

// NewQuantity validates a quantity.
func NewQuantity(n int64) (Quantity, error) {
	if n < MinQuantity || n > MaxQuantity {
		return Quantity{}, invalid("quantity", "must be between %d and %d", MinQuantity, MaxQuantity)
	}
	return Quantity{n: int32(n)}, nil
}

// Int returns the quantity as a number.
func (q Quantity) Int() int32 { return q.n }

// Shipment data and other free-text facts share the same text rules.
func checkText(field, s string, maxRunes int, allowNewlines bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if strings.TrimSpace(s) == "" {
		return invalid(field, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return invalid(field, "must be at most %d characters, got %d", maxRunes, n)
	}
	for _, r := range s {
		if allowNewlines && (r == '\n' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// checkOptionalText is checkText for fields that may be empty.
func checkOptionalText(field, s string, maxRunes int) error {
	if s == "" {
		return nil
	}
	return checkText(field, s, maxRunes, false)
}
