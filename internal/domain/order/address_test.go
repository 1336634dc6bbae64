package order_test

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/acme/order-service/internal/domain/order"
)

// berlin is a complete structured address.
var berlin = order.PostalAddressFields{
	Recipient: "Erika Mustermann", Lines: []string{"Unter den Linden 1", "3. OG"},
	PostalCode: "10117", Locality: "Berlin", AdministrativeArea: "Berlin", RegionCode: "DE",
}

// with returns berlin changed by edit.
func with(edit func(*order.PostalAddressFields)) order.PostalAddressFields {
	f := berlin
	f.Lines = append([]string(nil), berlin.Lines...)
	edit(&f)
	return f
}

func TestNewPostalAddress(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name  string
		in    order.PostalAddressFields
		field string // "" when valid
	}{
		{"complete", berlin, ""},
		{"minimal", order.PostalAddressFields{Lines: []string{"1 Main St"}, Locality: "Springfield", RegionCode: "US"}, ""},
		{"no postal code (Hong Kong)", with(func(f *order.PostalAddressFields) { f.PostalCode, f.RegionCode = "", "HK" }), ""},
		{"five lines", with(func(f *order.PostalAddressFields) { f.Lines = []string{"a", "b", "c", "d", "e"} }), ""},
		{"longest fields", order.PostalAddressFields{
			Recipient: long(order.MaxRecipientLen), Lines: []string{long(order.MaxAddressLineLen)},
			PostalCode: strings.Repeat("9", order.MaxPostalCodeLen), Locality: long(order.MaxLocalityLen),
			AdministrativeArea: long(order.MaxAdministrativeAreaLen), RegionCode: "JP",
		}, ""},
		{"UK postal code", with(func(f *order.PostalAddressFields) { f.PostalCode, f.RegionCode = "SW1A 1AA", "GB" }), ""},
		{"Brazilian postal code", with(func(f *order.PostalAddressFields) { f.PostalCode, f.RegionCode = "01310-100", "BR" }), ""},

		{"no lines", with(func(f *order.PostalAddressFields) { f.Lines = nil }), "address_lines"},
		{"six lines", with(func(f *order.PostalAddressFields) { f.Lines = []string{"a", "b", "c", "d", "e", "f"} }), "address_lines"},
		{"blank line", with(func(f *order.PostalAddressFields) { f.Lines[1] = " \t" }), "address_lines[1]"},
		{"line break in a line", with(func(f *order.PostalAddressFields) { f.Lines[0] = "a\nb" }), "address_lines[0]"},
		{"line too long", with(func(f *order.PostalAddressFields) { f.Lines[0] = long(order.MaxAddressLineLen + 1) }), "address_lines[0]"},
		{"invalid UTF-8 line", with(func(f *order.PostalAddressFields) { f.Lines[0] = "a\xffb" }), "address_lines[0]"},
		{"control character in recipient", with(func(f *order.PostalAddressFields) { f.Recipient = "a\x00b" }), "recipient"},
		{"recipient too long", with(func(f *order.PostalAddressFields) { f.Recipient = long(order.MaxRecipientLen + 1) }), "recipient"},
		{"postal code with a slash", with(func(f *order.PostalAddressFields) { f.PostalCode = "101/17" }), "postal_code"},
		{"postal code too long", with(func(f *order.PostalAddressFields) { f.PostalCode = strings.Repeat("1", order.MaxPostalCodeLen+1) }), "postal_code"},
		{"no locality", with(func(f *order.PostalAddressFields) { f.Locality = " " }), "locality"},
		{"locality on two lines", with(func(f *order.PostalAddressFields) { f.Locality = "Ber\nlin" }), "locality"},
		{"administrative area too long", with(func(f *order.PostalAddressFields) { f.AdministrativeArea = long(order.MaxAdministrativeAreaLen + 1) }), "administrative_area"},
		{"no region code", with(func(f *order.PostalAddressFields) { f.RegionCode = "" }), "region_code"},
		{"alpha-3 region code", with(func(f *order.PostalAddressFields) { f.RegionCode = "DEU" }), "region_code"},
		{"unassigned region code", with(func(f *order.PostalAddressFields) { f.RegionCode = "ZZ" }), "region_code"},
		{"UK is not the ISO code", with(func(f *order.PostalAddressFields) { f.RegionCode = "UK" }), "region_code"},
		{"region code across two codes", with(func(f *order.PostalAddressFields) { f.RegionCode = "E D" }), "region_code"},
		{"too long formatted", order.PostalAddressFields{
			Recipient: long(order.MaxRecipientLen), Lines: []string{long(200), long(200), long(200), long(200), long(200)},
			Locality: "x", RegionCode: "FR",
		}, "postal_address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := order.NewPostalAddress(tt.in)
			if tt.field != "" {
				checkErr(t, err, isInvalid(tt.field))
				messageNamesField(t, err)
				if !a.IsZero() {
					t.Errorf("NewPostalAddress returned %+v with its error", a.Fields())
				}
				return
			}
			checkErr(t, err, nil)
			if again, err := order.NewPostalAddress(a.Fields()); err != nil || again != a {
				t.Errorf("NewPostalAddress(a.Fields()) = %+v, %v; want a back", again.Fields(), err)
			}
			if _, err := order.NewShippingAddress(a.Format()); err != nil {
				t.Errorf("Format() %q is not a valid ShippingAddress: %v", a.Format(), err)
			}
			if a.IsFreeText() || a.IsZero() {
				t.Errorf("IsFreeText() = %v, IsZero() = %v; want false, false", a.IsFreeText(), a.IsZero())
			}
		})
	}
}

func TestNewPostalAddressNormalizes(t *testing.T) {
	a, err := order.NewPostalAddress(order.PostalAddressFields{
		Recipient: "  Jane Doe ", Lines: []string{" 10 Downing St\t"}, PostalCode: " sw1a 2aa ",
		Locality: " London ", RegionCode: "gb",
	})
	checkErr(t, err, nil)
	want := order.PostalAddressFields{Recipient: "Jane Doe", Lines: []string{"10 Downing St"}, PostalCode: "SW1A 2AA", Locality: "London", RegionCode: "GB"}
	if got := a.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("Fields() = %+v; want %+v", got, want)
	}
	b, err := order.NewPostalAddress(want)
	checkErr(t, err, nil)
	if a != b {
		t.Error("the same address written differently is not ==")
	}
}

func TestPostalAddressFormat(t *testing.T) {
	tests := []struct {
		name string
		in   order.PostalAddressFields
		want string
	}{
		{"complete", berlin, "Erika Mustermann\nUnter den Linden 1\n3. OG\n10117 Berlin\nBerlin\nDE"},
		{"no recipient, postal code or area", order.PostalAddressFields{Lines: []string{"Nathan Rd 1"}, Locality: "Kowloon", RegionCode: "HK"}, "Nathan Rd 1\nKowloon\nHK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := order.NewPostalAddress(tt.in)
			checkErr(t, err, nil)
			if got := a.Format(); got != tt.want {
				t.Errorf("Format() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestPostalAddressEquality(t *testing.T) {
	a := mustPostal(t, berlin)
	if b := mustPostal(t, with(func(*order.PostalAddressFields) {})); a != b {
		t.Error("equal fields are not ==")
	}
	edits := map[string]func(*order.PostalAddressFields){
		"recipient":           func(f *order.PostalAddressFields) { f.Recipient = "" },
		"line":                func(f *order.PostalAddressFields) { f.Lines[1] = "4. OG" },
		"one line fewer":      func(f *order.PostalAddressFields) { f.Lines = f.Lines[:1] },
		"postal code":         func(f *order.PostalAddressFields) { f.PostalCode = "10115" },
		"locality":            func(f *order.PostalAddressFields) { f.Locality = "Potsdam" },
		"administrative area": func(f *order.PostalAddressFields) { f.AdministrativeArea = "" },
		"region code":         func(f *order.PostalAddressFields) { f.RegionCode = "AT" },
	}
	for name, edit := range edits {
		if b := mustPostal(t, with(edit)); a == b {
			t.Errorf("a different %s is still ==", name)
		}
	}
	text := mustText(t, a.Format())
	if text == a {
		t.Error("a free-text address equals the structured one it was formatted from")
	}
	if text != mustText(t, a.Format()) {
		t.Error("the same text twice is not ==")
	}
	if mustText(t, "a\n") == mustText(t, "a") {
		t.Error("a trailing empty line is lost in ==")
	}
}

func TestAddressFromText(t *testing.T) {
	tests := []struct {
		name, in string
		lines    []string
	}{
		{"one line", "1 Main St", []string{"1 Main St"}},
		{"two lines", "1 Main St\nSpringfield", []string{"1 Main St", "Springfield"}},
		{"CRLF keeps its CR", "2 Elm St\r\nApt 3", []string{"2 Elm St\r", "Apt 3"}},
		{"blank and padded lines", "\n  a \n\n b", []string{"", "  a ", "", " b"}},
		{"five lines", "1\n2\n3\n4\n5", []string{"1", "2", "3", "4", "5"}},
		{"seven lines keep the rest in the fifth", "1\n2\n3\n4\n5\n6\n7", []string{"1", "2", "3", "4", "5\n6\n7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := order.AddressFromText(tt.in)
			checkErr(t, err, nil)
			if got := a.Lines(); !reflect.DeepEqual(got, tt.lines) {
				t.Errorf("Lines() = %q; want %q", got, tt.lines)
			}
			if a.Format() != tt.in {
				t.Errorf("Format() = %q; want %q", a.Format(), tt.in)
			}
			if !a.IsFreeText() || a.RegionCode() != "" {
				t.Errorf("IsFreeText() = %v, RegionCode() = %q; want true, \"\"", a.IsFreeText(), a.RegionCode())
			}
			f := a.Fields()
			if f.Recipient+f.PostalCode+f.Locality+f.AdministrativeArea+f.RegionCode != "" {
				t.Errorf("Fields() = %+v; want lines only", f)
			}
		})
	}
	for _, bad := range []string{"", " \n\t", "a\x00b", "a\xffb", strings.Repeat("a", order.MaxAddressLen+1)} {
		if a, err := order.AddressFromText(bad); err == nil || !a.IsZero() {
			t.Errorf("AddressFromText(%q) = %+v, %v; want an error", bad, a.Fields(), err)
		} else {
			checkErr(t, err, isInvalid("shipping_address"))
		}
	}
}

func TestLinesIsACopy(t *testing.T) {
	a := mustPostal(t, berlin)
	a.Lines()[0] = "changed"
	a.Fields().Lines[0] = "changed"
	if a.Lines()[0] != berlin.Lines[0] {
		t.Error("changing the returned lines changed the address")
	}
}

func mustPostal(t *testing.T, f order.PostalAddressFields) order.PostalAddress {
	t.Helper()
	a, err := order.NewPostalAddress(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustText(t *testing.T, s string) order.PostalAddress {
	t.Helper()
	a, err := order.AddressFromText(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// addressRunes mixes what free text may hold with what it may not, weighted
// toward line breaks and white space so that texts have many, blank and
// padded lines.
var addressRunes = []rune{'a', 'Z', '7', ' ', '\t', '\n', '\n', '\n', '\r', '\r', 'é', '日', '–', '\u00a0', '\u2028', '\x00', '\x1b', '\u0085'}

func randomText(r *rand.Rand) string {
	var b strings.Builder
	n := r.IntN(40)
	if r.IntN(20) == 0 {
		n = order.MaxAddressLen - 5 + r.IntN(10) // around the length limit
	}
	for range n {
		b.WriteRune(addressRunes[r.IntN(len(addressRunes))])
	}
	return b.String()
}

// Every text the seed accepts as a shipping address is a free-text postal
// address that formats back to the same text; every text it rejects is
// rejected too.
func TestAddressFromTextRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	valid := 0
	for range 20_000 {
		s := randomText(r)
		checkTextRoundTrip(t, s)
		if _, err := order.NewShippingAddress(s); err == nil {
			valid++
		}
	}
	if valid < 1_000 {
		t.Fatalf("only %d valid texts generated; the generator is too strict to test anything", valid)
	}
}

func FuzzAddressFromText(f *testing.F) {
	for _, s := range []string{"1 Main St", "2 Elm St\r\nApt 3", "\n\n\n\n\n\nx", "a\rb", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(checkTextRoundTrip)
}

func checkTextRoundTrip(t *testing.T, s string) {
	t.Helper()
	_, textErr := order.NewShippingAddress(s)
	a, err := order.AddressFromText(s)
	switch {
	case (err == nil) != (textErr == nil):
		t.Fatalf("AddressFromText(%q) error %v, but NewShippingAddress error %v", s, err, textErr)
	case err != nil:
		return
	case a.Format() != s:
		t.Fatalf("AddressFromText(%q).Format() = %q", s, a.Format())
	case len(a.Lines()) > order.MaxAddressLines:
		t.Fatalf("AddressFromText(%q) has %d lines", s, len(a.Lines()))
	case mustText(t, a.Format()) != a:
		t.Fatalf("AddressFromText(%q) is not rebuilt from its Format()", s)
	}
}
