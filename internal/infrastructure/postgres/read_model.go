package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
	"github.com/acme/order-service/internal/protomap"
)

// orderColumnsSQL are the orders columns orderRow scans, money as text.
const orderColumnsSQL = `o.id, o.user_id, o.currency, o.shipping_address, o.status, o.total_amount::text,
  o.created_at, o.updated_at, o.version,
  o.payment_amount::text, o.payment_reference, o.paid_at,
  o.carrier, o.tracking_number, o.shipped_at, o.delivered_at,
  o.cancel_reason, o.refund_due, o.refund_amount::text, o.cancelled_at, o.postal_address::text`

const itemColumnsSQL = `i.order_id, i.id, i.product_id, i.product_name, i.quantity, i.unit_price::text, i.subtotal::text`

// Reads that take an order row and its lines in two statements run them in
// one REPEATABLE READ transaction, sent as one batch: one round trip, and
// one snapshot, so the lines always belong to the version of the row.
const (
	beginReadSQL  = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	commitReadSQL = `COMMIT`
)

const getOrderSQL = `SELECT ` + orderColumnsSQL + ` FROM orders o WHERE o.id = $1`

const getItemsSQL = `SELECT ` + itemColumnsSQL + ` FROM order_items i WHERE i.order_id = $1 ORDER BY i.line_no`

const listOrderEventsSQL = `
SELECT id, event_type, version, timestamp, data, user_id,
  COALESCE(request_id, ''), COALESCE(correlation_id, ''), COALESCE(causation_id, ''),
  cell_id, service_name, COALESCE(trace_parent, ''), schema_version
FROM order_events
WHERE aggregate_id = $1 AND version > $2
ORDER BY version
LIMIT $3`

// GetOrder implements application.ReadModel. Concurrent calls may share a
// round trip (see group_commit_reads.go); a lone call runs getOrderOne.
func (s *OrderStore) GetOrder(ctx context.Context, id order.ID) (order.State, error) {
	if s.reads != nil {
		return s.reads.getOrder(ctx, id)
	}
	return s.getOrderOne(ctx, id)
}

// getOrderOne reads one order in a round trip of its own.
func (s *OrderStore) getOrderOne(ctx context.Context, id order.ID) (order.State, error) {
	snaps, err := s.readOrders(ctx, getOrderSQL, getItemsSQL, id)
	if err != nil {
		return order.State{}, dbError(fmt.Sprintf("get order %s", id), err)
	}
	if len(snaps) == 0 {
		return order.State{}, order.ErrNotFound
	}
	return snaps[0], nil
}

// ListOrders implements application.ReadModel. The user and the keyset
// row comparison are index conditions of orders_user_created_idx (or of
// orders_user_status_created_idx, when a status is given and selective), so
// a page costs an index range scan however deep it is.
func (s *OrderStore) ListOrders(ctx context.Context, f application.OrderFilter) ([]order.State, error) {
	page, args := listOrdersQuery(f)
	snaps, err := s.readOrders(ctx, `SELECT `+orderColumnsSQL+page, pageItemsSQL(page), args...)
	if err != nil {
		return nil, dbError(fmt.Sprintf("list orders of %s", f.UserID), err)
	}
	return snaps, nil
}

// listOrdersQuery builds the FROM..LIMIT part of one of four fixed
// statements (with or without a status, with or without a cursor). One
// statement with optional conditions decided at run time would get a
// generic plan that cannot use the right index.
func listOrdersQuery(f application.OrderFilter) (string, []any) {
	sql := `
FROM orders o
WHERE o.user_id = $1`
	args := []any{string(f.UserID)}
	if f.Status != "" {
		args = append(args, string(f.Status))
		sql += fmt.Sprintf(` AND o.status = $%d`, len(args))
	}
	if f.After != nil {
		args = append(args, dbTime(f.After.CreatedAt), f.After.ID)
		sql += fmt.Sprintf(` AND (o.created_at, o.id) < ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, max(f.Limit, 0))
	sql += fmt.Sprintf(`
ORDER BY o.created_at DESC, o.id DESC
LIMIT $%d`, len(args))
	return sql, args
}

// pageItemsSQL selects the lines of the page's orders. It names the page by
// the page query itself rather than by the ids the first statement returns,
// so both go in one batch; the shared snapshot makes both see the same page.
// ANY(ARRAY(...)) evaluates the page once and probes order_items by
// order_id; "IN (subquery)" lets the planner pick a hash join over a full
// scan of order_items.
func pageItemsSQL(page string) string {
	return `SELECT ` + itemColumnsSQL + `
FROM order_items i
WHERE i.order_id = ANY(ARRAY(SELECT o.id` + page + `))
ORDER BY i.order_id, i.line_no`
}

// readOrders runs an orders query and the query of its lines, both taking
// the same arguments, in one snapshot, and assembles the snapshots in the
// orders query's order.
func (s *OrderStore) readOrders(ctx context.Context, ordersSQL, itemsSQL string, args ...any) ([]order.State, error) {
	rows, err := s.readOrderRows(ctx, ordersSQL, itemsSQL, args...)
	if err != nil {
		return nil, err
	}
	snaps := make([]order.State, len(rows))
	for i, row := range rows {
		var err error
		if snaps[i], _, err = row.snapshot(); err != nil {
			return nil, err
		}
	}
	return snaps, nil
}

// readOrderRows is readOrders up to the rows, with their lines.
func (s *OrderStore) readOrderRows(ctx context.Context, ordersSQL, itemsSQL string, args ...any) ([]*orderRow, error) {
	var rows []*orderRow
	byID := map[order.ID]*orderRow{}
	b := &pgx.Batch{}
	b.Queue(beginReadSQL)
	b.Queue(ordersSQL, args...).Query(func(r pgx.Rows) error {
		var err error
		rows, err = pgx.CollectRows(r, scanOrderRow)
		for _, row := range rows {
			byID[row.id] = row
		}
		return err
	})
	b.Queue(itemsSQL, args...).Query(func(r pgx.Rows) error {
		var it itemRow
		_, err := pgx.ForEachRow(r, it.targets(), func() error {
			if row := byID[it.orderID]; row != nil {
				row.items = append(row.items, it)
			}
			return nil
		})
		return err
	})
	b.Queue(commitReadSQL)
	// On an error the connection may be left inside the transaction; the
	// pool discards such a connection on release, so nothing leaks.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return rows, nil
}

// ListOrderEvents implements application.ReadModel.
func (s *OrderStore) ListOrderEvents(ctx context.Context, id order.ID, afterVersion, limit int) ([]application.EventRecord, error) {
	rows, err := s.pool.Query(ctx, listOrderEventsSQL, id, afterVersion, max(limit, 0))
	if err != nil {
		return nil, dbError(fmt.Sprintf("list events of order %s", id), err)
	}
	records, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (application.EventRecord, error) {
		r := application.EventRecord{OrderID: id}
		m := &r.Metadata
		err := row.Scan(&r.EventID, &r.Type, &r.Version, &r.OccurredAt, &r.Data, &m.ActorID,
			&m.RequestID, &m.CorrelationID, &m.CausationID, &m.CellID, &m.ServiceName, &m.TraceParent, &m.SchemaVersion)
		r.OccurredAt = r.OccurredAt.UTC()
		return r, err
	})
	if err != nil {
		return nil, dbError(fmt.Sprintf("list events of order %s", id), err)
	}
	if err := eventlog.UpcastRecords(records); err != nil {
		return nil, fmt.Errorf("list events of order %s: %w", id, err)
	}
	return records, nil
}

// orderRow is an orders row as scanned (orderColumnsSQL), with its lines.
type orderRow struct {
	id                                       order.ID
	userID, currency, address, status, total string
	createdAt, updatedAt                     time.Time
	version                                  int
	paymentAmount, paymentRef                *string
	paidAt                                   *time.Time
	carrier, tracking                        *string
	shippedAt, deliveredAt                   *time.Time
	cancelReason                             *string
	refundDue                                bool
	refundAmount                             *string
	cancelledAt                              *time.Time
	postalAddress                            *string
	items                                    []itemRow
}

func scanOrderRow(row pgx.CollectableRow) (*orderRow, error) {
	r := &orderRow{}
	err := row.Scan(
		&r.id, &r.userID, &r.currency, &r.address, &r.status, &r.total,
		&r.createdAt, &r.updatedAt, &r.version,
		&r.paymentAmount, &r.paymentRef, &r.paidAt,
		&r.carrier, &r.tracking, &r.shippedAt, &r.deliveredAt,
		&r.cancelReason, &r.refundDue, &r.refundAmount, &r.cancelledAt, &r.postalAddress,
	)
	return r, err
}

// itemRow is an order_items row as scanned (itemColumnsSQL).
type itemRow struct {
	orderID, id            order.ID
	productID, productName string
	quantity               int32
	unitPrice, subtotal    string
}

func (it *itemRow) targets() []any {
	return []any{&it.orderID, &it.id, &it.productID, &it.productName, &it.quantity, &it.unitPrice, &it.subtotal}
}

// snapshot rebuilds the state a row holds through the domain's validating
// constructors, so a corrupt row is an error rather than a wrong answer. A
// line's subtotal is recomputed by the domain; a stored subtotal that
// disagrees is returned as an anomaly for the consistency check.
func (r *orderRow) snapshot() (order.State, []string, error) {
	currency := order.Currency(r.currency)
	d := moneyDecoder{currency: currency}
	s := order.State{
		ID: r.id, UserID: order.UserID(r.userID), Currency: currency,
		Status: order.Status(r.status),
		Total:  d.money("total_amount", r.total), CreatedAt: r.createdAt.UTC(), UpdatedAt: r.updatedAt.UTC(),
		Version: r.version,
	}
	if _, err := order.ParseStatus(r.status); err != nil {
		d.fail(err)
	}
	address, err := protomap.AddressFromColumns(r.address, []byte(deref(r.postalAddress)))
	d.fail(err)
	s.ShippingAddress = address
	if r.paidAt != nil {
		s.Payment = &order.Payment{Amount: d.money("payment_amount", deref(r.paymentAmount)), Reference: deref(r.paymentRef), PaidAt: r.paidAt.UTC()}
	}
	if r.shippedAt != nil {
		s.Shipment = &order.Shipment{Carrier: deref(r.carrier), TrackingNumber: deref(r.tracking), ShippedAt: r.shippedAt.UTC(), DeliveredAt: fromOptTime(r.deliveredAt)}
	}
	if r.cancelledAt != nil {
		s.Cancellation = &order.Cancellation{Reason: deref(r.cancelReason), RefundDue: r.refundDue, CancelledAt: r.cancelledAt.UTC()}
		if r.refundAmount != nil {
			s.Cancellation.RefundAmount = d.money("refund_amount", *r.refundAmount)
		}
	}
	anomalies := r.lines(&s, &d)
	if d.err != nil {
		return order.State{}, nil, fmt.Errorf("decode orders row %s: %w", r.id, d.err)
	}
	return s, anomalies, nil
}

// lines decodes the order_items rows into s.Items.
func (r *orderRow) lines(s *order.State, d *moneyDecoder) []string {
	var anomalies []string
	s.Items = make([]order.LineItem, 0, len(r.items))
	for i, it := range r.items {
		item, err := order.NewLineItem(it.id, it.productID, it.productName, int64(it.quantity), d.money("unit_price", it.unitPrice))
		if err != nil {
			d.fail(fmt.Errorf("order_items row %s: %w", it.id, err))
			return nil
		}
		if stored := d.money("subtotal", it.subtotal); stored != item.Subtotal() {
			anomalies = append(anomalies, fmt.Sprintf("items[%d].subtotal: stored %s, unit_price × quantity = %s", i, stored, item.Subtotal()))
		}
		s.Items = append(s.Items, item)
	}
	return anomalies
}

// moneyDecoder parses the amounts of one row and keeps the first error, so
// the mapping above reads as one expression per field.
type moneyDecoder struct {
	currency order.Currency
	err      error
}

func (d *moneyDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *moneyDecoder) money(field, s string) order.Money {
	m, err := order.ParseMoney(field, s, d.currency)
	d.fail(err)
	return m
}
