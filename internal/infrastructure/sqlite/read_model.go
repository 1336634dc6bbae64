package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// querier is what both *sql.DB and *sql.Tx offer for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// GetOrder implements application.ReadModel.
func (s *EmbeddedStore) GetOrder(ctx context.Context, id order.ID) (order.State, error) {
	var snap order.State
	err := s.read(ctx, func(tx *sql.Tx) error {
		var r orderRow
		err := tx.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, idBytes(id)).Scan(r.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return order.ErrNotFound
		}
		if err != nil {
			return dbError(ctx, "get order", err)
		}
		snap, err = withItems(ctx, tx, r)
		return err
	})
	if err != nil {
		return order.State{}, fmt.Errorf("get order %s: %w", id, err)
	}
	return snap, nil
}

// ListOrders implements application.ReadModel. The row-value comparison
// (created_at, id) < (?, ?) is the keyset condition; ids are 16-byte BLOBs
// compared with memcmp, so ties break as PostgreSQL's uuid order does.
func (s *EmbeddedStore) ListOrders(ctx context.Context, f application.OrderFilter) ([]order.State, error) {
	if f.Limit <= 0 {
		return nil, nil
	}
	query, args := listOrdersQuery(f)
	var out []order.State
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := scanOrderRows(ctx, tx, query, args)
		if err != nil {
			return err
		}
		for _, r := range rows {
			snap, err := withItems(ctx, tx, r)
			if err != nil {
				return err
			}
			out = append(out, snap)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list orders of %q: %w", f.UserID, err)
	}
	return out, nil
}

// listOrdersQuery builds the page query from fixed fragments; only values
// are parameters.
func listOrdersQuery(f application.OrderFilter) (string, []any) {
	query := `SELECT ` + orderColumns + ` FROM orders WHERE user_id = ?`
	args := []any{string(f.UserID)}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	if c := f.After; c != nil {
		query += ` AND (created_at, id) < (?, ?)`
		args = append(args, micros(c.CreatedAt), idBytes(c.ID))
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	return query, append(args, f.Limit)
}

// scanOrderRows reads the whole page before items are queried, so only one
// statement is open on the transaction's connection at a time.
func scanOrderRows(ctx context.Context, q querier, query string, args []any) ([]orderRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbError(ctx, "query orders", err)
	}
	defer rows.Close()
	var out []orderRow
	for rows.Next() {
		var r orderRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("scan order: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, "query orders", err)
	}
	return out, nil
}

// withItems completes an order row with its lines. One query per order is
// fine here: SQLite runs in-process, so there is no round trip to save.
func withItems(ctx context.Context, q querier, r orderRow) (order.State, error) {
	snap, err := r.snapshot()
	if err != nil {
		return order.State{}, err
	}
	snap.Items, err = loadItems(ctx, q, snap.ID, snap.Currency)
	if err != nil {
		return order.State{}, err
	}
	return snap, nil
}

func loadItems(ctx context.Context, q querier, id order.ID, currency order.Currency) ([]order.LineItem, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, product_id, product_name, quantity, unit_price
		FROM order_items WHERE order_id = ? ORDER BY line_no`, idBytes(id))
	if err != nil {
		return nil, dbError(ctx, "query order items", err)
	}
	defer rows.Close()
	var items []order.LineItem
	for rows.Next() {
		item, err := scanItem(rows, currency)
		if err != nil {
			return nil, fmt.Errorf("order %s: %w", id, err)
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, "query order items", err)
	}
	return items, nil
}

// scanItem rebuilds a line through order.NewLineItem, which recomputes the
// subtotal from the stored unit price and quantity.
func scanItem(rows *sql.Rows, currency order.Currency) (order.LineItem, error) {
	var (
		rawID               []byte
		productID, name     string
		quantity, unitMinor int64
	)
	if err := rows.Scan(&rawID, &productID, &name, &quantity, &unitMinor); err != nil {
		return order.LineItem{}, fmt.Errorf("scan item: %w", err)
	}
	id, err := idFromBytes(rawID)
	if err != nil {
		return order.LineItem{}, fmt.Errorf("item: %w", err)
	}
	price, err := money(unitMinor, currency)
	if err != nil {
		return order.LineItem{}, fmt.Errorf("item %s unit price: %w", id, err)
	}
	item, err := order.NewLineItem(id, productID, name, quantity, price)
	if err != nil {
		return order.LineItem{}, fmt.Errorf("item %s: %w", id, err)
	}
	return item, nil
}

// ListOrderEvents implements application.ReadModel.
func (s *EmbeddedStore) ListOrderEvents(ctx context.Context, id order.ID, afterVersion, limit int) ([]application.EventRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	stored, err := queryEvents(ctx, s.db, `SELECT `+eventColumns+` FROM order_events
		WHERE aggregate_id = ? AND version > ? ORDER BY version LIMIT ?`, idBytes(id), afterVersion, limit)
	if err != nil {
		return nil, fmt.Errorf("list events of order %s: %w", id, err)
	}
	records := make([]application.EventRecord, len(stored))
	for i, e := range stored {
		records[i] = e.record
	}
	if err := eventlog.UpcastRecords(records); err != nil {
		return nil, fmt.Errorf("list events of order %s: %w", id, err)
	}
	return records, nil
}
