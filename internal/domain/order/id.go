package order

import (
	"encoding/hex"
	"fmt"
)

// ID identifies an order, a line item or an event: a 128-bit UUID. The
// generator lives outside the domain and is injected by the caller.
type ID [16]byte

// ParseID parses the canonical textual form
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (case-insensitive).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, invalid("id", "%q is not a UUID", truncate(s, 40))
	}
	compact := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(id[:], []byte(compact)); err != nil {
		return ID{}, invalid("id", "%q is not a UUID", truncate(s, 40))
	}
	return id, nil
}

// IsZero reports whether the id is the nil UUID, which never names an order.
func (id ID) IsZero() bool { return id == ID{} }

// String returns the canonical lower-case textual form.
func (id ID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], id[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], id[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], id[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], id[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], id[10:16])
	return string(b[:])
}

// GoString keeps %#v readable in test failures.
func (id ID) GoString() string { return fmt.Sprintf("order.ID(%q)", id.String()) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
