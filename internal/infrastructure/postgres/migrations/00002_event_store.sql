-- Event store, outbox relay and idempotency support. Additions only: no seed
-- column changes meaning, so anything written against the README keeps working.
--
-- order_events
--   position        global append order; with transaction_id it orders the outbox.
--   transaction_id  the appending (hence committing) transaction. The relay reads
--                   only rows below pg_snapshot_xmin(pg_current_snapshot()), so a
--                   late-committing transaction delays publishing but is never
--                   skipped (docs/ARCHITECTURE.md, "The gap-free outbox"). Rows that exist before this
--                   migration get the migration's own, committed, transaction id.
--   UNIQUE (aggregate_id, version)  the optimistic lock of last resort: a lost
--                   race is SQLSTATE 23505 on order_events_aggregate_version_key.
--   CHECK version >= 1  versions count events from 1; 0 would hide a bug.
--   schema_version .. trace_parent  event metadata the relay turns into
--                   CloudEvents headers and trace context without parsing data.
--   (transaction_id, position) index  the relay's ordered range scan.
--   No trigger: the append transaction calls pg_notify itself to wake the relay.
--
-- orders (the inline read model)
--   currency .. cancelled_at  state the later transitions need to answer queries
--                   without replaying events (CQRS read side).
--   user/created_at indexes  keyset pagination, newest first, per user and per
--                   user and status; id breaks ties between equal timestamps.
--
-- order_items
--   line_no         keeps the order the client sent the items in.
--   UNIQUE (order_id, product_id)  one line per product; its index also serves
--                   lookups by order_id, so no separate order_id index is added.
--
-- idempotency_keys
--   A retried request (same scope and request_id) gets the original response.
--   Only a reference (order_id, version) is stored: events are immutable, so
--   replaying the order up to that version rebuilds the exact response.
--   fingerprint detects a reused request_id with a different payload.
--   created_at index  expiry cleanup.
--
-- relay_checkpoints    where each relay resumes: (transaction_id, position).
-- relay_parked_events  events the broker rejected for good, kept out of the way
--                      of the events behind them and visible to operators.

-- +goose Up
ALTER TABLE order_events
  ADD COLUMN position BIGINT GENERATED ALWAYS AS IDENTITY,
  ADD COLUMN transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  ADD COLUMN schema_version INT NOT NULL DEFAULT 1,
  ADD COLUMN request_id TEXT,
  ADD COLUMN correlation_id TEXT,
  ADD COLUMN causation_id TEXT,
  ADD COLUMN cell_id TEXT NOT NULL DEFAULT '',
  ADD COLUMN service_name TEXT NOT NULL DEFAULT '',
  ADD COLUMN trace_parent TEXT,
  ADD CONSTRAINT order_events_aggregate_version_key UNIQUE (aggregate_id, version),
  ADD CONSTRAINT order_events_version_check CHECK (version >= 1);

CREATE INDEX order_events_transaction_position_idx
  ON order_events (transaction_id, position);

ALTER TABLE orders
  ADD COLUMN currency CHAR(3) NOT NULL DEFAULT 'USD',
  ADD COLUMN payment_amount DECIMAL(10,2),
  ADD COLUMN payment_reference TEXT,
  ADD COLUMN paid_at TIMESTAMP,
  ADD COLUMN carrier VARCHAR(100),
  ADD COLUMN tracking_number VARCHAR(100),
  ADD COLUMN shipped_at TIMESTAMP,
  ADD COLUMN delivered_at TIMESTAMP,
  ADD COLUMN cancel_reason TEXT,
  ADD COLUMN refund_due BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN refund_amount DECIMAL(10,2),
  ADD COLUMN cancelled_at TIMESTAMP;

CREATE INDEX orders_user_created_idx
  ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_user_status_created_idx
  ON orders (user_id, status, created_at DESC, id DESC);

ALTER TABLE order_items
  ADD COLUMN line_no INT NOT NULL DEFAULT 0,
  ADD CONSTRAINT order_items_order_product_key UNIQUE (order_id, product_id);

CREATE TABLE idempotency_keys (
  scope TEXT NOT NULL,
  request_id TEXT NOT NULL,
  fingerprint BYTEA NOT NULL,
  order_id UUID NOT NULL,
  version INT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, request_id)
);

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE relay_checkpoints (
  relay_name TEXT PRIMARY KEY,
  transaction_id xid8 NOT NULL,
  position BIGINT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE relay_parked_events (
  event_id UUID PRIMARY KEY,
  position BIGINT NOT NULL,
  reason TEXT NOT NULL,
  parked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE relay_parked_events;
DROP TABLE relay_checkpoints;
DROP TABLE idempotency_keys;

ALTER TABLE order_items
  DROP CONSTRAINT order_items_order_product_key,
  DROP COLUMN line_no;

DROP INDEX orders_user_status_created_idx;
DROP INDEX orders_user_created_idx;
ALTER TABLE orders
  DROP COLUMN cancelled_at,
  DROP COLUMN refund_amount,
  DROP COLUMN refund_due,
  DROP COLUMN cancel_reason,
  DROP COLUMN delivered_at,
  DROP COLUMN shipped_at,
  DROP COLUMN tracking_number,
  DROP COLUMN carrier,
  DROP COLUMN paid_at,
  DROP COLUMN payment_reference,
  DROP COLUMN payment_amount,
  DROP COLUMN currency;

DROP INDEX order_events_transaction_position_idx;
ALTER TABLE order_events
  DROP CONSTRAINT order_events_version_check,
  DROP CONSTRAINT order_events_aggregate_version_key,
  DROP COLUMN trace_parent,
  DROP COLUMN service_name,
  DROP COLUMN cell_id,
  DROP COLUMN causation_id,
  DROP COLUMN correlation_id,
  DROP COLUMN request_id,
  DROP COLUMN schema_version,
  DROP COLUMN transaction_id,
  DROP COLUMN position;
