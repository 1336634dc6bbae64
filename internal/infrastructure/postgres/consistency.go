package postgres

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/domain/order"
	"github.com/acme/order-service/internal/infrastructure/eventlog"
)

// MaxReportedProblems caps the problems a ConsistencyReport lists, so a badly
// damaged database cannot exhaust memory; ProblemCount still counts all.
const MaxReportedProblems = 1000

// consistencyFetch is how many rows each cursor fetches per round trip.
const consistencyFetch = 500

// ConsistencyReport is what CheckConsistency found.
type ConsistencyReport struct {
	Histories    int // aggregates in order_events
	Events       int // events replayed
	Orders       int // orders rows compared
	ProblemCount int
	Problems     []ConsistencyProblem // the first MaxReportedProblems
}

// Clean reports whether no problem was found.
func (r ConsistencyReport) Clean() bool { return r.ProblemCount == 0 }

// ConsistencyProblem is one order whose log and projection disagree, or whose
// log is broken.
type ConsistencyProblem struct {
	OrderID order.ID
	Problem string
	Diff    []string // the projection's differences from the replayed state, when it has some
}

func (p ConsistencyProblem) String() string {
	if len(p.Diff) == 0 {
		return fmt.Sprintf("order %s: %s", p.OrderID, p.Problem)
	}
	return fmt.Sprintf("order %s: %s: %v", p.OrderID, p.Problem, p.Diff)
}

func (r *ConsistencyReport) add(p ConsistencyProblem) {
	r.ProblemCount++
	if len(r.Problems) < MaxReportedProblems {
		r.Problems = append(r.Problems, p)
	}
}

const declareEventsCursorSQL = `
DECLARE consistency_events NO SCROLL CURSOR FOR
SELECT aggregate_id, ` + eventColumns + ` FROM order_events
ORDER BY aggregate_id, version`

const declareOrdersCursorSQL = `
DECLARE consistency_orders NO SCROLL CURSOR FOR
SELECT ` + orderColumnsSQL + ` FROM orders o
ORDER BY o.id`

// Lines with a NULL order_id belong to no order; orphanItemsSQL counts them.
const declareItemsCursorSQL = `
DECLARE consistency_items NO SCROLL CURSOR FOR
SELECT ` + itemColumnsSQL + ` FROM order_items i
WHERE i.order_id IS NOT NULL
ORDER BY i.order_id, i.line_no`

// orphanItemsSQL counts lines no order owns; the foreign key allows a NULL
// order_id, which no read ever returns.
const orphanItemsSQL = `SELECT count(*) FROM order_items WHERE order_id IS NULL`

// CheckConsistency replays every order's events and compares the result with
// its orders and order_items rows (State.Diff); it also checks that each
// order's versions run 1..N without a gap and that orders.version is the
// last event's version.
//
// It reads one REPEATABLE READ snapshot, so writes running meanwhile cause no
// false alarm, and streams both tables in id order through two cursors,
// merging them as it goes: memory holds one order's history at a time.
func CheckConsistency(ctx context.Context, pool *pgxpool.Pool) (ConsistencyReport, error) {
	var report ConsistencyReport
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error {
		for _, sql := range []string{declareEventsCursorSQL, declareOrdersCursorSQL, declareItemsCursorSQL} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		c := &checker{
			report: &report,
			events: newCursor(tx, "consistency_events", scanEventRow),
			orders: newCursor(tx, "consistency_orders", scanOrderRow),
			items:  newCursor(tx, "consistency_items", scanItemRow),
		}
		if err := c.run(ctx); err != nil {
			return err
		}
		return c.orphanItems(ctx, tx)
	})
	if err != nil {
		return report, dbError("check consistency", err)
	}
	return report, nil
}

// storedEvent is a row of the events cursor.
type storedEvent struct {
	orderID order.ID
	eventlog.StoredEvent
}

func scanEventRow(row pgx.CollectableRow) (storedEvent, error) {
	var e storedEvent
	err := row.Scan(append([]any{&e.orderID}, storedEventTargets(&e.StoredEvent)...)...)
	return e, err
}

func scanItemRow(row pgx.CollectableRow) (itemRow, error) {
	var it itemRow
	return it, row.Scan(it.targets()...)
}

// checker merges the two id-ordered streams.
type checker struct {
	report  *ConsistencyReport
	events  *cursor[storedEvent]
	orders  *cursor[*orderRow]
	items   *cursor[itemRow]
	history []storedEvent
}

func (c *checker) run(ctx context.Context) error {
	for {
		e, haveEvents, err := c.events.peek(ctx)
		if err != nil {
			return err
		}
		o, haveOrder, err := c.orders.peek(ctx)
		if err != nil {
			return err
		}
		switch {
		case !haveEvents && !haveOrder:
			return nil
		case haveEvents && (!haveOrder || bytes.Compare(e.orderID[:], o.id[:]) < 0):
			if err := c.readHistory(ctx); err != nil {
				return err
			}
			c.report.add(ConsistencyProblem{OrderID: e.orderID, Problem: fmt.Sprintf("%d events but no orders row", len(c.history))})
		case !haveEvents || bytes.Compare(o.id[:], e.orderID[:]) < 0:
			if err := c.takeOrder(ctx, o); err != nil {
				return err
			}
			c.report.Orders++
			c.report.add(ConsistencyProblem{OrderID: o.id, Problem: "orders row but no events"})
		default:
			if err := c.readHistory(ctx); err != nil {
				return err
			}
			if err := c.takeOrder(ctx, o); err != nil {
				return err
			}
			c.compare(o)
		}
	}
}

// takeOrder consumes the orders row o and collects its lines into it.
// Lines sort by order id like the rows; the foreign key guarantees each has
// its row, so any line before o's would be skipped only in a broken schema.
func (c *checker) takeOrder(ctx context.Context, o *orderRow) error {
	c.orders.next()
	c.report.Orders++
	for {
		it, ok, err := c.items.peek(ctx)
		if err != nil {
			return err
		}
		if !ok || bytes.Compare(it.orderID[:], o.id[:]) > 0 {
			return nil
		}
		if it.orderID == o.id {
			o.items = append(o.items, it)
		}
		c.items.next()
	}
}

// readHistory consumes the next order's events into c.history.
func (c *checker) readHistory(ctx context.Context) error {
	c.history = c.history[:0]
	for {
		e, ok, err := c.events.peek(ctx)
		if err != nil {
			return err
		}
		if !ok || (len(c.history) > 0 && e.orderID != c.history[0].orderID) {
			break
		}
		c.history = append(c.history, e)
		c.events.next()
	}
	c.report.Histories++
	c.report.Events += len(c.history)
	return nil
}

// compare checks one order: its log on its own, then the projection against
// the state the log replays to.
func (c *checker) compare(row *orderRow) {
	id := row.id
	last := c.history[len(c.history)-1].Version
	if row.version != last {
		c.report.add(ConsistencyProblem{OrderID: id, Problem: fmt.Sprintf("orders.version %d, last event version %d", row.version, last)})
	}
	if versions, ok := contiguous(c.history); !ok {
		c.report.add(ConsistencyProblem{OrderID: id, Problem: fmt.Sprintf("event versions %v are not 1..%d", versions, len(c.history))})
		return
	}
	replayed, err := c.replay(id)
	if err != nil {
		c.report.add(ConsistencyProblem{OrderID: id, Problem: fmt.Sprintf("replay: %v", err)})
		return
	}
	projected, anomalies, err := row.snapshot()
	if err != nil {
		c.report.add(ConsistencyProblem{OrderID: id, Problem: err.Error()})
		return
	}
	if diff := append(replayed.Diff(projected), anomalies...); len(diff) > 0 {
		c.report.add(ConsistencyProblem{OrderID: id, Problem: "projection differs from the replayed events", Diff: diff})
	}
}

func (c *checker) replay(id order.ID) (order.State, error) {
	rows := make([]eventlog.StoredEvent, len(c.history))
	for i, e := range c.history {
		rows[i] = e.StoredEvent
	}
	events, err := eventlog.DecodeHistory(id, rows)
	if err != nil {
		return order.State{}, err
	}
	o, err := order.Rehydrate(events)
	if err != nil {
		return order.State{}, err
	}
	return o.State(), nil
}

// contiguous reports whether the versions are exactly 1..N, and lists them
// (at most the first 20) for the report when they are not.
func contiguous(history []storedEvent) ([]int, bool) {
	ok := true
	for i, e := range history {
		ok = ok && e.Version == i+1
	}
	if ok {
		return nil, true
	}
	const shown = 20
	versions := make([]int, 0, shown)
	for _, e := range history[:min(len(history), shown)] {
		versions = append(versions, e.Version)
	}
	return versions, false
}

func (c *checker) orphanItems(ctx context.Context, tx pgx.Tx) error {
	var n int
	if err := tx.QueryRow(ctx, orphanItemsSQL).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		c.report.add(ConsistencyProblem{Problem: fmt.Sprintf("%d order_items rows have no order_id", n)})
	}
	return nil
}

// cursor reads a server-side cursor a chunk at a time, with one row of
// look-ahead.
type cursor[T any] struct {
	tx   pgx.Tx
	name string
	scan pgx.RowToFunc[T]
	buf  []T
	done bool
}

func newCursor[T any](tx pgx.Tx, name string, scan pgx.RowToFunc[T]) *cursor[T] {
	return &cursor[T]{tx: tx, name: name, scan: scan}
}

// peek returns the current row without consuming it; ok is false at the end.
func (c *cursor[T]) peek(ctx context.Context) (row T, ok bool, err error) {
	if len(c.buf) == 0 && !c.done {
		if err := c.fetch(ctx); err != nil {
			return row, false, err
		}
	}
	if len(c.buf) == 0 {
		return row, false, nil
	}
	return c.buf[0], true, nil
}

// next consumes the row peek returned.
func (c *cursor[T]) next() { c.buf = c.buf[1:] }

func (c *cursor[T]) fetch(ctx context.Context) error {
	rows, err := c.tx.Query(ctx, fmt.Sprintf("FETCH FORWARD %d FROM %s", consistencyFetch, c.name))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", c.name, err)
	}
	c.buf, err = pgx.CollectRows(rows, c.scan)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", c.name, err)
	}
	c.done = len(c.buf) < consistencyFetch
	return nil
}
