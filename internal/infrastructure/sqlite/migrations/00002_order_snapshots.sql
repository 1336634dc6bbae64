-- Snapshots: the same order_snapshots table as PostgreSQL's migration 00003,
-- in this schema's types (UUID as a 16-byte BLOB, times as INTEGER
-- microseconds since the Unix epoch, UTC). One row per order, its latest
-- snapshot; no foreign key, because snapshots are written after the command's
-- transaction and the event log stays the system of record. data is the
-- encoded state (protobuf JSON of order.v1.Order) kept as bytes: the store
-- never parses it, the decoder checks it. snapshot_version is its schema:
-- rows of another schema are ignored and replaced by the next write.

-- +goose Up
CREATE TABLE order_snapshots (
  order_id BLOB NOT NULL PRIMARY KEY CHECK (length(order_id) = 16),
  version INTEGER NOT NULL CHECK (version >= 1),
  snapshot_version INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE order_snapshots;
