package sqlite

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// Times are stored as INTEGER microseconds since the Unix epoch: the
// precision the application keeps (and PostgreSQL's), exact to compare and
// sort. They come back in UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores the zero time, "not yet", as NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// nullText stores an empty optional string as NULL, as PostgreSQL's nullable
// metadata columns do.
func nullText(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// idBytes is an id as its 16-byte BLOB: memcmp order is uuid order.
func idBytes(id order.ID) []byte { return id[:] }

func idFromBytes(b []byte) (order.ID, error) {
	var id order.ID
	if len(b) != len(id) {
		return id, fmt.Errorf("stored id has %d bytes, want %d", len(b), len(id))
	}
	copy(id[:], b)
	return id, nil
}

// money rebuilds an amount through the domain's validating constructor, so
// a corrupt row is reported rather than used.
func money(minor int64, currency order.Currency) (order.Money, error) {
	m, err := order.NewMoney(minor, currency)
	if err != nil {
		return order.Money{}, fmt.Errorf("stored amount %d %s: %w", minor, currency, err)
	}
	return m, nil
}
