package application

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/acme/order-service/internal/domain/order"
)

// Page tokens are opaque to clients: base64url of a small JSON document that
// holds the keyset position and the query it belongs to. A token used with a
// different query, or one that does not decode, is an invalid argument. A
// forged token can only move the cursor within what the caller may read
// anyway: authorization never depends on the token.

// MaxPageTokenLen bounds what a client may send as a page token.
const MaxPageTokenLen = 512

type orderPageToken struct {
	UserID    string    `json:"u"`
	Status    string    `json:"s,omitempty"`
	CreatedAt time.Time `json:"t"`
	OrderID   string    `json:"i"`
}

type eventPageToken struct {
	OrderID string `json:"o"`
	Version int    `json:"v"`
	// From is the first version the query asked for; tokens issued before
	// queries could name one hold 0, which means 1.
	From int `json:"f,omitempty"`
}

func encodeToken(v any) string {
	b, _ := json.Marshal(v) // plain structs of strings, times and ints: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(raw string, v any) error {
	bad := &order.ValidationError{Field: "page_token", Reason: "is not a token this service issued"}
	if len(raw) > MaxPageTokenLen {
		return bad
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return bad
	}
	if err := json.Unmarshal(b, v); err != nil {
		return bad
	}
	return nil
}

func (f OrderFilter) nextToken(last order.State) string {
	return encodeToken(orderPageToken{UserID: string(f.UserID), Status: string(f.Status), CreatedAt: last.CreatedAt, OrderID: last.ID.String()})
}

// cursorFromToken decodes a ListOrders token and checks it belongs to the
// same user and status filter.
func (f OrderFilter) cursorFromToken(raw string) (*OrderCursor, error) {
	var t orderPageToken
	if err := decodeToken(raw, &t); err != nil {
		return nil, err
	}
	id, err := order.ParseID(t.OrderID)
	if err != nil || t.CreatedAt.IsZero() {
		return nil, &order.ValidationError{Field: "page_token", Reason: "is not a token this service issued"}
	}
	if t.UserID != string(f.UserID) || t.Status != string(f.Status) {
		return nil, &order.ValidationError{Field: "page_token", Reason: "belongs to a different query"}
	}
	return &OrderCursor{CreatedAt: t.CreatedAt, ID: id}, nil
}

func nextEventToken(id order.ID, from int, last EventRecord) string {
	return encodeToken(eventPageToken{OrderID: id.String(), Version: last.Version, From: from})
}

// eventCursorFromToken decodes a ListOrderEvents token and checks it
// belongs to the same order and first version (from, at least 1).
func eventCursorFromToken(raw string, id order.ID, from int) (int, error) {
	var t eventPageToken
	if err := decodeToken(raw, &t); err != nil {
		return 0, err
	}
	switch {
	case t.OrderID != id.String():
		return 0, &order.ValidationError{Field: "page_token", Reason: "belongs to a different query"}
	case max(t.From, 1) != from:
		return 0, &order.ValidationError{Field: "from_version", Reason: fmt.Sprintf("differs from the from_version %d the page token was issued for", max(t.From, 1))}
	case t.Version < from: // a page ends at or after its first version
		return 0, &order.ValidationError{Field: "page_token", Reason: "is not a token this service issued"}
	}
	return t.Version, nil
}
