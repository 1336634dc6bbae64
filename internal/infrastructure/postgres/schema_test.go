//go:build integration

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/order-service/internal/infrastructure/postgres/pgtest"
)

// column is one row of information_schema.columns, reduced to what the schema
// promises. typ folds length, precision and scale in: "character varying(255)".
type column struct {
	typ      string
	nullable bool
	def      string // column_default as PostgreSQL prints it; "" when none
	identity bool
}

const (
	notNull  = false
	nullable = true
)

// seedColumns is the README's "Database Schema" section, column by column.
var seedColumns = map[string]map[string]column{
	"orders": {
		"id":               {typ: "uuid", nullable: notNull},
		"user_id":          {typ: "character varying(255)", nullable: notNull},
		"total_amount":     {typ: "numeric(10,2)", nullable: notNull},
		"status":           {typ: "character varying(50)", nullable: notNull},
		"shipping_address": {typ: "text", nullable: notNull},
		"created_at":       {typ: "timestamp without time zone", nullable: notNull},
		"updated_at":       {typ: "timestamp without time zone", nullable: notNull},
		"version":          {typ: "integer", nullable: notNull, def: "1"},
	},
	"order_items": {
		"id":           {typ: "uuid", nullable: notNull},
		"order_id":     {typ: "uuid", nullable: nullable},
		"product_id":   {typ: "character varying(255)", nullable: notNull},
		"product_name": {typ: "character varying(255)", nullable: notNull},
		"quantity":     {typ: "integer", nullable: notNull},
		"unit_price":   {typ: "numeric(10,2)", nullable: notNull},
		"subtotal":     {typ: "numeric(10,2)", nullable: notNull},
	},
	"order_events": {
		"id":           {typ: "uuid", nullable: notNull},
		"aggregate_id": {typ: "uuid", nullable: notNull},
		"event_type":   {typ: "character varying(100)", nullable: notNull},
		"data":         {typ: "jsonb", nullable: notNull},
		"user_id":      {typ: "character varying(255)", nullable: notNull},
		"timestamp":    {typ: "timestamp without time zone", nullable: notNull},
		"version":      {typ: "integer", nullable: notNull},
	},
}

// addedColumns is what 00002_event_store.sql and later migrations add: new
// columns and tables only.
var addedColumns = map[string]map[string]column{
	"orders": {
		"currency":          {typ: "character(3)", nullable: notNull, def: "'USD'::bpchar"},
		"payment_amount":    {typ: "numeric(10,2)", nullable: nullable},
		"payment_reference": {typ: "text", nullable: nullable},
		"paid_at":           {typ: "timestamp without time zone", nullable: nullable},
		"carrier":           {typ: "character varying(100)", nullable: nullable},
		"tracking_number":   {typ: "character varying(100)", nullable: nullable},
		"shipped_at":        {typ: "timestamp without time zone", nullable: nullable},
		"delivered_at":      {typ: "timestamp without time zone", nullable: nullable},
		"cancel_reason":     {typ: "text", nullable: nullable},
		"refund_due":        {typ: "boolean", nullable: notNull, def: "false"},
		"refund_amount":     {typ: "numeric(10,2)", nullable: nullable},
		"cancelled_at":      {typ: "timestamp without time zone", nullable: nullable},
		"postal_address":    {typ: "jsonb", nullable: nullable}, // 00003_postal_address.sql
	},
	"order_items": {
		"line_no": {typ: "integer", nullable: notNull, def: "0"},
	},
	"order_events": {
		"position":       {typ: "bigint", nullable: notNull, identity: true},
		"transaction_id": {typ: "xid8", nullable: notNull, def: "pg_current_xact_id()"},
		"schema_version": {typ: "integer", nullable: notNull, def: "1"},
		"request_id":     {typ: "text", nullable: nullable},
		"correlation_id": {typ: "text", nullable: nullable},
		"causation_id":   {typ: "text", nullable: nullable},
		"cell_id":        {typ: "text", nullable: notNull, def: "''::text"},
		"service_name":   {typ: "text", nullable: notNull, def: "''::text"},
		"trace_parent":   {typ: "text", nullable: nullable},
	},
	"idempotency_keys": {
		"scope":       {typ: "text", nullable: notNull},
		"request_id":  {typ: "text", nullable: notNull},
		"fingerprint": {typ: "bytea", nullable: notNull},
		"order_id":    {typ: "uuid", nullable: notNull},
		"version":     {typ: "integer", nullable: notNull},
		"created_at":  {typ: "timestamp with time zone", nullable: notNull, def: "now()"},
	},
	"relay_checkpoints": {
		"relay_name":     {typ: "text", nullable: notNull},
		"transaction_id": {typ: "xid8", nullable: notNull},
		"position":       {typ: "bigint", nullable: notNull},
		"updated_at":     {typ: "timestamp with time zone", nullable: notNull, def: "now()"},
	},
	"relay_parked_events": {
		"event_id":  {typ: "uuid", nullable: notNull},
		"position":  {typ: "bigint", nullable: notNull},
		"reason":    {typ: "text", nullable: notNull},
		"parked_at": {typ: "timestamp with time zone", nullable: notNull, def: "now()"},
	},
}

// snapshotColumns is what 00003_order_snapshots.sql adds.
var snapshotColumns = map[string]map[string]column{
	"order_snapshots": {
		"order_id":         {typ: "uuid", nullable: notNull},
		"version":          {typ: "integer", nullable: notNull},
		"snapshot_version": {typ: "integer", nullable: notNull},
		"data":             {typ: "bytea", nullable: notNull},
		"created_at":       {typ: "timestamp with time zone", nullable: notNull, def: "now()"},
	},
}

// wantIndexes is every index on the service's tables, as pg_indexes prints it.
// The first two are the README's; the rest back keys and access paths.
var wantIndexes = map[string]string{
	"idx_orders_user_id":                    "CREATE INDEX idx_orders_user_id ON public.orders USING btree (user_id)",
	"idx_order_events_aggregate_id":         "CREATE INDEX idx_order_events_aggregate_id ON public.order_events USING btree (aggregate_id)",
	"orders_pkey":                           "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)",
	"order_items_pkey":                      "CREATE UNIQUE INDEX order_items_pkey ON public.order_items USING btree (id)",
	"order_events_pkey":                     "CREATE UNIQUE INDEX order_events_pkey ON public.order_events USING btree (id)",
	"order_events_aggregate_version_key":    "CREATE UNIQUE INDEX order_events_aggregate_version_key ON public.order_events USING btree (aggregate_id, version)",
	"order_events_transaction_position_idx": "CREATE INDEX order_events_transaction_position_idx ON public.order_events USING btree (transaction_id, \"position\")",
	"orders_user_created_idx":               "CREATE INDEX orders_user_created_idx ON public.orders USING btree (user_id, created_at DESC, id DESC)",
	"orders_user_status_created_idx":        "CREATE INDEX orders_user_status_created_idx ON public.orders USING btree (user_id, status, created_at DESC, id DESC)",
	"order_items_order_product_key":         "CREATE UNIQUE INDEX order_items_order_product_key ON public.order_items USING btree (order_id, product_id)",
	"idempotency_keys_pkey":                 "CREATE UNIQUE INDEX idempotency_keys_pkey ON public.idempotency_keys USING btree (scope, request_id)",
	"idempotency_keys_created_at_idx":       "CREATE INDEX idempotency_keys_created_at_idx ON public.idempotency_keys USING btree (created_at)",
	"relay_checkpoints_pkey":                "CREATE UNIQUE INDEX relay_checkpoints_pkey ON public.relay_checkpoints USING btree (relay_name)",
	"relay_parked_events_pkey":              "CREATE UNIQUE INDEX relay_parked_events_pkey ON public.relay_parked_events USING btree (event_id)",
	"order_snapshots_pkey":                  "CREATE UNIQUE INDEX order_snapshots_pkey ON public.order_snapshots USING btree (order_id)",
}

// wantConstraints is every key, reference and check on the service's tables
// (NOT NULL lives in the column table above).
var wantConstraints = map[string]string{
	"orders_pkey":                        "PRIMARY KEY (id)",
	"order_items_pkey":                   "PRIMARY KEY (id)",
	"order_items_order_id_fkey":          "FOREIGN KEY (order_id) REFERENCES orders(id)", // the README's REFERENCES
	"order_events_pkey":                  "PRIMARY KEY (id)",
	"order_events_aggregate_version_key": "UNIQUE (aggregate_id, version)", // the optimistic lock
	"order_events_version_check":         "CHECK ((version >= 1))",
	"order_items_order_product_key":      "UNIQUE (order_id, product_id)",
	"idempotency_keys_pkey":              "PRIMARY KEY (scope, request_id)",
	"relay_checkpoints_pkey":             "PRIMARY KEY (relay_name)",
	"relay_parked_events_pkey":           "PRIMARY KEY (event_id)",
	"order_snapshots_pkey":               "PRIMARY KEY (order_id)",
	"order_snapshots_version_check":      "CHECK ((version >= 1))",
}

func TestSchemaColumns(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	got := readColumns(t, pool)
	want := mergeColumns(seedColumns, addedColumns, snapshotColumns)

	for _, table := range slices.Sorted(maps.Keys(want)) {
		for _, name := range slices.Sorted(maps.Keys(want[table])) {
			g, ok := got[table][name]
			if !ok {
				t.Errorf("%s.%s: missing", table, name)
				continue
			}
			if w := want[table][name]; g != w {
				t.Errorf("%s.%s = %+v, want %+v", table, name, g, w)
			}
		}
	}
	for table, columns := range got {
		for name := range columns {
			if _, ok := want[table][name]; !ok {
				t.Errorf("%s.%s: not expected; add it to this test with its migration", table, name)
			}
		}
	}
}

func TestSchemaIndexes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	got := readNamedDefs(t, pool, `
		SELECT indexname, indexdef FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'`)
	compareDefs(t, "index", got, wantIndexes)
}

func TestSchemaConstraints(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	got := readNamedDefs(t, pool, `
		SELECT c.conname, pg_get_constraintdef(c.oid)
		FROM pg_constraint c
		JOIN pg_class r ON r.oid = c.conrelid
		WHERE r.relnamespace = current_schema()::regnamespace AND r.relname <> 'goose_db_version'`)
	compareDefs(t, "constraint", got, wantConstraints)
}

// The application maps exactly this error to its concurrency error, so the
// SQLSTATE and the constraint name are part of the schema's contract.
func TestOrderEventsRejectDuplicateVersion(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	ctx := t.Context()
	const aggregate = "7d3f0b8e-51b5-4a43-9f7e-0c1e9bd1c001"
	if err := insertEvent(ctx, pool, aggregate, 1); err != nil {
		t.Fatalf("first append: %v", err)
	}
	assertPgError(t, insertEvent(ctx, pool, aggregate, 1), "23505", "order_events_aggregate_version_key")
	assertPgError(t, insertEvent(ctx, pool, aggregate, 0), "23514", "order_events_version_check")
	if err := insertEvent(ctx, pool, aggregate, 2); err != nil {
		t.Fatalf("next version: %v", err)
	}
}

// transaction_id must name the transaction that wrote (and so commits) the row:
// rows of one transaction share it, another transaction's rows do not.
func TestTransactionIDRecordsCommittingTransaction(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	ctx := t.Context()

	firstXID := appendInTx(t, pool, "6a1c1a2e-35a8-4c55-8c4c-5d2b8f0e0001", 1, 2)
	secondXID := appendInTx(t, pool, "6a1c1a2e-35a8-4c55-8c4c-5d2b8f0e0002", 1)
	if firstXID == secondXID {
		t.Fatalf("two transactions report the same id %s", firstXID)
	}

	rows, err := pool.Query(ctx, `
		SELECT transaction_id::text FROM order_events ORDER BY position`)
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	want := []string{firstXID, firstXID, secondXID}
	if !slices.Equal(got, want) {
		t.Fatalf("transaction_id by position = %v, want %v", got, want)
	}
}

// The gap-free outbox (docs/ARCHITECTURE.md) rests on this: while an earlier
// transaction is open, rows of a later one that already committed are NOT
// below the snapshot xmin, so a relay reading "transaction_id < xmin" waits
// for the earlier one instead of skipping it.
func TestTransactionIDHoldsBackLaterCommitsWhileEarlierIsOpen(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewMigratedPool(t)
	ctx := t.Context()

	early, err := pool.Begin(ctx)
	if err != nil {
		t.Fatalf("begin early: %v", err)
	}
	defer func() { _ = early.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := early.Exec(ctx, insertEventSQL, "5b0c2f7a-9e1d-4d7b-8a51-6f3e2c1d0001", 1); err != nil {
		t.Fatalf("early append: %v", err)
	}
	appendInTx(t, pool, "5b0c2f7a-9e1d-4d7b-8a51-6f3e2c1d0002", 1) // the later one commits first

	if n := publishableEvents(t, pool); n != 0 {
		t.Fatalf("%d events publishable while an earlier transaction is open, want 0", n)
	}
	if err := early.Commit(ctx); err != nil {
		t.Fatalf("commit early: %v", err)
	}
	// xmin is cluster-wide: a transaction of another test database may still
	// hold it back for a moment, so wait for it with a deadline.
	waitForPublishable(t, pool, 2)
}

const insertEventSQL = `
	INSERT INTO order_events (id, aggregate_id, event_type, data, user_id, timestamp, version)
	VALUES (gen_random_uuid(), $1, 'OrderCreated', '{}', 'user-123', now(), $2)`

func insertEvent(ctx context.Context, pool *pgxpool.Pool, aggregate string, version int) error {
	_, err := pool.Exec(ctx, insertEventSQL, aggregate, version)
	return err
}

// appendInTx appends the given versions in one committed transaction and
// returns that transaction's id as PostgreSQL prints it.
func appendInTx(t *testing.T, pool *pgxpool.Pool, aggregate string, versions ...int) string {
	t.Helper()
	var xid string
	err := pgx.BeginFunc(t.Context(), pool, func(tx pgx.Tx) error {
		for _, v := range versions {
			if _, err := tx.Exec(t.Context(), insertEventSQL, aggregate, v); err != nil {
				return fmt.Errorf("append version %d: %w", v, err)
			}
		}
		return tx.QueryRow(t.Context(), `SELECT pg_current_xact_id()::text`).Scan(&xid)
	})
	if err != nil {
		t.Fatalf("append %s: %v", aggregate, err)
	}
	return xid
}

func publishableEvents(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pool.QueryRow(t.Context(), `
		SELECT count(*) FROM order_events
		WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())`).Scan(&n)
	if err != nil {
		t.Fatalf("count publishable events: %v", err)
	}
	return n
}

func waitForPublishable(t *testing.T, pool *pgxpool.Pool, want int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := publishableEvents(t, pool)
		if n == want {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("%d events publishable after both committed, want %d", n, want)
		case <-tick.C:
		}
	}
}

func assertPgError(t *testing.T, err error, code, constraint string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Fatalf("error = %v, want SQLSTATE %s on %s", err, code, constraint)
	}
	if pgErr.Code != code || pgErr.ConstraintName != constraint {
		t.Fatalf("error = SQLSTATE %s on %q, want %s on %q", pgErr.Code, pgErr.ConstraintName, code, constraint)
	}
}

func mergeColumns(parts ...map[string]map[string]column) map[string]map[string]column {
	out := map[string]map[string]column{}
	for _, part := range parts {
		for table, columns := range part {
			if out[table] == nil {
				out[table] = map[string]column{}
			}
			maps.Copy(out[table], columns)
		}
	}
	return out
}

func readColumns(t *testing.T, pool *pgxpool.Pool) map[string]map[string]column {
	t.Helper()
	rows, err := pool.Query(t.Context(), `
		SELECT table_name, column_name,
		       CASE
		         WHEN data_type IN ('character varying', 'character')
		           THEN format('%s(%s)', data_type, character_maximum_length)
		         WHEN data_type = 'numeric'
		           THEN format('numeric(%s,%s)', numeric_precision, numeric_scale)
		         ELSE data_type
		       END,
		       is_nullable = 'YES', coalesce(column_default, ''), is_identity = 'YES'
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)
	if err != nil {
		t.Fatalf("read columns: %v", err)
	}
	defer rows.Close()
	got := map[string]map[string]column{}
	for rows.Next() {
		var table, name string
		var c column
		if err := rows.Scan(&table, &name, &c.typ, &c.nullable, &c.def, &c.identity); err != nil {
			t.Fatalf("scan column: %v", err)
		}
		if got[table] == nil {
			got[table] = map[string]column{}
		}
		got[table][name] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read columns: %v", err)
	}
	return got
}

func readNamedDefs(t *testing.T, pool *pgxpool.Pool, query string) map[string]string {
	t.Helper()
	rows, err := pool.Query(t.Context(), query)
	if err != nil {
		t.Fatalf("read catalog: %v", err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatalf("scan catalog: %v", err)
		}
		got[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read catalog: %v", err)
	}
	return got
}

func compareDefs(t *testing.T, kind string, got, want map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[name]; !ok {
			t.Errorf("%s %s: missing", kind, name)
		} else if g != want[name] {
			t.Errorf("%s %s:\n got  %s\n want %s", kind, name, g, want[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok {
			t.Errorf("%s %s (%s): not expected; add it to this test with its migration", kind, name, got[name])
		}
	}
}
