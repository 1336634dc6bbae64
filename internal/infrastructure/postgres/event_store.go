package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/application"
	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// rollbackTimeout bounds the ROLLBACK of a failed Append, which runs even
// when the caller's context is already done, so that the connection goes
// back to the pool instead of being discarded.
const rollbackTimeout = 5 * time.Second

const (
	beginSQL  = `BEGIN`
	commitSQL = `COMMIT`
)

// insertRequestSQL is the first statement of a commit (application.CommitPlan
// says why): a concurrent duplicate then waits on the key.
const insertRequestSQL = `
INSERT INTO idempotency_keys (scope, request_id, fingerprint, order_id, version, created_at)
VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()))`

const insertEventSQL = `
INSERT INTO order_events (id, aggregate_id, event_type, data, user_id, timestamp, version,
  schema_version, request_id, correlation_id, causation_id, cell_id, service_name, trace_parent)
VALUES ($1, $2, $3, $4, $5, $6, $7,
  $8, NULLIF($9::text, ''), NULLIF($10::text, ''), NULLIF($11::text, ''), $12, $13, NULLIF($14::text, ''))`

// orderColumns are written in the order orderArgs lists them. Money goes in
// as text (Money.String) and is cast, so no float ever touches it.
const insertOrderSQL = `
INSERT INTO orders (id, user_id, total_amount, status, shipping_address, created_at, updated_at, version,
  currency, payment_amount, payment_reference, paid_at, carrier, tracking_number, shipped_at, delivered_at,
  cancel_reason, refund_due, refund_amount, cancelled_at, postal_address)
VALUES ($1, $2, $3::text::numeric, $4, $5, $6, $7, $8,
  $9, $10::text::numeric, $11, $12, $13, $14, $15, $16,
  $17, $18, $19::text::numeric, $20, $21::jsonb)`

// updateOrderSQL moves the projection only from the version the commit was
// decided on; matching no row is a lost race like a duplicate event version.
const updateOrderSQL = `
UPDATE orders SET user_id = $2, total_amount = $3::text::numeric, status = $4, shipping_address = $5,
  created_at = $6, updated_at = $7, version = $8,
  currency = $9, payment_amount = $10::text::numeric, payment_reference = $11, paid_at = $12,
  carrier = $13, tracking_number = $14, shipped_at = $15, delivered_at = $16,
  cancel_reason = $17, refund_due = $18, refund_amount = $19::text::numeric, cancelled_at = $20,
  postal_address = $21::jsonb
WHERE id = $1 AND version = $22`

const deleteItemsSQL = `DELETE FROM order_items WHERE order_id = $1`

// insertItemsSQL writes all lines in one statement; WITH ORDINALITY numbers
// them so line_no keeps the order's item order.
const insertItemsSQL = `
INSERT INTO order_items (id, order_id, product_id, product_name, quantity, unit_price, subtotal, line_no)
SELECT i.id, $1, i.product_id, i.product_name, i.quantity, i.unit_price::numeric, i.subtotal::numeric, i.line_no
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
  WITH ORDINALITY AS i(id, product_id, product_name, quantity, unit_price, subtotal, line_no)`

const notifySQL = `SELECT pg_notify('` + NotifyChannel + `', '')`

// eventColumns are what decoding a stored event needs, in the order
// storedEventTargets scans them.
const eventColumns = `event_type, version, schema_version, timestamp, data`

const loadEventsSQL = `
SELECT ` + eventColumns + ` FROM order_events
WHERE aggregate_id = $1 ORDER BY version`

// Append implements application.EventStore. The commit is one transaction
// in two round trips: a pipelined batch that begins it and runs every
// statement, then, once the results show no lost race, COMMIT followed by
// the relay's wake-up call. Any failure before COMMIT rolls everything back.
//
// With group commit on (the default, see WithGroupCommit), concurrent
// Appends may share that transaction, each in a savepoint of its own; a
// commit that finds no company runs alone, exactly as described above.
func (s *OrderStore) Append(ctx context.Context, c application.Commit) error {
	p, err := eventlog.Prepare(c)
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	stmts := commitStatements(p)
	if s.group != nil {
		return s.group.append(ctx, c, stmts)
	}
	return s.appendOne(ctx, c, stmts)
}

// appendOne writes one commit in a transaction of its own.
func (s *OrderStore) appendOne(ctx context.Context, c application.Commit, stmts []statement) error {
	b := &pgx.Batch{}
	b.Queue(beginSQL)
	for _, st := range stmts {
		q := b.Queue(st.sql, st.args...)
		if st.check != nil {
			q.Exec(st.check)
		}
	}
	if err := s.runInTx(ctx, b); err != nil {
		return appendError(c, err)
	}
	return nil
}

// runInTx sends a batch that begins a transaction and commits it when every
// statement, and every check on a result, succeeded.
func (s *OrderStore) runInTx(ctx context.Context, b *pgx.Batch) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// Release discards the connection if it is still inside a transaction
	// (a failed COMMIT or ROLLBACK): the server then rolls it back.
	defer conn.Release()
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		rollback(ctx, conn)
		return err
	}
	return commitAndNotify(ctx, conn)
}

// commitAndNotify commits and, in the same round trip but in a transaction
// of its own, notifies NotifyChannel. A NOTIFY inside the appending
// transaction would take PostgreSQL's global notify lock at commit and hold
// it across the WAL flush, serialising every Append in the cluster (measured:
// less than half the throughput at 16 writers). The notification only wakes
// the relay early; its poll covers one lost to a crash between the two.
func commitAndNotify(ctx context.Context, conn *pgxpool.Conn) error {
	committed := false
	b := &pgx.Batch{}
	b.Queue(commitSQL).Exec(func(tag pgconn.CommandTag) error {
		// COMMIT of a transaction that failed answers ROLLBACK, not an error.
		if committed = tag.String() == "COMMIT"; !committed {
			return fmt.Errorf("commit ended in %s", tag)
		}
		return nil
	})
	b.Queue(notifySQL)
	err := conn.SendBatch(ctx, b).Close()
	if committed {
		return nil // the events are in; a failed wake-up call is no failed append
	}
	return err
}

// rollback ends a failed transaction so the connection can be reused; when
// it cannot, Release discards the connection and the server rolls back.
func rollback(ctx context.Context, conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// statement is one statement of a commit, with the check its result must
// pass (nil: none).
type statement struct {
	sql   string
	args  []any
	check func(pgconn.CommandTag) error
}

// commitStatements lists every statement of a prepared commit, in the
// order application.CommitPlan lays down: the idempotency record, the
// events, the orders row and, when they changed, the order's lines.
func commitStatements(p eventlog.PreparedCommit) []statement {
	stmts := make([]statement, 0, len(p.Records)+4)
	if r := p.Idempotency; r != nil {
		stmts = append(stmts, statement{sql: insertRequestSQL, args: []any{r.Scope, r.RequestID, r.Fingerprint[:], r.OrderID, r.Version, optTime(r.CreatedAt)}})
	}
	for _, r := range p.Records {
		stmts = append(stmts, statement{sql: insertEventSQL, args: eventArgs(r)})
	}
	return appendProjection(stmts, p.CommitPlan, p.PostalAddress)
}

func eventArgs(r application.EventRecord) []any {
	m := r.Metadata
	return []any{
		r.EventID, r.OrderID, r.Type, r.Data, m.ActorID, dbTime(r.OccurredAt), r.Version,
		m.SchemaVersion, m.RequestID, m.CorrelationID, m.CausationID, m.CellID, m.ServiceName, m.TraceParent,
	}
}

// appendProjection adds the statements that write the orders row and, when
// the lines changed, the order_items rows.
func appendProjection(stmts []statement, c application.CommitPlan, postal []byte) []statement {
	if c.NewOrder {
		stmts = append(stmts, statement{sql: insertOrderSQL, args: orderArgs(c.State, postal)})
	} else {
		args := append(orderArgs(c.State, postal), c.ExpectedVersion)
		stmts = append(stmts, statement{sql: updateOrderSQL, args: args, check: projectionMoved})
	}
	if !c.ItemsChanged {
		return stmts
	}
	if !c.NewOrder {
		stmts = append(stmts, statement{sql: deleteItemsSQL, args: []any{c.OrderID}})
	}
	if len(c.State.Items) > 0 {
		stmts = append(stmts, statement{sql: insertItemsSQL, args: itemArgs(c.OrderID, c.State.Items)})
	}
	return stmts
}

// projectionMoved checks the guarded UPDATE of the orders row.
func projectionMoved(tag pgconn.CommandTag) error {
	if tag.RowsAffected() != 1 {
		return errProjectionMoved
	}
	return nil
}

// orderArgs are the orders columns of a state, in insertOrderSQL's order.
func orderArgs(s order.State, postal []byte) []any {
	var paymentAmount, paymentRef, carrier, tracking, cancelReason, refundAmount *string
	var paidAt, shippedAt, deliveredAt, cancelledAt *time.Time
	refundDue := false
	if p := s.Payment; p != nil {
		paymentAmount, paymentRef, paidAt = ptr(p.Amount.String()), ptr(p.Reference), optTime(p.PaidAt)
	}
	if sh := s.Shipment; sh != nil {
		carrier, tracking = ptr(sh.Carrier), ptr(sh.TrackingNumber)
		shippedAt, deliveredAt = optTime(sh.ShippedAt), optTime(sh.DeliveredAt)
	}
	if cl := s.Cancellation; cl != nil {
		cancelReason, refundDue, cancelledAt = ptr(cl.Reason), cl.RefundDue, optTime(cl.CancelledAt)
		if cl.RefundDue {
			refundAmount = ptr(cl.RefundAmount.String())
		}
	}
	return []any{
		s.ID, string(s.UserID), s.Total.String(), string(s.Status), s.ShippingAddress.Format(),
		dbTime(s.CreatedAt), dbTime(s.UpdatedAt), s.Version,
		string(s.Currency), paymentAmount, paymentRef, paidAt, carrier, tracking, shippedAt, deliveredAt,
		cancelReason, refundDue, refundAmount, cancelledAt, optText(postal),
	}
}

// itemArgs are the column arrays insertItemsSQL unnests.
func itemArgs(id order.ID, items []order.LineItem) []any {
	ids := make([][16]byte, len(items))
	products, names := make([]string, len(items)), make([]string, len(items))
	quantities := make([]int32, len(items))
	prices, subtotals := make([]string, len(items)), make([]string, len(items))
	for i, it := range items {
		ids[i], products[i], names[i] = it.ID(), it.ProductID(), it.ProductName()
		quantities[i], prices[i], subtotals[i] = it.Quantity().Int(), it.UnitPrice().String(), it.Subtotal().String()
	}
	return []any{id, ids, products, names, quantities, prices, subtotals}
}

func ptr(s string) *string { return &s }

// optText is NULL for no bytes, else the bytes as text.
func optText(b []byte) *string {
	if b == nil {
		return nil
	}
	return ptr(string(b))
}

// Load implements application.EventStore.
func (s *OrderStore) Load(ctx context.Context, id order.ID) ([]order.Event, error) {
	rows, err := s.pool.Query(ctx, loadEventsSQL, id)
	if err != nil {
		return nil, dbError(fmt.Sprintf("load order %s", id), err)
	}
	events, err := decodeEvents(id, rows, 0)
	if err != nil {
		return nil, dbError(fmt.Sprintf("load order %s", id), err)
	}
	if len(events) == 0 {
		return nil, order.ErrNotFound
	}
	return events, nil
}

// decodeEvents decodes one order's rows of eventColumns, fed in version
// order from its OrderCreated on, and keeps those with version > after.
func decodeEvents(id order.ID, rows pgx.Rows, after int) ([]order.Event, error) {
	var events []order.Event
	d := eventlog.NewHistoryDecoder(id)
	var row eventlog.StoredEvent
	_, err := pgx.ForEachRow(rows, storedEventTargets(&row), func() error {
		e, err := d.Decode(row)
		if row.Version > after {
			events = append(events, e)
		}
		return err
	})
	return events, err
}

// storedEventTargets are the scan targets of eventColumns.
func storedEventTargets(r *eventlog.StoredEvent) []any {
	return []any{&r.Type, &r.Version, &r.SchemaVersion, &r.OccurredAt, &r.Data}
}
