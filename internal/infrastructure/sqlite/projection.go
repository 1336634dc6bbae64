package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/protomap"
)

// orderColumns lists the orders columns in the order orderRow binds and scans.
const orderColumns = `id, user_id, total_amount, status, shipping_address, created_at, updated_at,
	version, currency, payment_amount, payment_reference, paid_at, carrier, tracking_number,
	shipped_at, delivered_at, cancel_reason, refund_due, refund_amount, cancelled_at, postal_address`

// orderRow is one orders row as SQLite holds it.
type orderRow struct {
	id                        []byte
	userID, status, address   string
	currency                  string
	total                     int64
	createdAt, updatedAt      int64
	version                   int
	paymentAmount             sql.NullInt64
	paymentReference          sql.NullString
	paidAt                    sql.NullInt64
	carrier, trackingNumber   sql.NullString
	shippedAt, deliveredAt    sql.NullInt64
	cancelReason              sql.NullString
	refundDue                 bool
	refundAmount, cancelledAt sql.NullInt64
	postalAddress             sql.NullString
}

func newOrderRow(s order.State, postal []byte) orderRow {
	r := orderRow{
		id: idBytes(s.ID), userID: string(s.UserID), status: string(s.Status), address: s.ShippingAddress.Format(),
		postalAddress: sql.NullString{String: string(postal), Valid: postal != nil},
		currency:      string(s.Currency), total: s.Total.Minor(), createdAt: micros(s.CreatedAt),
		updatedAt: micros(s.UpdatedAt), version: s.Version,
	}
	if p := s.Payment; p != nil {
		r.paymentAmount = sql.NullInt64{Int64: p.Amount.Minor(), Valid: true}
		r.paymentReference = sql.NullString{String: p.Reference, Valid: true}
		r.paidAt = nullMicros(p.PaidAt)
	}
	if sh := s.Shipment; sh != nil {
		r.carrier = sql.NullString{String: sh.Carrier, Valid: true}
		r.trackingNumber = sql.NullString{String: sh.TrackingNumber, Valid: true}
		r.shippedAt, r.deliveredAt = nullMicros(sh.ShippedAt), nullMicros(sh.DeliveredAt)
	}
	if c := s.Cancellation; c != nil {
		r.cancelReason = sql.NullString{String: c.Reason, Valid: true}
		r.refundDue = c.RefundDue
		r.cancelledAt = nullMicros(c.CancelledAt)
		if c.RefundDue {
			r.refundAmount = sql.NullInt64{Int64: c.RefundAmount.Minor(), Valid: true}
		}
	}
	return r
}

// args are the values of orderColumns, in order.
func (r *orderRow) args() []any {
	return []any{
		r.id, r.userID, r.total, r.status, r.address, r.createdAt, r.updatedAt,
		r.version, r.currency, r.paymentAmount, r.paymentReference, r.paidAt, r.carrier, r.trackingNumber,
		r.shippedAt, r.deliveredAt, r.cancelReason, r.refundDue, r.refundAmount, r.cancelledAt, r.postalAddress,
	}
}

// dest are the scan destinations of orderColumns, in order.
func (r *orderRow) dest() []any {
	return []any{
		&r.id, &r.userID, &r.total, &r.status, &r.address, &r.createdAt, &r.updatedAt,
		&r.version, &r.currency, &r.paymentAmount, &r.paymentReference, &r.paidAt, &r.carrier, &r.trackingNumber,
		&r.shippedAt, &r.deliveredAt, &r.cancelReason, &r.refundDue, &r.refundAmount, &r.cancelledAt, &r.postalAddress,
	}
}

// snapshot rebuilds the order's state (without items) through the domain's
// validating constructors. The presence of paid_at, shipped_at and
// cancelled_at says whether the order was paid, shipped, cancelled.
func (r *orderRow) snapshot() (order.State, error) {
	id, err := idFromBytes(r.id)
	if err != nil {
		return order.State{}, err
	}
	status, err := order.ParseStatus(r.status)
	if err != nil {
		return order.State{}, fmt.Errorf("order %s: %w", id, err)
	}
	currency := order.Currency(r.currency)
	total, err := money(r.total, currency)
	if err != nil {
		return order.State{}, fmt.Errorf("order %s total: %w", id, err)
	}
	s := order.State{
		ID: id, UserID: order.UserID(r.userID), Currency: currency,
		Status: status, Total: total, CreatedAt: fromMicros(r.createdAt), UpdatedAt: fromMicros(r.updatedAt),
		Version: r.version, Shipment: r.shipment(),
	}
	if s.ShippingAddress, err = protomap.AddressFromColumns(r.address, []byte(r.postalAddress.String)); err != nil {
		return order.State{}, fmt.Errorf("order %s address: %w", id, err)
	}
	if s.Payment, err = r.payment(currency); err != nil {
		return order.State{}, fmt.Errorf("order %s payment: %w", id, err)
	}
	if s.Cancellation, err = r.cancellation(currency); err != nil {
		return order.State{}, fmt.Errorf("order %s refund: %w", id, err)
	}
	return s, nil
}

func (r *orderRow) payment(currency order.Currency) (*order.Payment, error) {
	if !r.paidAt.Valid {
		return nil, nil
	}
	amount, err := money(r.paymentAmount.Int64, currency)
	if err != nil {
		return nil, err
	}
	return &order.Payment{Amount: amount, Reference: r.paymentReference.String, PaidAt: fromNullMicros(r.paidAt)}, nil
}

func (r *orderRow) shipment() *order.Shipment {
	if !r.shippedAt.Valid {
		return nil
	}
	return &order.Shipment{
		Carrier: r.carrier.String, TrackingNumber: r.trackingNumber.String,
		ShippedAt: fromNullMicros(r.shippedAt), DeliveredAt: fromNullMicros(r.deliveredAt),
	}
}

func (r *orderRow) cancellation(currency order.Currency) (*order.Cancellation, error) {
	if !r.cancelledAt.Valid {
		return nil, nil
	}
	c := &order.Cancellation{Reason: r.cancelReason.String, RefundDue: r.refundDue, CancelledAt: fromNullMicros(r.cancelledAt)}
	if r.refundDue {
		amount, err := money(r.refundAmount.Int64, currency)
		if err != nil {
			return nil, err
		}
		c.RefundAmount = amount
	}
	return c, nil
}

// saveProjection writes the order's state after the commit: a new row for a
// new order, otherwise an update guarded by the expected version; the lines
// only when the commit changed them. The guard
// matters beside UNIQUE (aggregate_id, version): a commit decided on a version
// the order has not reached yet would insert its events without any clash and
// leave a gap; the orders row, not at that version, refuses it.
func saveProjection(ctx context.Context, tx *sql.Tx, c application.CommitPlan, postal []byte) error {
	row := newOrderRow(c.State, postal)
	var saved bool
	var err error
	if c.NewOrder {
		saved, err = insertOrder(ctx, tx, row)
	} else {
		saved, err = updateOrder(ctx, tx, row, c.ExpectedVersion)
	}
	if err != nil {
		return err
	}
	if !saved {
		return &order.ConcurrencyError{OrderID: c.OrderID, ExpectedVersion: c.ExpectedVersion}
	}
	if !c.ItemsChanged {
		return nil
	}
	return replaceItems(ctx, tx, c.State)
}

// insertOrder reports whether the order was new and so was inserted.
func insertOrder(ctx context.Context, tx *sql.Tx, row orderRow) (bool, error) {
	_, err := tx.ExecContext(ctx, `INSERT INTO orders (`+orderColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, row.args()...)
	if isUniqueViolation(err, "orders.id") {
		return false, nil
	}
	if err != nil {
		return false, dbError(ctx, "insert order", err)
	}
	return true, nil
}

// updateOrder reports whether the row was at the expected version and so
// was updated.
func updateOrder(ctx context.Context, tx *sql.Tx, row orderRow, expected int) (bool, error) {
	args := append(row.args()[1:], row.id, expected)
	res, err := tx.ExecContext(ctx, `UPDATE orders SET
		user_id = ?, total_amount = ?, status = ?, shipping_address = ?, created_at = ?, updated_at = ?,
		version = ?, currency = ?, payment_amount = ?, payment_reference = ?, paid_at = ?, carrier = ?,
		tracking_number = ?, shipped_at = ?, delivered_at = ?, cancel_reason = ?, refund_due = ?,
		refund_amount = ?, cancelled_at = ?, postal_address = ?
		WHERE id = ? AND version = ?`, args...)
	if err != nil {
		return false, dbError(ctx, "update order", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, dbError(ctx, "update order", err)
	}
	return n == 1, nil
}

// replaceItems rewrites the order's lines. An order has at most
// order.MaxItems lines, so rewriting them all is cheaper than diffing.
func replaceItems(ctx context.Context, tx *sql.Tx, s order.State) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM order_items WHERE order_id = ?`, idBytes(s.ID)); err != nil {
		return dbError(ctx, "delete order items", err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO order_items
		(id, order_id, product_id, product_name, quantity, unit_price, subtotal, line_no)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return dbError(ctx, "prepare item insert", err)
	}
	defer stmt.Close()
	for i, it := range s.Items {
		_, err := stmt.ExecContext(ctx, idBytes(it.ID()), idBytes(s.ID), it.ProductID(), it.ProductName(),
			int64(it.Quantity().Int()), it.UnitPrice().Minor(), it.Subtotal().Minor(), i)
		if err != nil {
			return dbError(ctx, fmt.Sprintf("insert item %q", it.ProductID()), err)
		}
	}
	return nil
}
