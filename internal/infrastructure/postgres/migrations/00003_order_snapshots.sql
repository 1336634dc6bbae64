-- Snapshots: one rehydration point per order, so that loading a long order
-- reads its latest snapshot and the events after it instead of its whole
-- history. A new table only: nothing existing changes.
--
-- order_snapshots
--   order_id          one row per order: only the latest snapshot is kept.
--                     No foreign key: the row is written after the command's
--                     transaction committed, and the event log, not this
--                     table, is the system of record.
--   version           the version of the order's state the row holds; the
--                     loader checks the log has that event (never ahead).
--   snapshot_version  the schema of data. Rows of any schema other than the
--                     one the code reads are ignored and replaced by the next
--                     write, so bumping it needs no data migration.
--   data              the encoded state (protobuf JSON of order.v1.Order), as
--                     bytes: the store never parses it, the decoder checks it.
--   CHECK version >= 1  a snapshot holds at least the OrderCreated.

-- +goose Up
CREATE TABLE order_snapshots (
  order_id UUID PRIMARY KEY,
  version INT NOT NULL,
  snapshot_version INT NOT NULL,
  data BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CONSTRAINT order_snapshots_version_check CHECK (version >= 1)
);

-- +goose Down
DROP TABLE order_snapshots;
