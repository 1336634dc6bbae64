-- The embedded (SQLite) schema: the same tables and columns as the PostgreSQL
-- migrations 00001 (the README's seed schema) and 00002 (event store, outbox,
-- idempotency), adapted to SQLite's types. A SQLite database never predates this
-- code, so one migration creates everything; later changes are new files.
--
-- Types, and why:
--   UUIDs        BLOB of 16 bytes: SQLite compares BLOBs with memcmp, which is
--                PostgreSQL's uuid ordering, so keyset pages match across stores.
--   money        INTEGER minor units (cents): exact, never REAL. The CHECK bounds
--                are the seed's DECIMAL(10,2) range, 0 .. 99,999,999.99.
--   times        INTEGER microseconds since the Unix epoch, UTC: PostgreSQL's
--                timestamp precision, compared and sorted as plain integers.
--   booleans     INTEGER 0/1.
-- Every table is STRICT, so a value of the wrong type (a REAL amount, a TEXT
-- uuid) is refused instead of silently stored.
--
-- order_events
--   position     INTEGER PRIMARY KEY AUTOINCREMENT: the global append order.
--                Writers are serialised, so positions are handed out in commit
--                order and the outbox relay reads "position > checkpoint" with
--                no transaction-id column (PostgreSQL needs transaction_id for
--                that; SQLite does not). AUTOINCREMENT never reuses a committed
--                position, even if the newest row were ever deleted.
--   UNIQUE (aggregate_id, version)  the optimistic lock of last resort; its
--                index also serves the seed's lookups by aggregate_id, so
--                idx_order_events_aggregate_id is not created separately.
--   data         the event payload (protobuf JSON), checked to be JSON like
--                PostgreSQL's JSONB.
--
-- orders / order_items: the inline read model. The two keyset indexes make
--   idx_orders_user_id (a prefix of both) redundant. line_no keeps the client's
--   item order; UNIQUE (order_id, product_id) is one line per product and serves
--   lookups by order_id.
--
-- idempotency_keys, relay_checkpoints, relay_parked_events: as in PostgreSQL,
--   minus the transaction ids SQLite's serialised writer makes unnecessary.

-- +goose Up
CREATE TABLE orders (
  id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
  user_id TEXT NOT NULL,
  total_amount INTEGER NOT NULL CHECK (total_amount BETWEEN 0 AND 9999999999),
  status TEXT NOT NULL,
  shipping_address TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
  currency TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
  payment_amount INTEGER CHECK (payment_amount BETWEEN 0 AND 9999999999),
  payment_reference TEXT,
  paid_at INTEGER,
  carrier TEXT,
  tracking_number TEXT,
  shipped_at INTEGER,
  delivered_at INTEGER,
  cancel_reason TEXT,
  refund_due INTEGER NOT NULL DEFAULT 0 CHECK (refund_due IN (0, 1)),
  refund_amount INTEGER CHECK (refund_amount BETWEEN 0 AND 9999999999),
  cancelled_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX orders_user_created_idx
  ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_user_status_created_idx
  ON orders (user_id, status, created_at DESC, id DESC);

CREATE TABLE order_items (
  id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
  order_id BLOB NOT NULL REFERENCES orders (id),
  product_id TEXT NOT NULL,
  product_name TEXT NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity >= 1),
  unit_price INTEGER NOT NULL CHECK (unit_price BETWEEN 0 AND 9999999999),
  subtotal INTEGER NOT NULL CHECK (subtotal BETWEEN 0 AND 9999999999),
  line_no INTEGER NOT NULL DEFAULT 0,
  UNIQUE (order_id, product_id)
) STRICT;

CREATE TABLE order_events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
  aggregate_id BLOB NOT NULL CHECK (length(aggregate_id) = 16),
  event_type TEXT NOT NULL,
  data TEXT NOT NULL CHECK (json_valid(data)),
  user_id TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  schema_version INTEGER NOT NULL DEFAULT 1,
  request_id TEXT,
  correlation_id TEXT,
  causation_id TEXT,
  cell_id TEXT NOT NULL DEFAULT '',
  service_name TEXT NOT NULL DEFAULT '',
  trace_parent TEXT,
  UNIQUE (aggregate_id, version)
) STRICT;

CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  request_id TEXT NOT NULL,
  fingerprint BLOB NOT NULL,
  order_id BLOB NOT NULL CHECK (length(order_id) = 16),
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (scope, request_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE relay_checkpoints (
  relay_name TEXT NOT NULL PRIMARY KEY,
  position INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE relay_parked_events (
  event_id BLOB NOT NULL PRIMARY KEY CHECK (length(event_id) = 16),
  position INTEGER NOT NULL,
  reason TEXT NOT NULL,
  parked_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE relay_parked_events;
DROP TABLE relay_checkpoints;
DROP TABLE idempotency_keys;
DROP TABLE order_events;
DROP TABLE order_items;
DROP TABLE orders;
