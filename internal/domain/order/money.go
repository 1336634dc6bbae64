package order

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxAmount is the largest amount in minor units: the seed schema stores money
// as DECIMAL(10,2), whose largest value is 99,999,999.99.
const MaxAmount int64 = 9_999_999_999

// Currency is an ISO 4217 code of a currency with two minor-unit digits.
type Currency string

// twoDecimalCurrencies lists the ISO 4217 currencies the service accepts. The
// seed schema fixes two fraction digits (DECIMAL(10,2)), so currencies with
// zero or three minor-unit digits (JPY, KWD, …) are deliberately not accepted.
var twoDecimalCurrencies = map[Currency]bool{
	"AED": true, "AUD": true, "BGN": true, "BRL": true, "CAD": true, "CHF": true,
	"CNY": true, "CZK": true, "DKK": true, "EUR": true, "GBP": true, "HKD": true,
	"HUF": true, "ILS": true, "INR": true, "MXN": true, "MYR": true, "NOK": true,
	"NZD": true, "PHP": true, "PLN": true, "RON": true, "SAR": true, "SEK": true,
	"SGD": true, "THB": true, "TRY": true, "USD": true, "ZAR": true,
}

// ParseCurrency validates an ISO 4217 code.
func ParseCurrency(code string) (Currency, error) {
	c := Currency(code)
	if !twoDecimalCurrencies[c] {
		return "", invalid("currency", "%q is not a supported ISO 4217 currency with two decimal places", truncate(code, 8))
	}
	return c, nil
}

// Money is an exact, non-negative amount in minor units (cents) of a currency,
// bounded by MaxAmount. Arithmetic that would leave the bounds is an error,
// never a wrap-around.
type Money struct {
	minor    int64
	currency Currency
}

// NewMoney builds an amount from minor units.
func NewMoney(minor int64, currency Currency) (Money, error) {
	if minor < 0 || minor > MaxAmount {
		return Money{}, invalid("amount", "must be between 0 and %s", formatMinor(MaxAmount))
	}
	if !twoDecimalCurrencies[currency] {
		return Money{}, invalid("currency", "%q is not a supported currency", truncate(string(currency), 8))
	}
	return Money{minor: minor, currency: currency}, nil
}

// ParseMoney parses a plain decimal string such as "19.99", "5" or "0.5".
// More than two fraction digits, signs, exponents and separators are rejected:
// the value must be representable exactly. field names the input in errors.
func ParseMoney(field, s string, currency Currency) (Money, error) {
	if !twoDecimalCurrencies[currency] {
		return Money{}, invalid("currency", "%q is not a supported currency", truncate(string(currency), 8))
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || len(whole) > 8 || !allDigits(whole) || (len(whole) > 1 && whole[0] == '0') {
		return Money{}, invalid(field, "%q is not a decimal amount between 0 and 99999999.99", truncate(s, 24))
	}
	if hasPoint && (frac == "" || len(frac) > 2 || !allDigits(frac)) {
		return Money{}, invalid(field, "%q must have one or two fraction digits", truncate(s, 24))
	}
	units, _ := strconv.ParseInt(whole, 10, 64) // at most 8 digits: cannot fail
	cents := int64(0)
	if frac != "" {
		cents, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			cents *= 10
		}
	}
	// At most 8 whole digits and 2 fraction digits: always within MaxAmount.
	return Money{minor: units*100 + cents, currency: currency}, nil
}

// Minor returns the amount in minor units.
func (m Money) Minor() int64 { return m.minor }

// Currency returns the amount's currency.
func (m Money) Currency() Currency { return m.currency }

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.minor == 0 }

// String formats the amount as a plain decimal with two fraction digits.
func (m Money) String() string { return formatMinor(m.minor) }

// Add returns m+o; both must share a currency and the sum must stay in bounds.
func (m Money) Add(o Money) (Money, error) {
	if m.currency != o.currency {
		return Money{}, invalid("currency", "cannot add %s to %s", o.currency, m.currency)
	}
	return NewMoney(m.minor+o.minor, m.currency) // both ≤ MaxAmount: the sum cannot overflow int64
}

// Sub returns m-o; the result must not be negative.
func (m Money) Sub(o Money) (Money, error) {
	if m.currency != o.currency {
		return Money{}, invalid("currency", "cannot subtract %s from %s", o.currency, m.currency)
	}
	return NewMoney(m.minor-o.minor, m.currency)
}

// Times returns m×q, or an error when the product leaves the bounds.
func (m Money) Times(q Quantity) (Money, error) {
	if q.n != 0 && m.minor > math.MaxInt64/int64(q.n) {
		return Money{}, invalid("amount", "product overflows")
	}
	return NewMoney(m.minor*int64(q.n), m.currency)
}

func formatMinor(minor int64) string {
	return fmt.Sprintf("%d.%02d", minor/100, minor%100)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
