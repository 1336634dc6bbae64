package order

import (
	"fmt"
	"strings"
)

// Limits of a structured postal address. The formatted form of any address
// also stays within MaxAddressLen, so it is always a valid ShippingAddress.
const (
	MaxAddressLines          = 5
	MaxRecipientLen          = 200
	MaxAddressLineLen        = 200
	MaxPostalCodeLen         = 16
	MaxLocalityLen           = 100
	MaxAdministrativeAreaLen = 100
)

// PostalAddress is where an order goes, structured as labels and tax need
// it, after the shape of google.type.PostalAddress: an optional recipient,
// one to five address lines, an optional postal code, the locality (city),
// an optional administrative area (state, province, region) and the
// ISO 3166-1 alpha-2 region code of the country.
//
// An address that came from free text (AddressFromText) has only lines and
// no region code: its country is unknown. Such an address keeps its text
// exactly: Format returns the text it was made from.
//
// PostalAddress is comparable: two addresses are the same address exactly
// when they are ==. The zero value is no address.
type PostalAddress struct {
	recipient          string
	lines              [MaxAddressLines]string
	lineCount          int
	postalCode         string
	locality           string
	administrativeArea string
	regionCode         string
}

// PostalAddressFields are the parts of a PostalAddress, as given to
// NewPostalAddress and returned by PostalAddress.Fields.
type PostalAddressFields struct {
	Recipient          string   // optional: person or company the parcel is for
	Lines              []string // 1..5 lines: street, number, building, floor
	PostalCode         string   // optional: some countries have none
	Locality           string   // city or town
	AdministrativeArea string   // optional: state, province or region
	RegionCode         string   // ISO 3166-1 alpha-2 country code, e.g. "DE"
}

// NewPostalAddress validates a structured address. Every field is trimmed of
// surrounding white space and must then be printable UTF-8 on one line within
// its length limit; the address lines (1..5) and the locality are required,
// the recipient, postal code and administrative area optional. The postal
// code holds letters, digits, spaces and hyphens and is upper-cased, as is
// the region code, which must be an officially assigned ISO 3166-1 alpha-2
// code. The formatted address must fit in MaxAddressLen characters.
func NewPostalAddress(f PostalAddressFields) (PostalAddress, error) {
	a := PostalAddress{
		recipient:          strings.TrimSpace(f.Recipient),
		postalCode:         strings.ToUpper(strings.TrimSpace(f.PostalCode)),
		locality:           strings.TrimSpace(f.Locality),
		administrativeArea: strings.TrimSpace(f.AdministrativeArea),
		regionCode:         strings.ToUpper(strings.TrimSpace(f.RegionCode)),
	}
	if err := a.setLines(f.Lines); err != nil {
		return PostalAddress{}, err
	}
	if err := a.check(); err != nil {
		return PostalAddress{}, err
	}
	return a, nil
}

func (a *PostalAddress) setLines(lines []string) error {
	if len(lines) == 0 || len(lines) > MaxAddressLines {
		return invalid("address_lines", "must have 1 to %d lines, got %d", MaxAddressLines, len(lines))
	}
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if err := checkText(fmt.Sprintf("address_lines[%d]", i), l, MaxAddressLineLen, false); err != nil {
			return err
		}
		a.lines[i] = l
	}
	a.lineCount = len(lines)
	return nil
}

func (a PostalAddress) check() error {
	checks := []error{
		checkOptionalText("recipient", a.recipient, MaxRecipientLen),
		checkPostalCode(a.postalCode),
		checkText("locality", a.locality, MaxLocalityLen, false),
		checkOptionalText("administrative_area", a.administrativeArea, MaxAdministrativeAreaLen),
		checkRegionCode(a.regionCode),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if _, err := NewShippingAddress(a.Format()); err != nil {
		return invalid("postal_address", "formatted, must be at most %d characters", MaxAddressLen)
	}
	return nil
}

func checkPostalCode(s string) error {
	if err := checkOptionalText("postal_code", s, MaxPostalCodeLen); err != nil {
		return err
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == ' ' || r == '-') {
			return invalid("postal_code", "may hold only letters, digits, spaces and hyphens")
		}
	}
	return nil
}

func checkRegionCode(s string) error {
	if len(s) != 2 || !strings.Contains(isoCountryCodes, " "+s+" ") {
		return invalid("region_code", "must be an ISO 3166-1 alpha-2 country code such as \"DE\"")
	}
	return nil
}

// AddressFromText turns a free-text shipping address into a PostalAddress
// without a country. The text must be a valid ShippingAddress; its lines
// (split at "\n" only, so a "\r" of a CRLF line break stays on its line)
// become the address lines, and a text of more than five lines keeps the
// rest, line breaks included, in the fifth. Nothing is lost:
// AddressFromText(s).Format() == s for every valid s.
func AddressFromText(s string) (PostalAddress, error) {
	if _, err := NewShippingAddress(s); err != nil {
		return PostalAddress{}, err
	}
	var a PostalAddress
	lines := strings.SplitN(s, "\n", MaxAddressLines)
	copy(a.lines[:], lines)
	a.lineCount = len(lines)
	return a, nil
}

// Fields returns the address's parts. For a structured address,
// NewPostalAddress(a.Fields()) == a; a free-text address is rebuilt with
// AddressFromText(a.Format()).
func (a PostalAddress) Fields() PostalAddressFields {
	return PostalAddressFields{
		Recipient: a.recipient, Lines: a.Lines(), PostalCode: a.postalCode, Locality: a.locality,
		AdministrativeArea: a.administrativeArea, RegionCode: a.regionCode,
	}
}

// Lines returns a copy of the address lines.
func (a PostalAddress) Lines() []string { return append([]string(nil), a.lines[:a.lineCount]...) }

// RegionCode returns the ISO 3166-1 alpha-2 country code, "" when unknown.
func (a PostalAddress) RegionCode() string { return a.regionCode }

// IsFreeText reports whether the address came from free text: it has lines
// only and no known country.
func (a PostalAddress) IsFreeText() bool { return a.regionCode == "" && !a.IsZero() }

// IsZero reports whether a is the zero value, no address at all.
func (a PostalAddress) IsZero() bool { return a == PostalAddress{} }

// Format returns the address as multi-line text for a label: the recipient,
// the address lines, "postal code locality", the administrative area and the
// region code, one per line, leaving out the parts the address does not have.
// A free-text address formats as the text it was made from.
func (a PostalAddress) Format() string {
	parts := make([]string, 0, a.lineCount+4)
	if a.recipient != "" {
		parts = append(parts, a.recipient)
	}
	parts = append(parts, a.lines[:a.lineCount]...)
	if city := strings.TrimSpace(a.postalCode + " " + a.locality); city != "" {
		parts = append(parts, city)
	}
	for _, p := range []string{a.administrativeArea, a.regionCode} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "\n")
}

// isoCountryCodes lists the 249 officially assigned ISO 3166-1 alpha-2 codes,
// each between spaces so that a lookup cannot match across two codes.
const isoCountryCodes = " " +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"YE YT " +
	"ZA ZM ZW "
